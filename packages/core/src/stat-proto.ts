/**
 * Encoding and decoding of Knative's autoscaler messages, `pkg/autoscaler/metrics/stat.proto`:
 * `Stat` (queue-proxy `:9090/metrics`) and `WireStatMessages` (activator → autoscaler websocket).
 * Written by hand because the three messages are tiny and fixed: proto3, defaults omitted, doubles as
 * fixed64, `timestamp` as a varint int64 (a bigint, as it may exceed 2^53).
 */

/** `Stat`, field numbers 1–7 of stat.proto. */
export interface Stat {
  podName: string;
  averageConcurrentRequests: number;
  averageProxiedConcurrentRequests: number;
  requestCount: number;
  proxiedRequestCount: number;
  processUptime: number;
  timestamp: bigint;
}

/** `WireStatMessage`: a Stat for one revision. */
export interface WireStatMessage {
  namespace: string;
  name: string;
  stat: Stat | undefined;
}

/** Thrown when bytes are not a valid message. */
export class ProtoDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtoDecodeError';
  }
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });
const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

/** Returns a Stat with every field at its default. */
export function emptyStat(podName = ''): Stat {
  return {
    podName,
    averageConcurrentRequests: 0,
    averageProxiedConcurrentRequests: 0,
    requestCount: 0,
    proxiedRequestCount: 0,
    processUptime: 0,
    timestamp: 0n,
  };
}

class Writer {
  private buf = new Uint8Array(64);
  private view = new DataView(this.buf.buffer);
  pos = 0;

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n));
    next.set(this.buf);
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  varint(value: bigint): void {
    // Negative int64 values are encoded as their two's complement in ten bytes.
    let v = BigInt.asUintN(64, value);
    this.ensure(10);
    while (v > 0x7fn) {
      this.buf[this.pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.pos++] = Number(v);
  }

  tag(field: number, wire: number): void {
    this.varint(BigInt((field << 3) | wire));
  }

  double(field: number, value: number): void {
    if (value === 0) return;
    this.tag(field, WIRE_FIXED64);
    this.ensure(8);
    this.view.setFloat64(this.pos, value, true);
    this.pos += 8;
  }

  string(field: number, value: string): void {
    if (value === '') return;
    this.bytes(field, new TextEncoder().encode(value));
  }

  bytes(field: number, value: Uint8Array): void {
    this.tag(field, WIRE_LEN);
    this.varint(BigInt(value.length));
    this.ensure(value.length);
    this.buf.set(value, this.pos);
    this.pos += value.length;
  }

  int64(field: number, value: bigint): void {
    if (value === 0n) return;
    this.tag(field, WIRE_VARINT);
    this.varint(value);
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}

class Reader {
  pos = 0;
  private readonly view: DataView;

  constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  varint(): bigint {
    let result = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (this.pos >= this.buf.length) throw new ProtoDecodeError('truncated varint');
      const byte = this.buf[this.pos++]!;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return BigInt.asIntN(64, result);
    }
    throw new ProtoDecodeError('varint longer than 10 bytes');
  }

  double(): number {
    this.need(8);
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  bytes(): Uint8Array {
    const len = Number(this.varint());
    if (len < 0) throw new ProtoDecodeError('negative length');
    this.need(len);
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  string(): string {
    try {
      return UTF8.decode(this.bytes());
    } catch (err) {
      if (err instanceof ProtoDecodeError) throw err;
      throw new ProtoDecodeError('string field is not valid UTF-8');
    }
  }

  skip(wire: number): void {
    switch (wire) {
      case WIRE_VARINT:
        this.varint();
        return;
      case WIRE_FIXED64:
        this.need(8);
        this.pos += 8;
        return;
      case WIRE_LEN:
        this.bytes();
        return;
      case WIRE_FIXED32:
        this.need(4);
        this.pos += 4;
        return;
      default:
        throw new ProtoDecodeError(`unsupported wire type ${wire}`);
    }
  }

  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new ProtoDecodeError('truncated message');
  }
}

function writeStat(w: Writer, stat: Stat): void {
  w.string(1, stat.podName);
  w.double(2, stat.averageConcurrentRequests);
  w.double(3, stat.averageProxiedConcurrentRequests);
  w.double(4, stat.requestCount);
  w.double(5, stat.proxiedRequestCount);
  w.double(6, stat.processUptime);
  w.int64(7, stat.timestamp);
}

/** Encodes a `Stat`. */
export function encodeStat(stat: Stat): Uint8Array {
  const w = new Writer();
  writeStat(w, stat);
  return w.finish();
}

function expectWire(actual: number, expected: number, field: string): void {
  if (actual !== expected) throw new ProtoDecodeError(`field ${field} has wire type ${actual}`);
}

/** Decodes a `Stat`; unknown fields are skipped. Throws {@link ProtoDecodeError} on malformed bytes. */
export function decodeStat(bytes: Uint8Array): Stat {
  const r = new Reader(bytes);
  const stat = emptyStat();
  while (!r.done) {
    const key = Number(r.varint());
    const field = key >>> 3;
    const wire = key & 7;
    switch (field) {
      case 1:
        expectWire(wire, WIRE_LEN, 'pod_name');
        stat.podName = r.string();
        break;
      case 2:
        expectWire(wire, WIRE_FIXED64, 'average_concurrent_requests');
        stat.averageConcurrentRequests = r.double();
        break;
      case 3:
        expectWire(wire, WIRE_FIXED64, 'average_proxied_concurrent_requests');
        stat.averageProxiedConcurrentRequests = r.double();
        break;
      case 4:
        expectWire(wire, WIRE_FIXED64, 'request_count');
        stat.requestCount = r.double();
        break;
      case 5:
        expectWire(wire, WIRE_FIXED64, 'proxied_request_count');
        stat.proxiedRequestCount = r.double();
        break;
      case 6:
        expectWire(wire, WIRE_FIXED64, 'process_uptime');
        stat.processUptime = r.double();
        break;
      case 7:
        expectWire(wire, WIRE_VARINT, 'timestamp');
        stat.timestamp = r.varint();
        break;
      default:
        if (field === 0) throw new ProtoDecodeError('field number 0');
        r.skip(wire);
    }
  }
  return stat;
}

/** Encodes `WireStatMessages { repeated WireStatMessage messages = 1 }`. */
export function encodeWireStatMessages(messages: readonly WireStatMessage[]): Uint8Array {
  const outer = new Writer();
  for (const m of messages) {
    const inner = new Writer();
    inner.string(1, m.namespace);
    inner.string(2, m.name);
    if (m.stat) {
      const stat = new Writer();
      writeStat(stat, m.stat);
      inner.bytes(3, stat.finish());
    }
    outer.bytes(1, inner.finish());
  }
  return outer.finish();
}

function decodeWireStatMessage(bytes: Uint8Array): WireStatMessage {
  const r = new Reader(bytes);
  const msg: WireStatMessage = { namespace: '', name: '', stat: undefined };
  while (!r.done) {
    const key = Number(r.varint());
    const field = key >>> 3;
    const wire = key & 7;
    if (field === 1) {
      expectWire(wire, WIRE_LEN, 'namespace');
      msg.namespace = r.string();
    } else if (field === 2) {
      expectWire(wire, WIRE_LEN, 'name');
      msg.name = r.string();
    } else if (field === 3) {
      expectWire(wire, WIRE_LEN, 'stat');
      msg.stat = decodeStat(r.bytes());
    } else if (field === 0) {
      throw new ProtoDecodeError('field number 0');
    } else {
      r.skip(wire);
    }
  }
  return msg;
}

/** Decodes `WireStatMessages`. Throws {@link ProtoDecodeError} on malformed bytes. */
export function decodeWireStatMessages(bytes: Uint8Array): WireStatMessage[] {
  const r = new Reader(bytes);
  const out: WireStatMessage[] = [];
  while (!r.done) {
    const key = Number(r.varint());
    const field = key >>> 3;
    const wire = key & 7;
    if (field === 1) {
      expectWire(wire, WIRE_LEN, 'messages');
      out.push(decodeWireStatMessage(r.bytes()));
    } else if (field === 0) {
      throw new ProtoDecodeError('field number 0');
    } else {
      r.skip(wire);
    }
  }
  return out;
}

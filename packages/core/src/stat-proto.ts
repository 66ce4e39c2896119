/**
 * Encoding and decoding of Knative's autoscaler messages, `pkg/autoscaler/metrics/stat.proto`:
 * `Stat` (queue-proxy `:9090/metrics`) and `WireStatMessages` (activator → autoscaler websocket).
 * Written by hand because the three messages are tiny and fixed: proto3, defaults omitted, doubles as
 * fixed64, `timestamp` as a varint int64 (a bigint, as it may exceed 2^53).
 */

import {
  ProtoDecodeError,
  ProtoReader,
  ProtoWriter,
  WIRE_FIXED64,
  WIRE_LEN,
  WIRE_VARINT,
} from './proto-wire.js';

/** The error every decoder here throws, defined with the wire format it belongs to. */
export { ProtoDecodeError };

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

function writeStat(w: ProtoWriter, stat: Stat): void {
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
  const w = new ProtoWriter();
  writeStat(w, stat);
  return w.finish();
}

function expectWire(actual: number, expected: number, field: string): void {
  if (actual !== expected) throw new ProtoDecodeError(`field ${field} has wire type ${actual}`);
}

/** Decodes a `Stat`; unknown fields are skipped. Throws {@link ProtoDecodeError} on malformed bytes. */
export function decodeStat(bytes: Uint8Array): Stat {
  const r = new ProtoReader(bytes);
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
  const outer = new ProtoWriter();
  for (const m of messages) {
    const inner = new ProtoWriter();
    inner.string(1, m.namespace);
    inner.string(2, m.name);
    if (m.stat) {
      const stat = new ProtoWriter();
      writeStat(stat, m.stat);
      inner.bytes(3, stat.finish());
    }
    outer.bytes(1, inner.finish());
  }
  return outer.finish();
}

function decodeWireStatMessage(bytes: Uint8Array): WireStatMessage {
  const r = new ProtoReader(bytes);
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
  const r = new ProtoReader(bytes);
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

/**
 * The protobuf wire format, written by hand: a writer and a reader of tagged fields, shared by every
 * message the project speaks (the autoscaler's `Stat` in stat-proto.ts, grpc.health.v1 in the
 * queue-proxy's readiness probe). Small and dependency-free because the messages are tiny and fixed.
 */

/** Thrown when bytes are not a valid message. */
export class ProtoDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtoDecodeError';
  }
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });
/** Wire type of varint fields (int32, int64, uint*, bool, enum). */
export const WIRE_VARINT = 0;
/** Wire type of 8-byte fields (fixed64, sfixed64, double). */
export const WIRE_FIXED64 = 1;
/** Wire type of length-delimited fields (string, bytes, embedded messages, packed repeats). */
export const WIRE_LEN = 2;
/** Wire type of 4-byte fields (fixed32, sfixed32, float). */
export const WIRE_FIXED32 = 5;

/**
 * Writes protobuf fields into a growing buffer. Scalars at their proto3 default (0, '') are omitted, as
 * proto3 encoders do; `bytes` always writes, so an empty embedded message stays present.
 */
export class ProtoWriter {
  private buf = new Uint8Array(64);
  private view = new DataView(this.buf.buffer);
  /** Bytes written so far. */
  pos = 0;

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n));
    next.set(this.buf);
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  /** Appends a bare varint (no tag); negative values take ten bytes. */
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

  /** Appends a field key: the field number and its wire type. */
  tag(field: number, wire: number): void {
    this.varint(BigInt((field << 3) | wire));
  }

  /** Appends a `double` field (fixed64, little-endian) unless it is 0. */
  double(field: number, value: number): void {
    if (value === 0) return;
    this.tag(field, WIRE_FIXED64);
    this.ensure(8);
    this.view.setFloat64(this.pos, value, true);
    this.pos += 8;
  }

  /** Appends a `fixed64` field (little-endian) unless it is 0: OTLP's timestamps in nanoseconds. */
  fixed64(field: number, value: bigint): void {
    if (value === 0n) return;
    this.tag(field, WIRE_FIXED64);
    this.ensure(8);
    this.view.setBigUint64(this.pos, BigInt.asUintN(64, value), true);
    this.pos += 8;
  }

  /** Appends a `string` field as UTF-8 unless it is empty. */
  string(field: number, value: string): void {
    if (value === '') return;
    this.bytes(field, new TextEncoder().encode(value));
  }

  /** Appends a length-delimited field (bytes or an embedded message), even an empty one. */
  bytes(field: number, value: Uint8Array): void {
    this.tag(field, WIRE_LEN);
    this.varint(BigInt(value.length));
    this.ensure(value.length);
    this.buf.set(value, this.pos);
    this.pos += value.length;
  }

  /** Appends an `int64` (or enum) varint field unless it is 0. */
  int64(field: number, value: bigint): void {
    if (value === 0n) return;
    this.tag(field, WIRE_VARINT);
    this.varint(value);
  }

  /** Returns a copy of the bytes written so far. */
  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}

/**
 * Reads protobuf fields from a buffer, in order. Every read checks the bounds and throws
 * {@link ProtoDecodeError} on truncated or malformed input; varints come back as signed 64-bit bigints.
 */
export class ProtoReader {
  /** Offset of the next byte to read. */
  pos = 0;
  private readonly view: DataView;

  constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  /** True once every byte has been read. */
  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  /** Reads a varint as a signed 64-bit value. */
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

  /** Reads a fixed64 little-endian double. */
  double(): number {
    this.need(8);
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /** Reads a fixed64 little-endian unsigned integer. */
  fixed64(): bigint {
    this.need(8);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /** Reads a length-delimited value; the result is a view into the input, not a copy. */
  bytes(): Uint8Array {
    const len = Number(this.varint());
    if (len < 0) throw new ProtoDecodeError('negative length');
    this.need(len);
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  /** Reads a length-delimited value as strict UTF-8. */
  string(): string {
    try {
      return UTF8.decode(this.bytes());
    } catch (err) {
      if (err instanceof ProtoDecodeError) throw err;
      throw new ProtoDecodeError('string field is not valid UTF-8');
    }
  }

  /** Skips the value of a field of wire type `wire` (groups are not supported). */
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

import { describe, expect, it } from 'vitest';
import {
  ProtoDecodeError,
  ProtoReader,
  ProtoWriter,
  WIRE_FIXED32,
  WIRE_FIXED64,
  WIRE_LEN,
  WIRE_VARINT,
} from './proto-wire.js';

describe('ProtoWriter', () => {
  it('writes tags, varints and length-delimited fields as the protobuf encoding spells them', () => {
    const w = new ProtoWriter();
    // The example of the protobuf encoding guide: field 1 = 150, then field 2 = "testing".
    w.int64(1, 150n);
    w.string(2, 'testing');
    expect([...w.finish()]).toEqual([0x08, 0x96, 0x01, 0x12, 0x07, 0x74, 0x65, 0x73, 0x74, 0x69, 0x6e, 0x67]);
  });

  it('omits proto3 defaults but keeps an empty embedded message', () => {
    const w = new ProtoWriter();
    w.int64(1, 0n);
    w.string(2, '');
    w.double(3, 0);
    expect(w.finish()).toHaveLength(0);
    w.bytes(4, new Uint8Array(0));
    expect([...w.finish()]).toEqual([0x22, 0x00]);
  });

  it('writes a negative varint in ten bytes', () => {
    const w = new ProtoWriter();
    w.varint(-1n);
    expect([...w.finish()]).toEqual([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
  });
});

describe('ProtoReader', () => {
  it('reads back what the writer wrote', () => {
    const w = new ProtoWriter();
    w.int64(1, -5n);
    w.string(2, 'héllo');
    w.double(3, 2.5);
    const r = new ProtoReader(w.finish());
    expect(r.varint()).toBe(BigInt((1 << 3) | WIRE_VARINT));
    expect(r.varint()).toBe(-5n);
    expect(r.varint()).toBe(BigInt((2 << 3) | WIRE_LEN));
    expect(r.string()).toBe('héllo');
    expect(r.varint()).toBe(BigInt((3 << 3) | WIRE_FIXED64));
    expect(r.double()).toBe(2.5);
    expect(r.done).toBe(true);
  });

  it('skips a value of every supported wire type', () => {
    const r = new ProtoReader(
      Uint8Array.from([0x96, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 0x02, 0xaa, 0xbb, 1, 2, 3, 4, 0x2a]),
    );
    r.skip(WIRE_VARINT);
    r.skip(WIRE_FIXED64);
    r.skip(WIRE_LEN);
    r.skip(WIRE_FIXED32);
    expect(r.varint()).toBe(42n);
    expect(r.done).toBe(true);
  });

  it.each([
    ['a truncated varint', [0x96], (r: ProtoReader) => r.varint()],
    ['a varint longer than ten bytes', Array(11).fill(0x80), (r: ProtoReader) => r.varint()],
    ['a length past the end', [0x05, 0x61], (r: ProtoReader) => r.bytes()],
    ['a truncated fixed64', [1, 2, 3], (r: ProtoReader) => r.skip(WIRE_FIXED64)],
    ['a group (wire type 3)', [], (r: ProtoReader) => r.skip(3)],
    ['invalid UTF-8', [0x01, 0xff], (r: ProtoReader) => r.string()],
  ])('throws ProtoDecodeError on %s', (_name, input, read) => {
    expect(() => read(new ProtoReader(Uint8Array.from(input)))).toThrow(ProtoDecodeError);
  });
});

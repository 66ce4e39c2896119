import { describe, expect, it } from 'vitest';
import { grpcFrame, readGrpcFrame } from './grpc-frame.js';

describe('grpcFrame', () => {
  it('prefixes the message with an uncompressed flag and its big-endian length', () => {
    expect([...grpcFrame(Uint8Array.from([0x08, 0x01]))]).toEqual([0, 0, 0, 0, 2, 0x08, 0x01]);
    expect([...grpcFrame(new Uint8Array(0))]).toEqual([0, 0, 0, 0, 0]);
  });
});

describe('readGrpcFrame', () => {
  it('returns the message of the first frame, ignoring what follows', () => {
    const body = Buffer.concat([grpcFrame(Uint8Array.from([1, 2])), grpcFrame(Uint8Array.from([3]))]);
    expect([...readGrpcFrame(body)]).toEqual([1, 2]);
  });

  it.each([
    ['no whole prefix', [0, 0, 0], /no message/],
    ['a truncated message', [0, 0, 0, 0, 3, 1], /truncated message/],
    ['a compressed message', [1, 0, 0, 0, 1, 1], /compressed/],
  ])('refuses %s', (_name, bytes, message) => {
    expect(() => readGrpcFrame(Buffer.from(bytes))).toThrow(message);
  });
});

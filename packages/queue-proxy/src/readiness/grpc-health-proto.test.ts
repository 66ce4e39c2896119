import { ProtoDecodeError } from '@zerogate/core';
import { describe, expect, it } from 'vitest';
import {
  decodeHealthCheckResponse,
  encodeHealthCheckRequest,
  SERVING_STATUS_SERVING,
} from './grpc-health-proto.js';

describe('encodeHealthCheckRequest', () => {
  it('writes the service as field 1 and the whole server as no bytes', () => {
    expect([...encodeHealthCheckRequest('up')]).toEqual([0x0a, 0x02, 0x75, 0x70]);
    expect(encodeHealthCheckRequest('')).toHaveLength(0);
  });

  it('writes the UTF-8 byte length of a non-ASCII service name', () => {
    expect([...encodeHealthCheckRequest('é')]).toEqual([0x0a, 0x02, 0xc3, 0xa9]);
  });
});

describe('decodeHealthCheckResponse', () => {
  it('reads the status and skips unknown fields of every wire type', () => {
    expect(decodeHealthCheckResponse(Uint8Array.from([0x08, 0x01]))).toBe(SERVING_STATUS_SERVING);
    const withUnknown = [0x12, 0x01, 0x41, 0x19, 1, 2, 3, 4, 5, 6, 7, 8, 0x25, 1, 2, 3, 4, 0x30, 0x07];
    expect(decodeHealthCheckResponse(Uint8Array.from([...withUnknown, 0x08, 0x02]))).toBe(2);
  });

  it('gives UNKNOWN (0) for an empty message, as proto3 omits defaults', () => {
    expect(decodeHealthCheckResponse(new Uint8Array(0))).toBe(0);
  });

  it('ignores a field 1 of another wire type', () => {
    expect(decodeHealthCheckResponse(Uint8Array.from([0x0a, 0x01, 0x01]))).toBe(0);
  });

  it.each([
    ['a truncated varint', [0x08, 0x81]],
    ['a truncated length-delimited field', [0x12, 0x05, 0x41]],
    ['a truncated fixed64', [0x19, 1, 2]],
    ['a group', [0x0b]],
  ])('throws ProtoDecodeError naming the gRPC health response on %s', (_name, bytes) => {
    expect(() => decodeHealthCheckResponse(Uint8Array.from(bytes))).toThrow(ProtoDecodeError);
    expect(() => decodeHealthCheckResponse(Uint8Array.from(bytes))).toThrow(
      /^malformed gRPC health response: /,
    );
  });
});

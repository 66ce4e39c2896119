import { describe, expect, it } from 'vitest';
import {
  decodeStat,
  decodeWireStatMessages,
  emptyStat,
  encodeStat,
  encodeWireStatMessages,
  ProtoDecodeError,
  type Stat,
  type WireStatMessage,
} from './stat-proto.js';

/** Bytes from a list of numbers and byte arrays, so expected encodings read like the wire. */
function bytes(...parts: (number | readonly number[])[]): Uint8Array {
  return Uint8Array.from(parts.flat());
}

// Little-endian IEEE 754 doubles, written out by hand.
const D_1 = [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x3f];
const D_0_5 = [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xe0, 0x3f];
const D_2 = [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40];
const D_3 = [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x40];
const D_1_5 = [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf8, 0x3f];
const D_MINUS_2 = [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0];

const ALL_FIELDS: Stat = {
  podName: 'pod-1',
  averageConcurrentRequests: 1,
  averageProxiedConcurrentRequests: 0.5,
  requestCount: 2,
  proxiedRequestCount: 3,
  processUptime: 1.5,
  timestamp: 300n,
};

const ALL_FIELDS_BYTES = bytes(
  [0x0a, 0x05, 0x70, 0x6f, 0x64, 0x2d, 0x31], // 1: pod_name "pod-1"
  0x11,
  D_1, // 2: average_concurrent_requests
  0x19,
  D_0_5, // 3: average_proxied_concurrent_requests
  0x21,
  D_2, // 4: request_count
  0x29,
  D_3, // 5: proxied_request_count
  0x31,
  D_1_5, // 6: process_uptime
  [0x38, 0xac, 0x02], // 7: timestamp 300
);

describe('encodeStat', () => {
  it('writes every field with its tag, doubles little-endian and the timestamp as a varint', () => {
    expect(encodeStat(ALL_FIELDS)).toEqual(ALL_FIELDS_BYTES);
  });

  it('omits fields at their zero value', () => {
    const stat: Stat = { ...emptyStat('p'), requestCount: 2, processUptime: -2 };
    expect(encodeStat(stat)).toEqual(bytes([0x0a, 0x01, 0x70], 0x21, D_2, 0x31, D_MINUS_2));
  });

  it('encodes an all-default Stat as no bytes', () => {
    expect(encodeStat(emptyStat())).toEqual(new Uint8Array(0));
  });

  it('writes a pod name only message for the period before the first report', () => {
    expect(encodeStat(emptyStat('ab'))).toEqual(bytes(0x0a, 0x02, 0x61, 0x62));
  });

  it('writes the UTF-8 byte length of a non-ASCII pod name', () => {
    expect(encodeStat(emptyStat('pö'))).toEqual(bytes(0x0a, 0x03, 0x70, 0xc3, 0xb6));
  });

  it('grows past its initial buffer and writes a two-byte length', () => {
    const podName = 'x'.repeat(200);
    const encoded = encodeStat({ ...ALL_FIELDS, podName });
    expect(Array.from(encoded.subarray(0, 3))).toEqual([0x0a, 0xc8, 0x01]);
    expect(encoded).toHaveLength(3 + 200 + ALL_FIELDS_BYTES.length - 7);
    expect(decodeStat(encoded)).toEqual({ ...ALL_FIELDS, podName });
  });

  it.each([
    [1n, [0x01]],
    [127n, [0x7f]],
    [128n, [0x80, 0x01]],
    [2n ** 60n + 1n, [0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10]],
    [2n ** 63n - 1n, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]],
    [-1n, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]],
    [-2n, [0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]],
    [-(2n ** 63n), [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]],
  ])('encodes timestamp %s as int64 varint bytes %o', (timestamp, varint) => {
    const encoded = encodeStat({ ...emptyStat(), timestamp });
    expect(encoded).toEqual(bytes(0x38, varint));
    expect(decodeStat(encoded).timestamp).toBe(timestamp);
  });
});

describe('decodeStat', () => {
  it('reads the hand-written bytes back', () => {
    expect(decodeStat(ALL_FIELDS_BYTES)).toEqual(ALL_FIELDS);
  });

  it('round-trips Stats, timestamps above 2^53 and negative ones included', () => {
    const stats: Stat[] = [
      ALL_FIELDS,
      emptyStat(),
      emptyStat('only-a-name'),
      { ...ALL_FIELDS, podName: 'päd-ü-名', timestamp: 2n ** 53n + 1n },
      { ...ALL_FIELDS, timestamp: 9_007_199_254_740_993n },
      { ...ALL_FIELDS, timestamp: -1_700_000_000_000_000_000n },
      { ...ALL_FIELDS, averageConcurrentRequests: 0.1 + 0.2, processUptime: 1e300, requestCount: 5e-324 },
    ];
    for (const stat of stats) expect(decodeStat(encodeStat(stat))).toEqual(stat);
  });

  it('gives every missing field its default', () => {
    expect(decodeStat(new Uint8Array(0))).toEqual(emptyStat());
    expect(decodeStat(bytes(0x21, D_2))).toEqual({ ...emptyStat(), requestCount: 2 });
  });

  it('reads a Stat from a view into a larger buffer', () => {
    const backing = new Uint8Array(ALL_FIELDS_BYTES.length + 7);
    backing.set(ALL_FIELDS_BYTES, 3);
    expect(decodeStat(backing.subarray(3, 3 + ALL_FIELDS_BYTES.length))).toEqual(ALL_FIELDS);
  });

  it('skips unknown fields of every wire type', () => {
    const withUnknown = bytes(
      [0x40, 0x96, 0x01], // 8: varint 150
      [0x0a, 0x01, 0x70], // 1: pod_name "p"
      [0x4d, 0x01, 0x02, 0x03, 0x04], // 9: fixed32
      [0x52, 0x02, 0x68, 0x69], // 10: bytes "hi"
      [0x59, 1, 2, 3, 4, 5, 6, 7, 8], // 11: fixed64
      0x21,
      D_2, // 4: request_count
      [0xa0, 0x06, 0x2a], // 100: varint 42
    );
    expect(decodeStat(withUnknown)).toEqual({ ...emptyStat('p'), requestCount: 2 });
  });

  it('keeps the last value of a repeated scalar field, as protobuf does', () => {
    expect(decodeStat(bytes(0x21, D_1, 0x21, D_2)).requestCount).toBe(2);
  });

  it('throws ProtoDecodeError for every truncation that does not end on a field boundary', () => {
    const boundaries = new Set([0, 7, 16, 25, 34, 43, 52, 55]);
    expect(ALL_FIELDS_BYTES).toHaveLength(55);
    for (let end = 0; end <= ALL_FIELDS_BYTES.length; end++) {
      const prefix = ALL_FIELDS_BYTES.subarray(0, end);
      if (boundaries.has(end)) expect(() => decodeStat(prefix)).not.toThrow();
      else expect(() => decodeStat(prefix), `prefix of ${end} bytes`).toThrow(ProtoDecodeError);
    }
  });

  it.each([
    ['a key cut inside its varint', [0x80]],
    ['a timestamp cut inside its varint', [0x38, 0xac]],
    [
      'a varint longer than ten bytes',
      [0x38, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
    ],
    ['a string longer than the message', [0x0a, 0x05, 0x61]],
    ['a double cut short', [0x11, 0x00, 0x00, 0x00]],
    ['field number 0', [0x00, 0x01]],
    ['pod_name with the varint wire type', [0x08, 0x01]],
    ['a double field with the varint wire type', [0x10, 0x01]],
    ['timestamp with the fixed64 wire type', [0x39, 1, 2, 3, 4, 5, 6, 7, 8]],
    ['a known field with wire type 7', [0x0f]],
    ['an unknown field with the deprecated group wire type', [0x43, 0x44]],
    ['an unknown field with wire type 6', [0x46]],
    ['an unknown fixed32 cut short', [0x4d, 0x01]],
    ['an unknown length-delimited field longer than the message', [0x52, 0x10, 0x00]],
  ])('throws ProtoDecodeError for %s', (_name, input) => {
    expect(() => decodeStat(bytes(input))).toThrow(ProtoDecodeError);
  });

  it('throws ProtoDecodeError for a pod_name that is not valid UTF-8', () => {
    expect(() => decodeStat(bytes(0x0a, 0x01, 0xff))).toThrow(ProtoDecodeError);
  });

  it('names the error class', () => {
    const err = (() => {
      try {
        decodeStat(bytes(0x80));
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).name).toBe('ProtoDecodeError');
  });
});

describe('WireStatMessages', () => {
  const small: WireStatMessage[] = [
    { namespace: 'ns', name: 'r', stat: { ...emptyStat('p'), requestCount: 1 } },
    { namespace: 'a', name: '', stat: undefined },
  ];
  const smallBytes = bytes(
    [0x0a, 0x15], // messages[0], 21 bytes
    [0x0a, 0x02, 0x6e, 0x73], // namespace "ns"
    [0x12, 0x01, 0x72], // name "r"
    [0x1a, 0x0c], // stat, 12 bytes
    [0x0a, 0x01, 0x70], // pod_name "p"
    0x21,
    D_1, // request_count 1
    [0x0a, 0x03], // messages[1], 3 bytes
    [0x0a, 0x01, 0x61], // namespace "a"
  );

  it('encodes two messages to the hand-computed bytes', () => {
    expect(encodeWireStatMessages(small)).toEqual(smallBytes);
  });

  it('decodes the hand-computed bytes', () => {
    expect(decodeWireStatMessages(smallBytes)).toEqual(small);
  });

  it('round-trips two full messages', () => {
    const messages: WireStatMessage[] = [
      { namespace: 'default', name: 'hello-00001', stat: ALL_FIELDS },
      {
        namespace: 'other',
        name: 'world-00002',
        stat: { ...ALL_FIELDS, podName: 'world-pod', timestamp: -(2n ** 62n), requestCount: 12.25 },
      },
    ];
    expect(decodeWireStatMessages(encodeWireStatMessages(messages))).toEqual(messages);
  });

  it('keeps an empty but present stat distinct from a missing one', () => {
    const messages: WireStatMessage[] = [{ namespace: 'n', name: 'r', stat: emptyStat() }];
    const encoded = encodeWireStatMessages(messages);
    expect(encoded).toEqual(bytes(0x0a, 0x08, 0x0a, 0x01, 0x6e, 0x12, 0x01, 0x72, 0x1a, 0x00));
    expect(decodeWireStatMessages(encoded)).toEqual(messages);
  });

  it('encodes an empty list as no bytes and an all-default message as an empty element', () => {
    expect(encodeWireStatMessages([])).toEqual(new Uint8Array(0));
    expect(decodeWireStatMessages(new Uint8Array(0))).toEqual([]);
    const blank: WireStatMessage = { namespace: '', name: '', stat: undefined };
    expect(encodeWireStatMessages([blank])).toEqual(bytes(0x0a, 0x00));
    expect(decodeWireStatMessages(bytes(0x0a, 0x00))).toEqual([blank]);
  });

  it('skips unknown fields at both levels', () => {
    const withUnknown = bytes(
      [0x10, 0x07], // outer field 2: varint
      [0x0a, 0x08], // messages[0], 8 bytes
      [0x0a, 0x01, 0x61], // namespace "a"
      [0x20, 0x01], // inner field 4: varint
      [0x12, 0x01, 0x62], // name "b"
    );
    expect(decodeWireStatMessages(withUnknown)).toEqual([{ namespace: 'a', name: 'b', stat: undefined }]);
  });

  it.each([
    ['a message cut short', [0x0a, 0x05, 0x0a]],
    ['messages with the varint wire type', [0x08, 0x01]],
    ['field number 0 in the list', [0x00]],
    ['field number 0 in a message', [0x0a, 0x01, 0x00]],
    ['namespace with the wrong wire type', [0x0a, 0x02, 0x08, 0x01]],
    ['a malformed nested stat', [0x0a, 0x03, 0x1a, 0x01, 0x80]],
  ])('throws ProtoDecodeError for %s', (_name, input) => {
    expect(() => decodeWireStatMessages(bytes(input))).toThrow(ProtoDecodeError);
  });
});

import { describe, expect, it } from 'vitest';
import { ChunkedDecoder } from './chunked-decoder.js';
import {
  FAILED,
  FLAG_CHUNKED,
  FLAG_CONNECTION_CLOSE,
  FLAG_TRANSFER_ENCODING,
  NEED_MORE,
} from './head-scanner.js';
import { VERDICTS } from './parse-verdict.js';

const HEAD_FLAGS = FLAG_CHUNKED | FLAG_TRANSFER_ENCODING;

/** Runs `text` through a decoder in the given pieces; returns the end offset in the last piece and the payload. */
function decode(pieces: string[], options: ConstructorParameters<typeof ChunkedDecoder>[0] = {}) {
  const ranges: Array<[Buffer, number, number]> = [];
  const decoder = new ChunkedDecoder({ ...options, onData: (c, s, e) => ranges.push([c, s, e]) });
  let end = NEED_MORE;
  const buffers = pieces.map((p) => Buffer.from(p, 'latin1'));
  for (const buf of buffers) {
    end = decoder.execute(buf);
    if (end !== NEED_MORE) break;
  }
  const payload = ranges.map(([c, s, e]) => c.toString('latin1', s, e)).join('');
  return { decoder, end, payload, ranges, buffers };
}

describe('ChunkedDecoder', () => {
  it('finds the end of the body and reports payload ranges of the given buffers without copying', () => {
    const body = '5\r\nhello\r\n6;name=value;q="a\\"b"\r\n world\r\n0\r\n\r\n';
    const { end, payload, ranges, buffers } = decode([`${body}NEXT`]);
    expect(end).toBe(body.length);
    expect(payload).toBe('hello world');
    for (const [chunk] of ranges) expect(chunk).toBe(buffers[0]);
  });

  it('gives the same payload and end for every split point', () => {
    const body = 'a;x\r\n0123456789\r\n1\r\n!\r\n0\r\nT: v\r\n\r\n';
    for (let cut = 1; cut < body.length; cut++) {
      const { end, payload } = decode([body.slice(0, cut), `${body.slice(cut)}rest`]);
      expect(payload, `cut at ${cut}`).toBe('0123456789!');
      expect(end, `cut at ${cut}`).toBe(body.length - cut);
    }
  });

  it('returns the trailers and the flags they add (a trailer may say Connection: close)', () => {
    const { decoder, end } = decode(['0\r\nExpires: never\r\nConnection: close\r\n\r\n']);
    expect(end).toBeGreaterThan(0);
    expect(decoder.rawTrailers).toEqual(['Expires', 'never', 'Connection', 'close']);
    expect(decoder.flags & FLAG_CONNECTION_CLOSE).not.toBe(0);
  });

  it('accepts sizes up to 2^64-1 and leading zeros', () => {
    expect(decode(['ffffffffffffffff\r\n']).end).toBe(NEED_MORE);
    expect(decode(['00000000000000000005\r\nhello\r\n0\r\n\r\n']).payload).toBe('hello');
  });

  const refusals: Array<[string, string, keyof typeof VERDICTS]> = [
    ['a size that overflows 64 bits', '10000000000000000\r\n', 'INVALID_CHUNK_SIZE'],
    ['a non-hex size', 'g\r\n', 'INVALID_CHUNK_SIZE'],
    ['a 0x prefix', '0x5\r\nhello\r\n', 'INVALID_CHUNK_SIZE'],
    ['a negative size', '-1\r\n', 'INVALID_CHUNK_SIZE'],
    ['a space before the size', ' 5\r\nhello\r\n', 'INVALID_CHUNK_SIZE'],
    ['a space after the size', '5 \r\nhello\r\n', 'INVALID_CHUNK_SIZE'],
    ['a tab after the size', '5\t\r\nhello\r\n', 'INVALID_CHUNK_SIZE'],
    ['a bare LF after the size', '5\nhello\r\n', 'INVALID_CHUNK_SIZE'],
    ['a CR without LF after the size', '5\rhello\r\n', 'INVALID_LINE_ENDING'],
    ['a missing CRLF after the data', '5\r\nhelloXX0\r\n\r\n', 'INVALID_CHUNK_DATA_END'],
    ['a bare LF after the data', '5\r\nhello\n0\r\n\r\n', 'INVALID_CHUNK_DATA_END'],
    ['a space in an extension', '5;a b\r\nhello\r\n', 'INVALID_CHUNK_EXTENSION'],
    ['a space before an extension', '5; a\r\nhello\r\n', 'INVALID_CHUNK_EXTENSION'],
    ['an unterminated quoted extension', '5;a="b\r\nhello\r\n', 'INVALID_CHUNK_EXTENSION'],
    ['extensions above 16 KiB', `1;${'e'.repeat(16385)}\r\na\r\n`, 'CHUNK_EXTENSIONS_TOO_LARGE'],
    ['a Content-Length trailer', '0\r\nContent-Length: 5\r\n\r\n', 'INVALID_CONTENT_LENGTH'],
    ['a folded trailer', '0\r\nA: b\r\n c\r\n\r\n', 'OBS_FOLD'],
    ['a trailer with a bad name', '0\r\nA B: c\r\n\r\n', 'INVALID_HEADER_NAME'],
    ['trailers reaching 16 KiB', `0\r\nT: ${'v'.repeat(16383)}\r\n\r\n`, 'HEAD_TOO_LARGE'],
  ];
  for (const [name, text, code] of refusals) {
    it(`refuses ${name} (${code}), in one piece and byte by byte`, () => {
      const whole = decode([text]);
      expect(whole.end).toBe(FAILED);
      expect(whole.decoder.verdict).toBe(VERDICTS[code]);
      expect(decode([...text]).decoder.verdict).toBe(VERDICTS[code]);
    });
  }

  it('counts extensions per chunk: 16 KiB in each of two chunks is fine', () => {
    const ext = 'e'.repeat(16384);
    expect(decode([`1;${ext}\r\na\r\n1;${ext}\r\nb\r\n0\r\n\r\n`]).payload).toBe('ab');
  });

  it('takes its limits from the options and checks them', () => {
    expect(decode(['1;abc\r\na\r\n0\r\n\r\n'], { maxExtensionsSize: 2 }).decoder.verdict).toBe(
      VERDICTS.CHUNK_EXTENSIONS_TOO_LARGE,
    );
    expect(decode(['0\r\nT: vv\r\n\r\n'], { maxTrailerSize: 3 }).decoder.verdict).toBe(
      VERDICTS.HEAD_TOO_LARGE,
    );
    expect(() => new ChunkedDecoder({ maxTrailerSize: 0 })).toThrow(/maxTrailerSize/);
    expect(() => new ChunkedDecoder({ maxExtensionsSize: -1 })).toThrow(/maxExtensionsSize/);
  });

  it('checks trailers against the head: a second Transfer-Encoding is refused in requests only', () => {
    const text = '0\r\nTransfer-Encoding: gzip\r\n\r\n';
    expect(decode([text]).decoder.verdict).toBe(VERDICTS.INVALID_TRANSFER_ENCODING);
    expect(decode([text], { request: false }).end).toBe(text.length);
  });

  it('is reused with reset', () => {
    const decoder = new ChunkedDecoder();
    expect(decoder.execute(Buffer.from('0\r\n\r\n'))).toBe(5);
    expect(() => decoder.execute(Buffer.from('0'))).toThrow(/reset/);
    decoder.reset(HEAD_FLAGS);
    expect(decoder.execute(Buffer.from('1\r\nx\r\n0\r\n\r\n'))).toBe(11);
  });
});

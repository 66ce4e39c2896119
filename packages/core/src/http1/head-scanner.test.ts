import http from 'node:http';
import { describe, expect, it } from 'vitest';
import { HEADER_VALUE, TOKEN, URL_CHAR } from './char-classes.js';
import {
  FAILED,
  FLAG_CHUNKED,
  FLAG_CONTENT_LENGTH,
  FLAG_TRANSFER_ENCODING,
  HeadScanner,
  MODE_REQUEST,
  MODE_REQUEST_TRAILERS,
  NEED_MORE,
} from './head-scanner.js';
import { VERDICTS } from './parse-verdict.js';

describe('HeadScanner', () => {
  it('in a trailer mode starts at the first field line and checks fields against the seeded flags', () => {
    const scanner = new HeadScanner(MODE_REQUEST_TRAILERS, 16384, 1000);
    scanner.reset(FLAG_CHUNKED | FLAG_TRANSFER_ENCODING);
    expect(scanner.execute(Buffer.from('X-Sum: 1\r\n\r\n'))).toBe(12);
    expect(scanner.rawHeaders).toEqual(['X-Sum', '1']);
    scanner.reset(FLAG_CHUNKED | FLAG_TRANSFER_ENCODING);
    expect(scanner.execute(Buffer.from('Content-Length: 1\r\n\r\n'))).toBe(FAILED);
    expect(scanner.verdict).toBe(VERDICTS.INVALID_CONTENT_LENGTH);
  });

  it('counts an open span at the end of every piece, as llparse flushes spans per buffer', () => {
    const scanner = new HeadScanner(MODE_REQUEST, 20, 1000);
    // Target 1 + "Host" 4 + 15 value bytes = 20 reached inside the value, before its line ends.
    expect(scanner.execute(Buffer.from('GET / HTTP/1.1\r\nHost: 012345678901234'))).toBe(FAILED);
    expect(scanner.verdict).toBe(VERDICTS.HEAD_TOO_LARGE);
  });

  it('sets Content-Length only once the value line ends, and refuses use after completion', () => {
    const scanner = new HeadScanner(MODE_REQUEST, 16384, 1000);
    expect(scanner.execute(Buffer.from('POST / HTTP/1.1\r\nContent-Length: 12'))).toBe(NEED_MORE);
    expect(scanner.flags & FLAG_CONTENT_LENGTH).toBe(0);
    expect(scanner.execute(Buffer.from('3\r\n\r\n'))).toBe(5);
    expect(scanner.contentLength).toBe(123);
    expect(scanner.flags & FLAG_CONTENT_LENGTH).not.toBe(0);
    expect(() => scanner.execute(Buffer.from('x'))).toThrow(/reset/);
  });
});

describe('char classes and verdicts', () => {
  it('tokens are RFC 9110 tchar, values refuse controls but HTAB, targets refuse # ? and obs-text', () => {
    for (const c of "!#$%&'*+-.^_`|~aZ09") expect(TOKEN[c.charCodeAt(0)], c).toBe(1);
    for (const c of '"(),/:;<=>?@[\\]{} \t') expect(TOKEN[c.charCodeAt(0)], c).toBe(0);
    expect([0x00, 0x0a, 0x0d, 0x1f, 0x7f].map((b) => HEADER_VALUE[b])).toEqual([0, 0, 0, 0, 0]);
    expect([0x09, 0x20, 0x7e, 0x80, 0xff].map((b) => HEADER_VALUE[b])).toEqual([1, 1, 1, 1, 1]);
    expect([0x23, 0x3f, 0x80, 0x09, 0x20].map((b) => URL_CHAR[b])).toEqual([0, 0, 0, 0, 0]);
  });

  it('each verdict is named by its code and answers a status node:http uses', () => {
    for (const [key, v] of Object.entries(VERDICTS)) {
      expect(v.code).toBe(key);
      expect(http.STATUS_CODES[v.status]).toBeDefined();
    }
  });
});

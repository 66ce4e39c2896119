import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAILED, NEED_MORE } from './head-scanner.js';
import { VERDICTS } from './parse-verdict.js';
import { RequestHeadParser } from './request-head-parser.js';

const H = 'Host: example.com\r\n';

function parse(text: string, parser = new RequestHeadParser()): RequestHeadParser & { end: number } {
  const end = parser.execute(Buffer.from(text, 'latin1'));
  return Object.assign(parser, { end });
}

describe('RequestHeadParser', () => {
  it('parses a typical head and precomputes the facts a relay needs', () => {
    const text =
      `POST /api/v1/items?x=1 HTTP/1.1\r\n${H}Content-Length: 5\r\nConnection: keep-alive\r\n` +
      'Expect: 100-continue\r\nX-Trailing:  spaced \t \r\n\r\nhello';
    const p = parse(text);
    expect(p.end).toBe(text.length - 5);
    expect(p.head).toMatchObject({
      method: 'POST',
      target: '/api/v1/items?x=1',
      versionMajor: 1,
      versionMinor: 1,
      rawHeaders: [
        'Host',
        'example.com',
        'Content-Length',
        '5',
        'Connection',
        'keep-alive',
        'Expect',
        '100-continue',
        'X-Trailing',
        'spaced',
      ],
      contentLength: 5,
      chunked: false,
      connectionKeepAlive: true,
      connectionClose: false,
      expectContinue: true,
      host: 'example.com',
      keepAlive: true,
      upgrade: false,
      body: 'length',
    });
  });

  it('gives the same head and body offset for every split point of the input', () => {
    const text = `GET /a?b#c HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\nConnection: close, x\r\n\r\nBODY`;
    const whole = parse(text);
    const bytes = Buffer.from(text, 'latin1');
    for (let cut = 1; cut < bytes.length - 4; cut++) {
      for (const second of [cut + 1, bytes.length]) {
        const parser = new RequestHeadParser();
        const pieces = [bytes.subarray(0, cut), bytes.subarray(cut, second), bytes.subarray(second)];
        let offset = 0;
        let end = NEED_MORE;
        for (const piece of pieces) {
          end = parser.execute(piece);
          if (end !== NEED_MORE) break;
          offset += piece.length;
        }
        expect(offset + end, `cut at ${cut}/${second}`).toBe(whole.end);
        expect(parser.head).toEqual(whole.head);
      }
    }
    expect(whole.head).toMatchObject({
      chunked: true,
      connectionClose: true,
      keepAlive: false,
      body: 'chunked',
    });
  });

  it('starts at an offset and skips blank lines between pipelined requests, as llhttp does', () => {
    const buf = Buffer.from(`xx\r\n\r\nGET /2 HTTP/1.1\r\n${H}\r\n`, 'latin1');
    const parser = new RequestHeadParser();
    expect(parser.execute(buf, 2)).toBe(buf.length);
    expect(parser.head!.target).toBe('/2');
  });

  it('reads afresh a Buffer the caller refills between calls', () => {
    let text = `GET /abc HTTP/1.1\r\nHost: x\r\nX-A: one\r\nX-B: two\r\n\r\n`;
    text = text.replace('two', `two${'.'.repeat(16 - (text.length % 16))}`);
    const window = Buffer.alloc(16);
    const parser = new RequestHeadParser();
    let r = NEED_MORE;
    for (let i = 0; i < text.length && r === NEED_MORE; i += 16) {
      window.write(text.slice(i, i + 16), 'latin1');
      r = parser.execute(window);
    }
    expect(r).toBe(16);
    const padded = text.split('\r\n')[3]!.slice('X-B: '.length);
    expect(padded).toMatch(/^two\.+$/);
    expect(parser.head!.rawHeaders).toEqual(['Host', 'x', 'X-A', 'one', 'X-B', padded]);
  });

  it('is reused with reset, and refuses to run on without it', () => {
    const parser = new RequestHeadParser();
    parse(`GET /1 HTTP/1.1\r\n${H}\r\n`, parser);
    expect(() => parser.execute(Buffer.from('GET'))).toThrow(/reset/);
    parser.reset();
    expect(parse(`GET /2 HTTP/1.1\r\n${H}\r\n`, parser).head!.target).toBe('/2');
  });

  it('decides keep-alive as llhttp: HTTP/1.0 needs keep-alive, HTTP/1.1 stops at close', () => {
    expect(parse('GET / HTTP/1.0\r\n\r\n').head!.keepAlive).toBe(false);
    expect(parse('GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n').head!.keepAlive).toBe(true);
    expect(parse(`GET / HTTP/1.1\r\n${H}Proxy-Connection: close\r\n\r\n`).head!.keepAlive).toBe(false);
    expect(parse(`GET / HTTP/1.1\r\n${H}Connection: closed\r\n\r\n`).head!.keepAlive).toBe(true);
  });

  it('flags upgrades (Upgrade with Connection: upgrade, or CONNECT) and skips the Host check for them', () => {
    const ws = parse('GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\r\n');
    expect(ws.end).toBeGreaterThan(0);
    expect(ws.head).toMatchObject({
      upgrade: true,
      upgradeHeader: true,
      connectionUpgrade: true,
      body: 'upgrade',
    });
    expect(parse('CONNECT example.com:443 HTTP/1.1\r\n\r\n').head).toMatchObject({
      upgrade: true,
      target: 'example.com:443',
    });
    expect(parse(`GET / HTTP/1.1\r\n${H}Upgrade: websocket\r\n\r\n`).head!.upgrade).toBe(false);
  });

  it('accepts what node accepts beyond HTTP/1.x (0.9 request lines, HTTP/2.0, RTSP) and reports the version', () => {
    expect(parse(`GET /\r\n${H}\r\n`).head).toMatchObject({ versionMajor: 0, versionMinor: 9 });
    expect(parse('GET / HTTP/2.0\r\n\r\n').head).toMatchObject({ versionMajor: 2, versionMinor: 0 });
    expect(parse('GET / RTSP/1.0\r\n\r\n').head).toMatchObject({ protocol: 'RTSP' });
  });

  it('takes the maximum head size from its options and checks them', () => {
    const small = new RequestHeadParser({ maxHeadSize: 64 });
    expect(parse(`GET /${'a'.repeat(60)} HTTP/1.1\r\n${H}\r\n`, small).verdict).toBe(VERDICTS.HEAD_TOO_LARGE);
    expect(() => new RequestHeadParser({ maxHeadSize: 0 })).toThrow(/maxHeadSize/);
    expect(() => new RequestHeadParser({ maxHeaderCount: -1 })).toThrow(/maxHeaderCount/);
  });

  it('counts the head as node does: target, names and values, refused once the sum reaches the limit', () => {
    // 1 (target) + 4 + 11 (Host) = 16, plus X (1) and the value.
    const at = (n: number): string => `GET / HTTP/1.1\r\n${H}X: ${'v'.repeat(n)}\r\n\r\n`;
    expect(parse(at(16384 - 18)).end).toBeGreaterThan(0);
    expect(parse(at(16384 - 17)).verdict).toBe(VERDICTS.HEAD_TOO_LARGE);
    // Unfinished heads are refused as soon as the count reaches the limit, without waiting for the end.
    expect(parse(`GET / HTTP/1.1\r\n${H}X: ${'v'.repeat(20000)}`).verdict).toBe(VERDICTS.HEAD_TOO_LARGE);
    // Whitespace outside fields is not counted (node neither): the scanner keeps no copy of it.
    expect(parse(`GET /${' '.repeat(100_000)}HTTP/1.1\r\n${H}\r\n`).end).toBeGreaterThan(0);
  });

  it('refuses the 1001st header field, as node:http does by default', () => {
    expect(parse(`GET / HTTP/1.1\r\n${H}${'X: y\r\n'.repeat(999)}\r\n`).end).toBeGreaterThan(0);
    expect(parse(`GET / HTTP/1.1\r\n${H}${'X: y\r\n'.repeat(1000)}\r\n`).verdict).toBe(
      VERDICTS.HEAD_TOO_LARGE,
    );
    const unlimited = new RequestHeadParser({ maxHeaderCount: 0 });
    expect(parse(`GET / HTTP/1.1\r\n${H}${'X: y\r\n'.repeat(1500)}\r\n`, unlimited).end).toBeGreaterThan(0);
  });
});

/** The smuggling catalogue and other refusals: each with the verdict and the status node:http answers. */
const CATALOGUE: Array<[name: string, text: string, verdict: keyof typeof VERDICTS]> = [
  [
    'CL then TE',
    `POST / HTTP/1.1\r\n${H}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n`,
    'INVALID_TRANSFER_ENCODING',
  ],
  [
    'TE then CL',
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n`,
    'INVALID_CONTENT_LENGTH',
  ],
  [
    'duplicate equal CL',
    `POST / HTTP/1.1\r\n${H}Content-Length: 4\r\nContent-Length: 4\r\n\r\n`,
    'DUPLICATE_CONTENT_LENGTH',
  ],
  [
    'duplicate differing CL',
    `POST / HTTP/1.1\r\n${H}Content-Length: 4\r\nContent-Length: 5\r\n\r\n`,
    'DUPLICATE_CONTENT_LENGTH',
  ],
  ['CL list', `POST / HTTP/1.1\r\n${H}Content-Length: 4, 4\r\n\r\n`, 'INVALID_CONTENT_LENGTH'],
  ['CL with sign', `POST / HTTP/1.1\r\n${H}Content-Length: +4\r\n\r\n`, 'INVALID_CONTENT_LENGTH'],
  ['empty CL', `POST / HTTP/1.1\r\n${H}Content-Length:\r\n\r\n`, 'INVALID_CONTENT_LENGTH'],
  [
    'CL above 2^64-1',
    `POST / HTTP/1.1\r\n${H}Content-Length: 18446744073709551616\r\n\r\n`,
    'INVALID_CONTENT_LENGTH',
  ],
  [
    'TE last coding not chunked',
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip\r\n\r\n`,
    'INVALID_TRANSFER_ENCODING',
  ],
  [
    'TE chunked then gzip',
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, gzip\r\n\r\n`,
    'INVALID_TRANSFER_ENCODING',
  ],
  [
    'TE twice chunked',
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n`,
    'INVALID_TRANSFER_ENCODING',
  ],
  [
    'TE chunked with tab after',
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\t\r\n\r\n`,
    'INVALID_TRANSFER_ENCODING',
  ],
  ['empty TE', `POST / HTTP/1.1\r\n${H}Transfer-Encoding:\r\n\r\n`, 'INVALID_TRANSFER_ENCODING'],
  ['space before colon', `POST / HTTP/1.1\r\n${H}Transfer-Encoding : chunked\r\n\r\n`, 'INVALID_HEADER_NAME'],
  ['obs-fold', `GET / HTTP/1.1\r\n${H}X-Folded: a\r\n b\r\n\r\n`, 'OBS_FOLD'],
  ['obs-fold of TE', `POST / HTTP/1.1\r\n${H}Transfer-Encoding:\r\n chunked\r\n\r\n`, 'OBS_FOLD'],
  ['space before the first header', `GET / HTTP/1.1\r\n ${H}\r\n`, 'OBS_FOLD'],
  ['bare LF line endings', `GET / HTTP/1.1\n${H}\n`, 'INVALID_VERSION'],
  ['bare LF after a value', `GET / HTTP/1.1\r\nHost: a\nX: 1\r\n\r\n`, 'INVALID_LINE_ENDING'],
  ['CR without LF', `GET / HTTP/1.1\r\nHost: a\rX: 1\r\n\r\n`, 'INVALID_LINE_ENDING'],
  ['unknown method', `FOO / HTTP/1.1\r\n${H}\r\n`, 'INVALID_METHOD'],
  ['lower-case method', `get / HTTP/1.1\r\n${H}\r\n`, 'INVALID_METHOD'],
  ['RTSP method over HTTP', `DESCRIBE / HTTP/1.1\r\n${H}\r\n`, 'INVALID_METHOD'],
  ['space in a header name', `GET / HTTP/1.1\r\n${H}Bad Name: x\r\n\r\n`, 'INVALID_HEADER_NAME'],
  ['separator in a header name', `GET / HTTP/1.1\r\n${H}Bad@Name: x\r\n\r\n`, 'INVALID_HEADER_NAME'],
  ['empty header name', `GET / HTTP/1.1\r\n${H}: x\r\n\r\n`, 'INVALID_HEADER_NAME'],
  ['NUL in a header value', `GET / HTTP/1.1\r\n${H}X: a\u0000b\r\n\r\n`, 'INVALID_HEADER_VALUE'],
  ['DEL in a header value', `GET / HTTP/1.1\r\n${H}X: a\u007fb\r\n\r\n`, 'INVALID_HEADER_VALUE'],
  ['NUL in the target', `GET /a\u0000b HTTP/1.1\r\n${H}\r\n`, 'INVALID_TARGET'],
  ['HTAB in the target', `GET /a\tb HTTP/1.1\r\n${H}\r\n`, 'INVALID_TARGET'],
  ['obs-text in the target', `GET /caf\u00e9 HTTP/1.1\r\n${H}\r\n`, 'INVALID_TARGET'],
  ['relative target', `GET a HTTP/1.1\r\n${H}\r\n`, 'INVALID_TARGET'],
  ['HTTP/1.2', `GET / HTTP/1.2\r\n${H}\r\n`, 'INVALID_VERSION'],
  ['HTTP/10.1', `GET / HTTP/10.1\r\n${H}\r\n`, 'INVALID_VERSION'],
  ['space after the version', `GET / HTTP/1.1 \r\n${H}\r\n`, 'INVALID_VERSION'],
  ['HTTP/2 preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'H2_PREFACE'],
  ['missing Host', 'GET / HTTP/1.1\r\n\r\n', 'MISSING_HOST'],
  ['Expect other than 100-continue', `GET / HTTP/1.1\r\n${H}Expect: x\r\n\r\n`, 'EXPECTATION_FAILED'],
  ['oversized head', `GET / HTTP/1.1\r\n${H}X: ${'v'.repeat(16400)}\r\n\r\n`, 'HEAD_TOO_LARGE'],
  ['too many fields', `GET / HTTP/1.1\r\n${H}${'X: y\r\n'.repeat(1000)}\r\n`, 'HEAD_TOO_LARGE'],
];

describe('RequestHeadParser smuggling catalogue, against a real node:http server', () => {
  let server: http.Server;
  let port: number;

  beforeAll(async () => {
    // Answers a tick later, as a proxy does: node delivers a request with a non-chunked Transfer-Encoding
    // to the handler and then refuses it; a handler that answered synchronously would hide the 400.
    server = http.createServer((_req, res) => setImmediate(() => res.end('ok')));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  /** The status line node:http answers for `text` on a fresh connection. */
  async function nodeAnswer(text: string): Promise<string> {
    const socket = net.connect(port, '127.0.0.1');
    let received = '';
    socket.on('data', (d: Buffer) => {
      received += d.toString('latin1');
    });
    socket.write(Buffer.from(text, 'latin1'));
    await new Promise<void>((resolve) => {
      socket.on('close', () => resolve());
      socket.on('error', () => resolve());
      // A request node accepts is answered 200 with keep-alive; end our side so it closes.
      socket.on('data', () => {
        if (received.includes('\r\n\r\n')) socket.end();
      });
    });
    return received.split('\r\n')[0]!;
  }

  for (const [name, text, code] of CATALOGUE) {
    it(`refuses ${name} with ${code}, the status node answers`, async () => {
      const parser = parse(text);
      expect(parser.end).toBe(FAILED);
      expect(parser.verdict).toBe(VERDICTS[code]);
      const status = parser.verdict!.status;
      expect(await nodeAnswer(text)).toBe(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}`);
    });
  }

  it('refuses byte by byte exactly as in one piece', () => {
    for (const [name, text, code] of CATALOGUE) {
      const parser = new RequestHeadParser();
      let r = NEED_MORE;
      for (const b of Buffer.from(text, 'latin1')) {
        r = parser.execute(Buffer.from([b]));
        if (r !== NEED_MORE) break;
      }
      expect(parser.verdict, name).toBe(VERDICTS[code]);
    }
  });
});

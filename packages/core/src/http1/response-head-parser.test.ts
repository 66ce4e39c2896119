import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChunkedDecoder } from './chunked-decoder.js';
import { FAILED, NEED_MORE } from './head-scanner.js';
import { VERDICTS } from './parse-verdict.js';
import { ResponseHeadParser } from './response-head-parser.js';

function parse(text: string, headRequest = false): ResponseHeadParser & { end: number } {
  const parser = new ResponseHeadParser();
  parser.reset(headRequest);
  return Object.assign(parser, { end: parser.execute(Buffer.from(text, 'latin1')) });
}

describe('ResponseHeadParser', () => {
  it('parses the status line, headers and framing facts', () => {
    const text = 'HTTP/1.1 201 Created\r\nContent-Length: 2\r\nX-A: b \r\n\r\nok';
    const p = parse(text);
    expect(p.end).toBe(text.length - 2);
    expect(p.head).toMatchObject({
      statusCode: 201,
      statusText: 'Created',
      rawHeaders: ['Content-Length', '2', 'X-A', 'b'],
      contentLength: 2,
      body: 'length',
      keepAlive: true,
    });
  });

  it('frames bodies as RFC 9112 says: HEAD, 1xx, 204 and 304 have none; chunked; until close; length', () => {
    expect(parse('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n', true).head!.body).toBe('none');
    expect(parse('HTTP/1.1 100 Continue\r\n\r\n').head!.body).toBe('none');
    expect(parse('HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n').head!.body).toBe('none');
    expect(parse('HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n').head!.body).toBe('none');
    expect(parse('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n').head!.body).toBe('chunked');
    const gzip = parse('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n').head!;
    expect(gzip).toMatchObject({ body: 'eof', keepAlive: false });
    expect(parse('HTTP/1.1 200 OK\r\n\r\n').head).toMatchObject({ body: 'eof', keepAlive: false });
    expect(parse('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n').head).toMatchObject({
      body: 'none',
      keepAlive: true,
    });
    expect(parse('HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n').head!.keepAlive).toBe(false);
    const switching = parse(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n',
    );
    expect(switching.head).toMatchObject({ upgrade: true, body: 'upgrade' });
  });

  it('refuses malformed status lines and the smuggling shapes of requests', () => {
    expect(parse('HTTP/1.1 20 OK\r\n\r\n').verdict).toBe(VERDICTS.INVALID_STATUS);
    expect(parse('HTTP/1.1 2000 OK\r\n\r\n').verdict).toBe(VERDICTS.INVALID_STATUS);
    expect(parse('HTTP/1.1 2/0 OK\r\n\r\n').verdict).toBe(VERDICTS.INVALID_STATUS);
    expect(parse('HTTP/1.1 2:0 OK\r\n\r\n').verdict).toBe(VERDICTS.INVALID_STATUS);
    expect(parse('HTTP/1.1 200 OK\n\r\n').verdict).toBe(VERDICTS.INVALID_LINE_ENDING);
    expect(parse('HTTP/1.3 200 OK\r\n\r\n').verdict).toBe(VERDICTS.INVALID_VERSION);
    expect(parse('HTTX/1.1 200 OK\r\n\r\n').verdict).toBe(VERDICTS.INVALID_VERSION);
    const both = 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n';
    expect(parse(both).verdict).toBe(VERDICTS.INVALID_TRANSFER_ENCODING);
    expect(parse('HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n').verdict).toBe(
      VERDICTS.DUPLICATE_CONTENT_LENGTH,
    );
    expect(parse('HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n').verdict).toBe(VERDICTS.OBS_FOLD);
    expect(parse(`HTTP/1.1 200 ${'x'.repeat(16384)}\r\n\r\n`).verdict).toBe(VERDICTS.HEAD_TOO_LARGE);
  });

  it('accepts a reason phrase with any byte but CR and LF, and an empty one', () => {
    expect(parse('HTTP/1.1 200 \u0000\u00ff ok\r\n\r\n').head!.statusText).toBe('\u0000\u00ff ok');
    expect(parse('HTTP/1.1 200 \r\n\r\n').head!.statusText).toBe('');
    expect(parse('HTTP/1.1 200\r\n\r\n').head!.statusCode).toBe(200);
  });

  it('gives the same head for every split point', () => {
    const text = 'HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n';
    const whole = parse(text);
    const bytes = Buffer.from(text, 'latin1');
    for (let cut = 1; cut < bytes.length; cut++) {
      const parser = new ResponseHeadParser();
      expect(parser.execute(bytes.subarray(0, cut))).toBe(NEED_MORE);
      expect(parser.execute(bytes.subarray(cut))).toBe(bytes.length - cut);
      expect(parser.head).toEqual(whole.head);
    }
  });
});

/** Responses compared with node:http's client, which uses the same llhttp in response mode. */
const RESPONSES = [
  'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello',
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n0\r\nX-T: 1\r\n\r\n',
  'HTTP/1.1 200 OK\r\n\r\nuntil close',
  'HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok',
  'HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n',
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nraw until close',
  'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello',
  'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n',
  'HTTP/1.1 200 OK\r\nX: a\u0001b\r\n\r\n',
  'HTTP/1.1 200 OK\r\nBad Name: a\r\n\r\n',
  'HTTP/1.1 99 OK\r\n\r\n',
  'HTTP/1.1 2000 OK\r\n\r\n',
  'HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n',
  'HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n',
  'HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX: a\r\n b\r\n\r\n',
  `HTTP/1.1 200 OK\r\nX: ${'v'.repeat(16400)}\r\n\r\n`,
  'ICE/1.0 200 OK\r\nContent-Length: 0\r\n\r\n',
];

describe('ResponseHeadParser against node:http client', () => {
  let server: net.Server;
  let port: number;
  const toSend: string[] = [];

  beforeAll(async () => {
    server = net.createServer((socket) => {
      socket.on('error', () => {});
      socket.once('data', () => socket.end(Buffer.from(toSend.shift()!, 'latin1')));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  async function nodeClient(text: string): Promise<unknown> {
    toSend.push(text);
    return await new Promise((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, agent: false }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => {
          body += d.toString('latin1');
        });
        res.on('end', () => resolve({ status: res.statusCode, rawHeaders: res.rawHeaders, body }));
        res.on('error', () => resolve({ refused: true }));
      });
      req.on('error', (err: NodeJS.ErrnoException) => resolve({ refused: err.code?.startsWith('HPE_') }));
    });
  }

  function ours(text: string): unknown {
    const bytes = Buffer.from(text, 'latin1');
    const parser = new ResponseHeadParser();
    const end = parser.execute(bytes);
    if (end === FAILED) return { refused: true };
    const h = parser.head!;
    let body = '';
    if (h.body === 'length') body = bytes.toString('latin1', end, end + h.contentLength);
    else if (h.body === 'eof') body = bytes.toString('latin1', end);
    else if (h.body === 'chunked') {
      const decoder = new ChunkedDecoder({
        request: false,
        onData: (c, s, e) => {
          body += c.toString('latin1', s, e);
        },
      });
      // A bad body fails the whole response: node reports it as an error of the request.
      if (decoder.execute(bytes, end) < 0) return { refused: true };
    }
    return { status: h.statusCode, rawHeaders: h.rawHeaders, body };
  }

  for (const text of RESPONSES) {
    it(`agrees on ${JSON.stringify(text.slice(0, 60))}`, async () => {
      expect(ours(text)).toEqual(await nodeClient(text));
    });
  }
});

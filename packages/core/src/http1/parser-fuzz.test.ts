/**
 * Differential fuzz test: for thousands of seeded valid, smuggling and mutated requests, the verdicts of
 * RequestHeadParser and ChunkedDecoder must equal node:http's own, message by message: accepted requests
 * with the same method, target, version, raw headers and body bytes, refusals with the same status.
 * node:http is driven in-process: its public `connection` event with a Duplex we feed (no sockets).
 */
import http from 'node:http';
import { Duplex } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { ChunkedDecoder } from './chunked-decoder.js';
import { FAILED, FLAG_CONNECTION_CLOSE, FLAG_CONNECTION_KEEP_ALIVE, NEED_MORE } from './head-scanner.js';
import { RequestHeadParser } from './request-head-parser.js';
import { ResponseHeadParser } from './response-head-parser.js';

// Fixed so every run checks the same cases; HTTP1_FUZZ_SEED and HTTP1_FUZZ_CASES explore others or replay.
const SEED = Number(process.env.HTTP1_FUZZ_SEED ?? 0x5eed_2026);
const CASES = Number(process.env.HTTP1_FUZZ_CASES ?? 3000);

/** What one side made of one message on the connection. */
type Outcome =
  | {
      type: 'request' | 'upgrade';
      method: string;
      url: string;
      version: string;
      rawHeaders: string[];
      body: string;
      /** Trailer fields of a complete chunked body, as node's `req.rawTrailers`. */
      trailers: string[];
      complete: boolean;
    }
  | { type: 'refuse'; status: number; code: string };

// ---------------------------------------------------------------------------------------------------
// node:http as the oracle.

let events: Outcome[] = [];

/** Records the answers node's server gives by itself (missing Host: 400; bad Expect: 417). */
class RecordingResponse extends http.ServerResponse {
  override writeHead(statusCode: number, ...rest: unknown[]): this {
    events.push({ type: 'refuse', status: statusCode, code: 'node-server' });
    return super.writeHead(statusCode, ...(rest as []));
  }
}

const server = http.createServer({ ServerResponse: RecordingResponse as typeof http.ServerResponse });

function record(type: 'request' | 'upgrade', req: http.IncomingMessage): void {
  const o: Outcome = {
    type,
    method: req.method ?? '',
    url: req.url ?? '',
    version: req.httpVersion,
    rawHeaders: req.rawHeaders,
    body: '',
    trailers: [],
    complete: type === 'upgrade',
  };
  events.push(o);
  if (type === 'request') {
    req.on('data', (c: Buffer) => {
      o.body += c.toString('latin1');
    });
    req.on('end', () => {
      o.complete = true;
      o.trailers = req.rawTrailers;
    });
  }
}
server.on('request', (req: http.IncomingMessage) => record('request', req));
server.on('upgrade', (req: http.IncomingMessage, socket: Duplex) => {
  record('upgrade', req);
  socket.destroy();
});
server.on('connect', (req: http.IncomingMessage, socket: Duplex) => {
  record('upgrade', req);
  socket.destroy();
});
// node's default clientError handler answers 431 for HPE_HEADER_OVERFLOW, 413 for
// HPE_CHUNK_EXTENSIONS_OVERFLOW and 400 for every other parse error (checked in request-head-parser.test.ts).
server.on('clientError', (err: NodeJS.ErrnoException & { reason?: string }, socket: Duplex) => {
  const code = err.code ?? 'unknown';
  const status = code === 'HPE_HEADER_OVERFLOW' ? 431 : code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW' ? 413 : 400;
  const last = events.at(-1);
  // A request whose Transfer-Encoding is not chunked: llhttp refuses it just after the head was delivered.
  if (
    last?.type === 'request' &&
    code === 'HPE_INVALID_TRANSFER_ENCODING' &&
    /Request has invalid/.test(err.reason ?? '')
  ) {
    events.pop();
  }
  events.push({ type: 'refuse', status, code });
  // The socket is destroyed once the case settles, so the last request's body events still arrive.
  void socket;
});

afterAll(() => server.close());

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function nodeVerdict(pieces: Buffer[]): Promise<Outcome[]> {
  events = [];
  const socket = new Duplex({
    read() {},
    write(_chunk, _encoding, callback) {
      callback();
    },
  });
  server.emit('connection', socket);
  for (const piece of pieces) socket.push(Buffer.from(piece));
  for (let i = 0; i < 4; i++) await tick();
  const result = events.map(handOff);
  socket.destroy();
  events = [];
  // The parse error that ended the connection is the last thing node decided; nothing after it counts.
  const end = result.findIndex((e) => e.type !== 'request');
  return end < 0 ? result : result.slice(0, end + 1);
}

// ---------------------------------------------------------------------------------------------------
// The parsers under test, driven as a relay would drive them.

function ourVerdict(pieces: Buffer[]): Outcome[] {
  const out: Outcome[] = [];
  const parser = new RequestHeadParser();
  let current: Extract<Outcome, { type: 'request' | 'upgrade' }> | null = null;
  const decoder = new ChunkedDecoder({
    onData: (chunk, start, end) => {
      current!.body += chunk.toString('latin1', start, end);
    },
  });
  let phase: 'head' | 'length' | 'chunked' | 'closed' = 'head';
  let remaining = 0;
  let http11 = true;
  const finish = (flags: number): void => {
    current!.complete = true;
    const keepAlive = http11
      ? (flags & FLAG_CONNECTION_CLOSE) === 0
      : (flags & FLAG_CONNECTION_KEEP_ALIVE) !== 0;
    if (keepAlive) {
      parser.reset();
      phase = 'head';
    } else phase = 'closed';
  };
  for (const piece of pieces) {
    let p = 0;
    while (p < piece.length) {
      if (phase === 'head') {
        const r = parser.execute(piece, p);
        if (r === NEED_MORE) break;
        if (r === FAILED) {
          out.push({ type: 'refuse', status: parser.verdict!.status, code: parser.verdict!.code });
          return out;
        }
        const h = parser.head!;
        current = {
          type: h.upgrade ? 'upgrade' : 'request',
          method: h.method,
          url: h.target,
          version: `${h.versionMajor}.${h.versionMinor}`,
          rawHeaders: h.rawHeaders,
          body: '',
          trailers: [],
          complete: h.upgrade,
        };
        out.push(current);
        if (h.upgrade || h.versionMajor !== 1) {
          out[out.length - 1] = handOff(current);
          return out;
        }
        http11 = h.versionMajor > 0 && h.versionMinor > 0;
        p = r;
        if (h.body === 'length') {
          remaining = h.contentLength;
          phase = 'length';
        } else if (h.body === 'chunked') {
          decoder.reset(h.flags);
          phase = 'chunked';
        } else finish(h.flags);
      } else if (phase === 'length') {
        const n = Math.min(remaining, piece.length - p);
        current!.body += piece.toString('latin1', p, p + n);
        remaining -= n;
        p += n;
        if (remaining === 0) finish(parser.head!.flags);
      } else if (phase === 'chunked') {
        const r = decoder.execute(piece, p);
        if (r === NEED_MORE) break;
        if (r === FAILED) {
          out.push({ type: 'refuse', status: decoder.verdict!.status, code: decoder.verdict!.code });
          return out;
        }
        p = r;
        current!.trailers = decoder.rawTrailers;
        finish(decoder.flags);
      } else {
        // After a message that does not keep the connection alive only CR and LF may follow.
        if (piece[p] === 0x0d || piece[p] === 0x0a) {
          p++;
          continue;
        }
        out.push({ type: 'refuse', status: 400, code: 'DATA_AFTER_CLOSE' });
        return out;
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Case generation.

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const H = 'Host: example.com\r\n';
const CHUNKED = 'Transfer-Encoding: chunked\r\n';
const big = (n: number): string => 'x'.repeat(n);
// Target + names + values of `GET /<pad> HTTP/1.1` with only Host: 1 + pad + 4 + 11 = 16384 exactly at pad 16368.
const atLimit = (pad: number): string => `GET /${big(pad)} HTTP/1.1\r\n${H}\r\n`;

/** Valid requests and the smuggling catalogue; mutations start from these. */
const CORPUS: string[] = [
  `GET / HTTP/1.1\r\n${H}\r\n`,
  `GET /path/to?q=1&r=2#frag HTTP/1.1\r\n${H}User-Agent: fuzz/1.0\r\nAccept: */*\r\nX-Empty:\r\n\r\n`,
  `GET http://example.com:8080/a?b HTTP/1.1\r\n${H}\r\n`,
  `OPTIONS * HTTP/1.1\r\n${H}\r\n`,
  `HEAD / HTTP/1.0\r\n\r\n`,
  `GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /2 HTTP/1.0\r\n\r\n`,
  `POST /submit HTTP/1.1\r\n${H}Content-Length: 11\r\nContent-Type: text/plain\r\n\r\nhello world`,
  `POST / HTTP/1.1\r\n${H}${CHUNKED}\r\n5\r\nhello\r\n6;ext=1;q="a\\"b"\r\n world\r\n0\r\nTrailer-A: 1\r\n\r\n`,
  `POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`,
  `PUT /x HTTP/1.1\r\n${H}Content-Length: 3\r\nExpect: 100-continue\r\n\r\nabc`,
  `GET / HTTP/1.1\r\n${H}Expect: something-else\r\n\r\n`,
  `GET /chat HTTP/1.1\r\n${H}Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: x\r\n\r\n`,
  `CONNECT example.com:443 HTTP/1.1\r\n${H}\r\n`,
  `GET / HTTP/1.1\r\n${H}Connection: close\r\n\r\nGET /after-close HTTP/1.1\r\n${H}\r\n`,
  `GET /a HTTP/1.1\r\n${H}\r\nGET /b HTTP/1.1\r\n${H}\r\n`,
  `POST /a HTTP/1.1\r\n${H}Content-Length: 4\r\n\r\nbodyGET /b HTTP/1.1\r\n${H}\r\n`,
  `POST /a HTTP/1.1\r\n${H}${CHUNKED}\r\n4\r\nbody\r\n0\r\n\r\nGET /b HTTP/1.1\r\n${H}\r\n`,
  `GET / HTTP/1.1\r\n\r\n`,
  `GET / HTTP/1.1\r\nhost: a\r\nHOST: b\r\n\r\n`,
  `GET / HTTP/1.0\r\nProxy-Connection: Keep-Alive\r\n\r\nGET /2 HTTP/1.0\r\nConnection: close\t\r\n\r\n`,
  `GET / HTTP/1.1\r\n${H}Connection: Upgrade\r\nUpgrade: h2c\r\n\r\n`,
  `POST / HTTP/1.1\r\n${H}Transfer-Encoding: Chunked\r\nExpect: 100-Continue\r\n\r\n1\r\na\r\n0\r\n\r\n`,
  `POST / HTTP/1.1\r\n${H}Content-Length: 007\r\nConnection: keep-alive, close\r\n\r\n1234567`,
  // Smuggling catalogue.
  `POST / HTTP/1.1\r\n${H}Content-Length: 4\r\n${CHUNKED}\r\n0\r\n\r\n`,
  `POST / HTTP/1.1\r\n${H}${CHUNKED}Content-Length: 4\r\n\r\n0\r\n\r\n`,
  `POST / HTTP/1.1\r\n${H}Content-Length: 4\r\nContent-Length: 4\r\n\r\nbody`,
  `POST / HTTP/1.1\r\n${H}Content-Length: 4\r\nContent-Length: 5\r\n\r\nbody!`,
  `POST / HTTP/1.1\r\n${H}Content-Length: 4, 4\r\n\r\nbody`,
  `POST / HTTP/1.1\r\n${H}Content-Length: +4\r\n\r\nbody`,
  `POST / HTTP/1.1\r\n${H}Content-Length: 18446744073709551616\r\n\r\n`,
  `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n`,
  `POST / HTTP/1.1\r\n${H}Transfer-Encoding: identity\r\n\r\n`,
  `POST / HTTP/1.1\r\n${H}${CHUNKED}${CHUNKED}\r\n0\r\n\r\n`,
  `POST / HTTP/1.1\r\n${H}Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n`,
  `POST / HTTP/1.1\r\n${H}Transfer-Encoding:\tchunked \r\n\r\n0\r\n\r\n`,
  `POST / HTTP/1.1\r\n${H}Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n`,
  `POST / HTTP/1.1\r\n${H}Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n`,
  `GET / HTTP/1.1\r\n${H}X-Folded: a\r\n b\r\n\r\n`,
  `GET / HTTP/1.1\n${H.replace('\r', '')}\n`,
  `GET / HTTP/1.1\r\nHost: a\nX: 1\r\n\r\n`,
  `GET / HTTP/1.1\r\nHost: a\rX: 1\r\n\r\n`,
  `POST / HTTP/1.1\r\n${H}${CHUNKED}\r\n 5\r\nhello\r\n0\r\n\r\n`,
  `POST / HTTP/1.1\r\n${H}${CHUNKED}\r\n5 \r\nhello\r\n0\r\n\r\n`,
  `POST / HTTP/1.1\r\n${H}${CHUNKED}\r\n0x5\r\nhello\r\n0\r\n\r\n`,
  `POST / HTTP/1.1\r\n${H}${CHUNKED}\r\n-1\r\n\r\n`,
  `POST / HTTP/1.1\r\n${H}${CHUNKED}\r\n10000000000000000\r\n`,
  `POST / HTTP/1.1\r\n${H}${CHUNKED}\r\n5\r\nhelloXX0\r\n\r\n`,
  `POST / HTTP/1.1\r\n${H}${CHUNKED}\r\n5\nhello\r\n0\r\n\r\n`,
  `POST / HTTP/1.1\r\n${H}${CHUNKED}\r\n5;a b\r\nhello\r\n0\r\n\r\n`,
  `POST / HTTP/1.1\r\n${H}${CHUNKED}\r\n0\r\nContent-Length: 5\r\n\r\n`,
  `POST / HTTP/1.1\r\n${H}${CHUNKED}\r\n0\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\n${H}\r\n`,
  `GET / HTTP/1.1\r\n${H}Bad Name: x\r\n\r\n`,
  `GET / HTTP/1.1\r\n${H}Bad@Name: x\r\n\r\n`,
  `GET / HTTP/1.1\r\n${H}: empty-name\r\n\r\n`,
  `GET / HTTP/1.1\r\n${H}X: a\u0000b\r\n\r\n`,
  `GET /a\u0000b HTTP/1.1\r\n${H}\r\n`,
  `GET /a b HTTP/1.1\r\n${H}\r\n`,
  `GET /caf\u00e9 HTTP/1.1\r\n${H}X: caf\u00e9\r\n\r\n`,
  `get / HTTP/1.1\r\n${H}\r\n`,
  `FOO / HTTP/1.1\r\n${H}\r\n`,
  `GET / HTTP/1.2\r\n${H}\r\n`,
  `GET / HTTP/2.0\r\n${H}\r\n`,
  `GET /\r\n${H}\r\n`,
  `GET / RTSP/1.0\r\n${H}\r\n`,
  `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`,
  `GET  /  HTTP/1.1\r\n${H}\r\n`,
  `\r\n\r\nGET / HTTP/1.1\r\n${H}\r\n`,
  ` GET / HTTP/1.1\r\n${H}\r\n`,
  `GET / HTTP/1.1\r\n ${H}\r\n`,
  atLimit(16367),
  atLimit(16368),
  `GET / HTTP/1.1\r\n${H}X-Big: ${big(16380)}\r\n\r\n`,
  `GET / HTTP/1.1\r\n${H}${'X-Many: yes\r\n'.repeat(1200)}\r\n`,
  `POST / HTTP/1.1\r\n${H}${CHUNKED}\r\n1;${big(16384)}\r\na\r\n0\r\n\r\n`,
  `POST / HTTP/1.1\r\n${H}${CHUNKED}\r\n1;${big(16385)}\r\na\r\n0\r\n\r\n`,
  `POST / HTTP/1.1\r\n${H}${CHUNKED}\r\n0\r\nT: ${big(16380)}\r\n\r\n`,
];

const INTERESTING = [
  0x00, 0x09, 0x0a, 0x0d, 0x20, 0x22, 0x2c, 0x3a, 0x3b, 0x3d, 0x7f, 0x80, 0xff, 0x40, 0x2f, 0x30,
];

function mutate(input: Buffer, rnd: () => number): Buffer {
  const bytes = [...input];
  const pick = (n: number): number => Math.floor(rnd() * n);
  const byte = (): number => (rnd() < 0.7 ? INTERESTING[pick(INTERESTING.length)]! : pick(256));
  const rounds = 1 + pick(3);
  for (let i = 0; i < rounds && bytes.length > 0; i++) {
    const at = pick(bytes.length);
    switch (pick(8)) {
      case 0:
        bytes[at] = byte();
        break;
      case 1:
        bytes.splice(at, 0, byte());
        break;
      case 2:
        bytes.splice(at, 1);
        break;
      case 3: {
        // Duplicate one line.
        const s = Buffer.from(bytes).toString('latin1');
        const lines = s.split('\r\n');
        const li = 1 + pick(Math.max(1, lines.length - 2));
        lines.splice(li, 0, lines[li] ?? '');
        bytes.splice(0, bytes.length, ...Buffer.from(lines.join('\r\n'), 'latin1'));
        break;
      }
      case 4: {
        // Change the case of a run.
        const n = 1 + pick(12);
        for (let j = at; j < Math.min(bytes.length, at + n); j++) {
          const c = bytes[j]!;
          if ((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)) bytes[j] = c ^ 0x20;
        }
        break;
      }
      case 5:
        bytes.splice(at, 0, ...(rnd() < 0.5 ? [0x0d, 0x0a] : [0x0a]));
        break;
      case 6:
        bytes.length = at;
        break;
      default:
        bytes.splice(
          at,
          0,
          ...Buffer.from(['\r\n ', ' ', ':', ',chunked', ';x', '\r\n\r\n'][pick(6)]!, 'latin1'),
        );
    }
  }
  return Buffer.from(bytes);
}

function split(input: Buffer, rnd: () => number): Buffer[] {
  const cuts = new Set<number>();
  const n = Math.floor(rnd() * 5);
  for (let i = 0; i < n; i++) cuts.add(Math.floor(rnd() * input.length));
  if (rnd() < 0.05) for (let i = 1; i < Math.min(input.length, 200); i++) cuts.add(i);
  const points = [...cuts].filter((c) => c > 0).sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let last = 0;
  for (const c of points) {
    pieces.push(input.subarray(last, c));
    last = c;
  }
  pieces.push(input.subarray(last));
  return pieces.filter((piece) => piece.length > 0);
}

function describeCase(index: number, pieces: Buffer[], ours: Outcome[], theirs: Outcome[]): string {
  const trim = (o: Outcome[]): string => JSON.stringify(o).slice(0, 1500);
  return [
    `seed=${SEED} case=${index}`,
    `pieces=${JSON.stringify(pieces.map((p) => p.toString('latin1'))).slice(0, 3000)}`,
    `ours=${trim(ours)}`,
    `node=${trim(theirs)}`,
  ].join('\n');
}

describe('HTTP/1.1 parsers against node:http', () => {
  it('every corpus entry gets node:http verdicts, split in one piece and byte by byte', async () => {
    const failures: string[] = [];
    for (const [i, text] of CORPUS.entries()) {
      const input = Buffer.from(text, 'latin1');
      for (const pieces of [[input], [...input].map((b) => Buffer.from([b]))]) {
        if (pieces.length > 2000) continue;
        const ours = ourVerdict(pieces);
        const theirs = await nodeVerdict(pieces);
        if (JSON.stringify(ours.map(normalise)) !== JSON.stringify(theirs.map(normalise))) {
          failures.push(describeCase(-1 - i, pieces, ours, theirs));
        }
      }
    }
    expect(failures.slice(0, 5).join('\n\n')).toBe('');
  });

  it(`${CASES} seeded mutations get node:http verdicts`, { timeout: 60_000 }, async () => {
    const rnd = mulberry32(SEED);
    const failures: string[] = [];
    const seen = new Map<string, number>();
    for (let i = 0; i < CASES; i++) {
      const base = Buffer.from(CORPUS[Math.floor(rnd() * CORPUS.length)]!, 'latin1');
      const input = rnd() < 0.1 ? base : mutate(base, rnd);
      const pieces = split(input, rnd);
      const ours = ourVerdict(pieces);
      const theirs = await nodeVerdict(pieces);
      if (JSON.stringify(ours.map(normalise)) !== JSON.stringify(theirs.map(normalise))) {
        failures.push(describeCase(i, pieces, ours, theirs));
      }
      for (const o of theirs) {
        const key =
          o.type === 'refuse' ? `refuse ${o.status}` : o.complete ? o.type : `${o.type} (incomplete)`;
        seen.set(key, (seen.get(key) ?? 0) + 1);
      }
    }
    expect(failures.slice(0, 5).join('\n\n'), `${failures.length} of ${CASES} differ`).toBe('');
    // The cases must exercise every outcome, or agreement proves little.
    if (CASES >= 3000) {
      for (const key of [
        'request',
        'request (incomplete)',
        'upgrade',
        'refuse 400',
        'refuse 413',
        'refuse 417',
        'refuse 431',
      ]) {
        expect(seen.get(key) ?? 0, `${key} in ${JSON.stringify([...seen])}`).toBeGreaterThan(5);
      }
    }
  });
});

/** Response heads the app could send, valid and not; mutated like the requests. */
const RESPONSES: string[] = [
  'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello',
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
  'HTTP/1.0 404 Not Found\r\nConnection: close\r\n\r\nnope',
  'HTTP/1.1 204 \r\nDate: Mon, 07 Dec 2026 03:00:00 GMT\r\n\r\n',
  'HTTP/1.1 302 Found\r\nLocation: /x\r\nSet-Cookie: a=b\r\nSet-Cookie: c=d\r\nContent-Length: 0\r\n\r\n',
  'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
  'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx',
  'HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n',
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
  'HTTP/1.1 200 \u00e9t\u00e9\r\nServer: x\r\n\r\n',
];

async function nodeResponseHead(pieces: Buffer[]): Promise<unknown> {
  return await new Promise((resolve) => {
    const socket = new Duplex({
      read() {},
      write(_chunk, _encoding, callback) {
        callback();
      },
    });
    const req = http.request({ createConnection: () => socket, host: 'app', path: '/' }, (res) => {
      resolve({ status: res.statusCode, rawHeaders: res.rawHeaders });
      res.resume();
      res.on('error', () => {});
    });
    req.on('error', () => resolve('refused'));
    req.end();
    setImmediate(() => {
      for (const piece of pieces) socket.push(Buffer.from(piece));
      socket.push(null);
    });
  });
}

function ourResponseHead(pieces: Buffer[]): unknown {
  const parser = new ResponseHeadParser();
  for (const piece of pieces) {
    let p = 0;
    while (p < piece.length) {
      const r = parser.execute(piece, p);
      if (r === FAILED) return 'refused';
      if (r === NEED_MORE) break;
      const h = parser.head!;
      // node's client passes over interim responses (100 Continue) to the final one.
      if (h.statusCode >= 100 && h.statusCode < 200 && h.statusCode !== 101) {
        parser.reset();
        p = r;
        continue;
      }
      return { status: h.statusCode, rawHeaders: h.rawHeaders };
    }
  }
  return 'refused';
}

describe('ResponseHeadParser against node:http client', () => {
  it('1,000 seeded mutated response heads get the verdicts of node:http client', async () => {
    const rnd = mulberry32(SEED + 1);
    const failures: string[] = [];
    for (let i = 0; i < 1000; i++) {
      const base = Buffer.from(RESPONSES[Math.floor(rnd() * RESPONSES.length)]!, 'latin1');
      const pieces = split(rnd() < 0.1 ? base : mutate(base, rnd), rnd);
      const ours = ourResponseHead(pieces);
      const theirs = await nodeResponseHead(pieces);
      if (JSON.stringify(ours) !== JSON.stringify(theirs)) {
        failures.push(
          `seed=${SEED + 1} case=${i}\npieces=${JSON.stringify(pieces.map((p) => p.toString('latin1')))}\n` +
            `ours=${JSON.stringify(ours)}\nnode=${JSON.stringify(theirs)}`,
        );
      }
    }
    expect(failures.slice(0, 5).join('\n\n'), `${failures.length} of 1000 differ`).toBe('');
  });
});

/**
 * A relay hands upgrades and requests other than HTTP/1.0 and 1.1 (0.9 request lines, `HTTP/2.0`) to
 * node:http with the bytes after their head, so both sides are compared up to that head only.
 */
function handOff(o: Outcome): Outcome {
  if (o.type === 'refuse' || (o.type === 'request' && o.version.startsWith('1.'))) return o;
  return { ...o, type: 'upgrade', body: '', trailers: [], complete: true };
}

/** Compares refusals by status only: the two sides name their reasons differently. */
function normalise(o: Outcome): unknown {
  return o.type === 'refuse' ? { type: 'refuse', status: o.status } : o;
}

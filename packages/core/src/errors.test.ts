import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ERRORS, errorBody, wasSent, ZerogateError, zerogateErrorHeaders } from './errors.js';

/** An Error carrying a Node- or undici-style `code`. */
function coded(code: string, cause?: unknown): Error {
  return Object.assign(new Error(code, { cause }), { code });
}

const PACKAGES = fileURLToPath(new URL('../../', import.meta.url));
const TABLE = fileURLToPath(new URL('./errors.ts', import.meta.url));

/** The text of every package's sources, its tests and the table itself left out. */
function packageSources(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory()) walk(path);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') && path !== TABLE)
        out.push(readFileSync(path, 'utf8'));
    }
  };
  for (const pkg of readdirSync(PACKAGES)) {
    const src = join(PACKAGES, pkg, 'src');
    if (existsSync(src)) walk(src);
  }
  return out;
}

describe('ERRORS', () => {
  it('declares the statuses, bodies and gRPC statuses Knative answers with', () => {
    expect(ERRORS.QUEUE_FULL).toMatchObject({ status: 503, body: 'pending request queue full\n', grpc: 14 });
    expect(ERRORS.REQUEST_TIMEOUT).toMatchObject({ status: 504, body: 'request timeout', grpc: 4 });
    expect(ERRORS.SHUTTING_DOWN).toMatchObject({ status: 503, body: 'shutting down\n', grpc: 14 });
    expect(ERRORS.NOT_READY).toMatchObject({ status: 503, body: '', grpc: 14 });
    expect(ERRORS.UNKNOWN_REVISION.grpc).toBe(5);
    expect(ERRORS.PROBE_HASH_MISSING.status).toBe(400);
    expect(ERRORS.UPSTREAM_FAILED.status).toBe(502);
    expect(ERRORS.INTERNAL).toMatchObject({ status: 500, body: 'internal error\n', grpc: 13 });
  });

  it('gives each body at most one part to fill in, and a newline at its end unless Knative sends none', () => {
    const unterminated = ['REQUEST_TIMEOUT', 'ACTIVATOR_TIMEOUT'];
    for (const [code, { body }] of Object.entries(ERRORS)) {
      expect(body.match(/<[^<>]*>/g)?.length ?? 0, code).toBeLessThanOrEqual(1);
      if (body !== '' && !unterminated.includes(code)) expect(body.endsWith('\n'), code).toBe(true);
    }
  });

  it('has every entry sent from somewhere in packages/ (an entry nobody sends is removed)', () => {
    const sources = packageSources().join('\n');
    const unused = Object.keys(ERRORS).filter(
      (code) => !new RegExp(`(['"\`])${code}\\1|ERRORS\\.${code}\\b`).test(sources),
    );
    expect(unused).toEqual([]);
  });
});

describe('zerogateErrorHeaders', () => {
  it('gives every 5xx, and only those, a kebab-case reason for the Zerogate-Error header', () => {
    for (const [code, entry] of Object.entries(ERRORS)) {
      const reason = (entry as { reason?: string }).reason;
      if (entry.status >= 500) expect(reason, code).toMatch(/^[a-z]+(-[a-z]+)*$/);
      else expect(reason, code).toBeUndefined();
    }
  });

  it('adds `<component>; <reason>` to the headers of a 5xx and leaves the others as they are', () => {
    expect(zerogateErrorHeaders('activator', 'ACTIVATOR_OVERLOADED', { 'retry-after': '1' })).toEqual({
      'retry-after': '1',
      'zerogate-error': 'activator; overloaded',
    });
    expect(zerogateErrorHeaders('queue-proxy', 'QUEUE_FULL')).toEqual({
      'zerogate-error': 'queue-proxy; queue-full',
    });
    expect(zerogateErrorHeaders('ingress', 'UPSTREAM_FAILED')).toEqual({
      'zerogate-error': 'ingress; upstream-failed',
    });
    const headers = { 'retry-after': '1' };
    expect(zerogateErrorHeaders('activator', 'BAD_REQUEST', headers)).toBe(headers);
    expect(zerogateErrorHeaders(undefined, 'QUEUE_FULL', headers)).toBe(headers);
  });
});

describe('errorBody', () => {
  it('is the table body without a detail', () => {
    expect(errorBody('QUEUE_FULL')).toBe(ERRORS.QUEUE_FULL.body);
    expect(errorBody('UNEXPECTED_PROBE')).toBe('unexpected probe header value: <value>\n');
  });

  it('fills the body in with the detail, taken as it is', () => {
    expect(errorBody('UNEXPECTED_PROBE', 'queue2')).toBe('unexpected probe header value: queue2\n');
    expect(errorBody('UNEXPECTED_PROBE', '')).toBe('unexpected probe header value: \n');
    expect(errorBody('UNKNOWN_REVISION', '"$&/$1"')).toBe(
      'Error getting active endpoint: revision "$&/$1" not found\n',
    );
  });
});

describe('ZerogateError', () => {
  it('takes its status from the table and its message from the body', () => {
    const err = new ZerogateError('QUEUE_FULL');
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('ZerogateError');
    expect(err.code).toBe('QUEUE_FULL');
    expect(err.status).toBe(503);
    expect(err.message).toBe('pending request queue full');
    expect(err.detail).toBeUndefined();
  });

  it('fills its message in with a detail, and keeps a cause', () => {
    const cause = new Error('inner');
    const err = new ZerogateError('NOT_A_POD', 'spec is not an object', { cause });
    expect(err.message).toBe('request.object is not a Pod: spec is not an object');
    expect(err.detail).toBe('spec is not an object');
    expect(err.cause).toBe(cause);
    expect(err.status).toBe(400);
  });
});

describe('wasSent', () => {
  it.each([
    'ECONNREFUSED',
    'EHOSTUNREACH',
    'ENETUNREACH',
    'UND_ERR_CONNECT_TIMEOUT',
    'EADDRNOTAVAIL',
  ])('says a connect error %s never sent the request, however deep in the cause chain', (code) => {
    expect(wasSent(coded(code))).toBe(false);
    expect(wasSent(new Error('fetch failed', { cause: new Error('socket', { cause: coded(code) }) }))).toBe(
      false,
    );
  });

  it("says a queue-proxy's REQUEST_NOT_SENT answer never reached the app", () => {
    expect(wasSent(new ZerogateError('REQUEST_NOT_SENT'))).toBe(false);
    expect(ERRORS.REQUEST_NOT_SENT.status).toBe(503);
  });

  it.each([
    'ECONNRESET',
    'EPIPE',
    'UND_ERR_SOCKET',
    'UND_ERR_CLOSED',
    'ETIMEDOUT',
  ])('says a failure after connecting (%s) may have reached the upstream', (code) => {
    expect(wasSent(coded(code))).toBe(true);
  });

  // An app whose port opens before its handler may accept and reset each connection; when the reset
  // beats the connect, the connect call itself fails and nothing was written.
  it('says a reset that beat the connect never sent the request', async () => {
    // The server marks each reset in a file, which this process, its event loop held, waits to see: the
    // reset has then reached this socket before its connect is reported, however busy the machine is.
    const dir = mkdtempSync(join(tmpdir(), 'zerogate-resets-'));
    const marks = join(dir, 'resets');
    writeFileSync(marks, '');
    const server = spawn(
      process.execPath,
      [
        '-e',
        `const s = require('node:net').createServer((c) => { c.resetAndDestroy(); require('node:fs').appendFileSync(${JSON.stringify(marks)}, 'r'); }).listen(0, '127.0.0.1', () => console.log(s.address().port))`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      const [chunk] = (await once(server.stdout, 'data')) as [Buffer];
      const port = Number(chunk.toString().trim());
      const socket = net.connect(port, '127.0.0.1');
      // net.connect dials on the next tick: hold the event loop only once it has.
      await new Promise<void>((resolve) => process.nextTick(resolve));
      const deadline = Date.now() + 10_000;
      while (readFileSync(marks, 'utf8') === '' && Date.now() < deadline) {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
      }
      expect(readFileSync(marks, 'utf8')).toBe('r');
      const err = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
        socket.once('error', resolve);
        socket.once('connect', () => {
          socket.destroy();
          resolve(undefined);
        });
      });
      expect(err?.code).toBe('ECONNRESET');
      expect(err?.syscall).toBe('connect');
      expect(wasSent(err)).toBe(false);
      expect(wasSent(Object.assign(coded('ECONNRESET'), { syscall: 'read' }))).toBe(true);
    } finally {
      server.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stops on a cyclic cause chain', () => {
    const a: { code?: string; cause?: unknown } = {};
    a.cause = { cause: a };
    expect(wasSent(a)).toBe(true);
  });

  it('says an error without a code may have been sent', () => {
    expect(wasSent(new Error('boom'))).toBe(true);
    expect(wasSent(undefined)).toBe(true);
  });
});

import { connect, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EndpointsFile, heldRequests } from './support/activator-fixture.js';
import { FakeAutoscaler } from './support/fake-autoscaler.js';
import { eventually } from './support/http.js';
import { activatorEnv, type RunningActivator, startActivator } from './support/processes.js';

/** The byte cap these tests configure (ACTIVATOR_MAX_HELD_BYTES). */
const CAP = 1024 * 1024;
/** What README.md says a held body reserves at most: the stream's high-water mark plus one socket read. */
const RESERVATION = 128 * 1024;

let endpoints: EndpointsFile;
let autoscaler: FakeAutoscaler | undefined;
let activator: RunningActivator | undefined;
const sockets: Socket[] = [];

beforeEach(() => {
  endpoints = new EndpointsFile();
});

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await activator?.proc.kill();
  await autoscaler?.close();
  activator = autoscaler = undefined;
  endpoints.remove();
});

/** A POST whose head and body are written at once on its own connection; `head` is the response head once one came. */
interface RawPost {
  readonly socket: Socket;
  head: string | undefined;
  readonly sentAt: number;
  answeredAt: number | undefined;
}

function post(port: number, bodyBytes: number, chunked = false): RawPost {
  const socket = connect(port, '127.0.0.1');
  sockets.push(socket);
  const p: RawPost = { socket, head: undefined, sentAt: Date.now(), answeredAt: undefined };
  let seen = '';
  socket.on('error', () => undefined);
  socket.on('data', (chunk: Buffer) => {
    seen += chunk.toString('latin1');
    const end = seen.indexOf('\r\n\r\n');
    if (end >= 0 && p.head === undefined) {
      p.head = seen.slice(0, end);
      p.answeredAt = Date.now();
    }
  });
  const framing = chunked ? 'transfer-encoding: chunked' : `content-length: ${bodyBytes}`;
  socket.write(
    `POST /upload HTTP/1.1\r\nhost: x\r\nknative-serving-revision: hello-00001\r\n` +
      `knative-serving-namespace: default\r\n${framing}\r\n\r\n`,
  );
  const body = Buffer.alloc(bodyBytes, 0x61);
  socket.write(chunked ? Buffer.concat([Buffer.from(`${bodyBytes.toString(16)}\r\n`), body]) : body);
  return p;
}

async function start(): Promise<RunningActivator> {
  // A revision with no Pod at all: every request is held.
  endpoints.write({});
  autoscaler = await FakeAutoscaler.start();
  activator = await startActivator(
    activatorEnv(endpoints.path, autoscaler.url, { ACTIVATOR_MAX_HELD_BYTES: String(CAP) }),
  );
  return activator;
}

/** Sends `n` bodies at once; resolves once every one is either held or refused, with the counts. */
async function fill(
  a: RunningActivator,
  n: number,
  bodyBytes: number,
  chunked = false,
): Promise<{ held: number; refused: RawPost[] }> {
  const posts = Array.from({ length: n }, () => post(a.port, bodyBytes, chunked));
  let held = 0;
  const settled = await eventually(async () => {
    held = await heldRequests(a);
    return held + posts.filter((p) => p.head !== undefined).length === n;
  }, 20_000);
  expect(settled).toBe(true);
  return { held, refused: posts.filter((p) => p.head !== undefined) };
}

function expectRefusedAtOnce(refused: readonly RawPost[]): void {
  for (const p of refused) {
    expect(p.head).toMatch(/^HTTP\/1\.1 503 /);
    expect(p.head).toMatch(/\r\nretry-after: 1\r\n/i);
    // Refused on arrival, not after waiting for room (a held request would wait its 300 s timeout).
    expect(p.answeredAt! - p.sentAt).toBeLessThan(5000);
  }
}

describe('activator held-body budget (README: min(Content-Length, 128 KiB) per held body)', () => {
  it('holds 8 bodies of 1 MiB under a 1 MiB cap and refuses the rest at once with 503 and Retry-After', async () => {
    const a = await start();
    const { held, refused } = await fill(a, 12, CAP);
    expect(held).toBe(CAP / RESERVATION);
    expect(refused).toHaveLength(12 - CAP / RESERVATION);
    expectRefusedAtOnce(refused);
  });

  it('counts a chunked body (no Content-Length) as 128 KiB', async () => {
    const a = await start();
    const { held, refused } = await fill(a, 10, 256 * 1024, true);
    expect(held).toBe(CAP / RESERVATION);
    expectRefusedAtOnce(refused);
  });

  it('counts a body shorter than 128 KiB by its Content-Length', async () => {
    const a = await start();
    // 40 KiB each: 25 fit in 1 MiB (25 × 40 KiB = 1000 KiB), the 26th does not.
    const { held, refused } = await fill(a, 30, 40 * 1024);
    expect(held).toBe(25);
    expect(refused).toHaveLength(5);
    expectRefusedAtOnce(refused);
  });
});

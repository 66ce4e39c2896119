import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Agent, request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eventually } from '../../../test/support/http.js';
import { Dashboard, isLoopback, LOG_TAIL_MAX_BYTES } from './dashboard.js';
import type { PlatformStatus } from './status.js';

let server: Server;
let dashboard: Dashboard;
let base: string;
let logDir: string;
let snapshot: number;
let agent: Agent;
const logged: string[] = [];

function status(): PlatformStatus {
  snapshot++;
  return { time: snapshot, logs: ['platform'], maxPods: 4, pods: snapshot, revisions: [] };
}

beforeEach(async () => {
  snapshot = 0;
  logged.length = 0;
  logDir = mkdtempSync(join(tmpdir(), 'zerogate-dashboard-'));
  const logger = pino({ level: 'info' }, { write: (line: string) => logged.push(line) });
  dashboard = new Dashboard({ status, logDir, logger, maxClients: 2 });
  server = createServer((req, res) => {
    if (!dashboard.handle(req, res)) {
      res.writeHead(404);
      res.end('not the dashboard\n');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  agent = new Agent({ connections: 8 });
});

afterEach(async () => {
  dashboard.close();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await agent.close();
  rmSync(logDir, { recursive: true, force: true });
});

async function get(path: string, method: 'GET' | 'POST' | 'HEAD' = 'GET') {
  const res = await request(`${base}${path}`, { method, dispatcher: agent });
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}

/** An open event stream: the frames received so far, and whether the server ended it. */
async function stream() {
  const res = await request(`${base}/zerogate/events`, { dispatcher: agent });
  const frames: string[] = [];
  let ended = false;
  let text = '';
  if (res.statusCode === 200) {
    res.body.setEncoding('utf8');
    res.body.on('data', (chunk: string) => {
      text += chunk;
      const parts = text.split('\n\n');
      text = parts.pop() ?? '';
      frames.push(...parts);
    });
    res.body.on('end', () => {
      ended = true;
    });
    res.body.on('error', () => {});
  } else await res.body.dump();
  return {
    status: res.statusCode,
    headers: res.headers,
    frames,
    data: () =>
      frames.filter((f) => f.startsWith('data: ')).map((f) => JSON.parse(f.slice(6)) as PlatformStatus),
    ended: () => ended,
  };
}

describe('Dashboard', () => {
  it('serves its page, script and styles from the package with a policy that loads nothing from elsewhere', async () => {
    const page = await get('/zerogate/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).toContain("default-src 'none'");
    expect(page.body).toContain('<script src="dashboard.js" defer></script>');
    expect(page.body).not.toMatch(/https?:\/\//);
    const script = await get('/zerogate/dashboard.js');
    expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(script.body).toContain("new EventSource('events')");
    expect((await get('/zerogate/dashboard.css')).status).toBe(200);
    const bare = await get('/zerogate');
    expect(bare.status).toBe(308);
    expect(bare.headers.location).toBe('/zerogate/');
    expect((await get('/zerogate/status')).body).toBe(
      `${JSON.stringify({ ...status(), time: 1, pods: 1 })}\n`,
    );
  });

  it('leaves other paths to the ingress and refuses other methods with 405 and a log line', async () => {
    expect((await get('/zerogate/other')).body).toBe('not the dashboard\n');
    const post = await get('/zerogate/status', 'POST');
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    expect(logged.some((l) => l.includes('dashboard request refused') && l.includes('"status":405'))).toBe(
      true,
    );
  });

  it('streams a snapshot at once, one per push, and one soon after a change', async () => {
    const s = await stream();
    expect(s.status).toBe(200);
    expect(s.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(await eventually(() => s.data().length === 1)).toBe(true);
    expect(s.frames[0]).toMatch(/^retry: \d+$/m);
    dashboard.push();
    expect(await eventually(() => s.data().length === 2)).toBe(true);
    dashboard.changed();
    dashboard.changed();
    expect(await eventually(() => s.data().length === 3)).toBe(true);
    // Two changes in a row make one snapshot.
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(s.data()).toHaveLength(3);
    expect(s.data().map((d) => d.pods)).toEqual([...s.data().map((d) => d.pods)].sort((a, b) => a - b));
  });

  it('refuses a stream past its cap with 503 and Retry-After, marked Zerogate-Error: ingress, and takes one again once a stream closed', async () => {
    const first = await stream();
    await stream();
    expect(await eventually(() => dashboard.streams === 2)).toBe(true);
    const refused = await get('/zerogate/events');
    expect(refused.status).toBe(503);
    expect(refused.body).toBe('too many dashboard streams (at most 2)\n');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(refused.headers['zerogate-error']).toBe('ingress; too-many-streams');
    dashboard.close();
    expect(await eventually(() => first.ended())).toBe(true);
    expect(dashboard.streams).toBe(0);
    // Closed for good: a shutdown refuses new streams too.
    const closed = await get('/zerogate/events');
    expect([closed.status, closed.body]).toEqual([503, 'shutting down\n']);
    expect(closed.headers['zerogate-error']).toBe('ingress; shutting-down');
  });

  it('sends the tail of a log by name, and refuses bad names, sizes and unknown logs with short answers', async () => {
    const lines = Array.from({ length: 2000 }, (_, i) => `line ${i}`).join('\n');
    writeFileSync(join(logDir, 'hello-00001-1.app.log'), `${lines}\n`);
    const tail = await get('/zerogate/logs/hello-00001-1.app?bytes=20');
    expect(tail.status).toBe(200);
    expect(tail.body).toBe('line 1998\nline 1999\n');
    const whole = await get('/zerogate/logs/hello-00001-1.app');
    expect(whole.body.length).toBeLessThanOrEqual(16 * 1024);
    expect(whole.body.endsWith('line 1999\n')).toBe(true);

    for (const bad of ['..%2Fsecret', '.hidden', 'a%2Fb', 'UPPER']) {
      expect((await get(`/zerogate/logs/${bad}`)).status, bad).toBe(400);
    }
    for (const bytes of ['0', '-1', 'x', String(LOG_TAIL_MAX_BYTES + 1)]) {
      expect((await get(`/zerogate/logs/hello-00001-1.app?bytes=${bytes}`)).status, bytes).toBe(400);
    }
    const missing = await get('/zerogate/logs/nobody-1.app');
    expect(missing.status).toBe(404);
    expect(missing.body).toBe('no log nobody-1.app\n');
  });
});

describe('isLoopback', () => {
  it('takes 127.0.0.0/8 and ::1, as IPv4 or IPv4-mapped, and nothing else', () => {
    for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1'])
      expect(isLoopback(a), a).toBe(true);
    for (const a of ['10.0.0.1', '::ffff:192.168.1.1', 'fe80::1', undefined])
      expect(isLoopback(a), String(a)).toBe(false);
  });
});

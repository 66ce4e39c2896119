import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from './support/http.js';
import {
  example,
  platformProcesses,
  startTestPlatform,
  stoppedAfterEach,
  type TestPlatform,
} from './support/platform.js';

// End-to-end: the platform's own entry point, a real app, the activator killed under load.
const started = stoppedAfterEach();

const HOST = 'app.default.localhost';
/** Workers sending GETs, and as many sending POSTs with a body, each one request at a time. */
const WORKERS = 4;

const client = new Agent({ connections: 2 * WORKERS });
afterEach(async () => {
  await client.close();
});

/** One request of the load: when it was sent and answered, and how. */
interface Outcome {
  readonly method: 'GET' | 'POST';
  readonly sentAt: number;
  readonly doneAt: number;
  readonly status: number;
}

/** The platform's log lines (`HH:MM:SS LEVEL message key=value …`) with message `msg`, as their fields. */
function platformLines(p: TestPlatform, msg: string): Record<string, string>[] {
  return readFileSync(join(p.logDir, 'platform.log'), 'utf8')
    .split('\n')
    .filter((l) => l.includes(` ${msg}`))
    .map((l) => Object.fromEntries([...l.matchAll(/ (\w+)=(\S+)/g)].map((m) => [m[1]!, m[2]!])));
}

describe('one-machine platform: the activator killed under load (Proxy mode, a ready Pod)', () => {
  it('loses only requests the activator may have accepted; those it refused are held and answered once it is back, never retried against it while down', async () => {
    // min-scale 1 keeps a ready Pod; target-burst-capacity -1 keeps the activator in the path.
    const p = await startTestPlatform(`
ingress: { port: 0 }
services:
  - name: app
    command: [node, ${example('hello')}]
    annotations:
      autoscaling.knative.dev/min-scale: "1"
      autoscaling.knative.dev/target-burst-capacity: "-1"
`);
    started.push(p);
    expect(
      await eventually(async () => {
        const r = await p.revision('app-00001');
        return r.readyPods === 1 && r.mode === 'Proxy';
      }, 30_000),
    ).toBe(true);

    const outcomes: Outcome[] = [];
    let stop = false;
    const send = async (method: 'GET' | 'POST'): Promise<number> => {
      const res = await request(`http://127.0.0.1:${p.port}/`, {
        method,
        headers: { host: HOST },
        body: method === 'POST' ? 'x'.repeat(1000) : undefined,
        dispatcher: client,
        headersTimeout: 0,
        bodyTimeout: 0,
      });
      await res.body.text();
      return res.statusCode;
    };
    const worker = async (method: 'GET' | 'POST') => {
      while (!stop) {
        const sentAt = Date.now();
        let status: number;
        try {
          status = await send(method);
        } catch {
          status = -1;
        }
        outcomes.push({ method, sentAt, doneAt: Date.now(), status });
      }
    };
    const load = Promise.all([
      ...Array.from({ length: WORKERS }, () => worker('GET')),
      ...Array.from({ length: WORKERS }, () => worker('POST')),
    ]);
    // Steady load first, all answered through the activator.
    expect(await eventually(() => outcomes.length >= 200, 20_000)).toBe(true);
    const pid = p.proc.child.pid!;
    const [victim] = platformProcesses(pid, 'activator/dist/main.js');
    expect(victim).toBeDefined();
    const killedAt = Date.now();
    process.kill(victim!, 'SIGKILL');
    await p.proc.waitForLine((l) => l.includes('activator restarted'), 20_000);
    const backAt = Date.now();
    // Load goes on a while against the restarted activator.
    const countAtBack = outcomes.length;
    expect(await eventually(() => outcomes.length >= countAtBack + 200, 20_000)).toBe(true);
    stop = true;
    await load;
    const during = outcomes.filter((o) => o.sentAt > killedAt && o.sentAt < backAt);
    const failed = outcomes.filter((o) => o.status !== 200);
    const back = platformLines(p, 'activator answers again; sending the requests held for it');
    console.log(
      `activator killed under load: ${outcomes.length} requests, failed ${JSON.stringify(failed.map((o) => [o.method, o.status, o.sentAt - killedAt]))}, ` +
        `${during.length} sent during the ${backAt - killedAt} ms outage, slowest ${Math.max(...during.map((o) => o.doneAt - o.sentAt))} ms; ` +
        `ingress: ${back.map((l) => JSON.stringify(l)).join(' ')}`,
    );

    // A GET has no body and a safe method: one that broke on the dying activator is sent again.
    expect(failed.filter((o) => o.method === 'GET')).toEqual([]);
    // A POST in flight at the activator as it died may have reached the app: 502. A POST written onto a
    // connection in the instant the process dies cannot be told from one it accepted: at most one more
    // per worker, and only around the kill.
    const posts = failed.filter((o) => o.method === 'POST');
    expect(posts.length).toBeLessThanOrEqual(2 * WORKERS);
    for (const o of posts) {
      expect(o.status).toBe(502);
      expect(o.sentAt - killedAt).toBeLessThan((backAt - killedAt) / 2);
    }
    // Requests the activator refused were held and answered once it was back: those refused early in the
    // outage (some were sent just before the kill) waited for much of it, its length as the ingress
    // measured it (the test's own view of when it ended comes late on a busy machine).
    const downMs = Number(back[0]?.downMs);
    expect(downMs).toBeGreaterThan(0);
    const heldThrough = outcomes.filter((o) => o.sentAt < backAt && o.doneAt - o.sentAt >= downMs / 2);
    expect(heldThrough.length).toBeGreaterThan(0);
    expect(heldThrough.every((o) => o.status === 200)).toBe(true);
    // The ingress noted the outage once, and tried the refused activator at most once per request in
    // flight: nothing was retried against it while it refused; its probe found it back.
    expect(
      platformLines(p, 'activator unreachable; holding its requests until it answers again'),
    ).toHaveLength(1);
    expect(back).toHaveLength(1);
    expect(Number(back[0]!.refused)).toBeLessThanOrEqual(2 * WORKERS);
    expect(Number(back[0]!.held)).toBeGreaterThan(0);
  }, 120_000);
});

import { pino } from 'pino';
import { Agent, request } from 'undici';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ControlServer, type ControlTarget } from './control-server.js';
import type { RevisionPods } from './revision-pods.js';

/** A revision as the control server reads it. */
function revision(name: string, readyStats: string[]): RevisionPods {
  return {
    namespace: 'default',
    name,
    mode: 'Proxy',
    config: { annotations: { 'autoscaling.knative.dev/target': '5' }, containerConcurrency: 2 },
    ready: () => readyStats.map((statsAddress) => ({ statsAddress })),
  } as unknown as RevisionPods;
}

const dispatcher = new Agent();
let server: ControlServer | undefined;
afterEach(async () => {
  await server?.close();
});

async function start(target: Partial<ControlTarget>): Promise<string> {
  server = new ControlServer(
    {
      revision: () => undefined,
      revisions: () => [],
      scale: () => {},
      setMode: () => {},
      publicTarget: () => ({ address: '127.0.0.1:1', headers: {} }),
      ...target,
    },
    dispatcher,
    pino({ level: 'silent' }),
  );
  return `http://127.0.0.1:${await server.listen()}`;
}

async function put(url: string, body: string): Promise<{ status: number; text: string }> {
  const res = await request(url, { method: 'PUT', body, dispatcher });
  return { status: res.statusCode, text: await res.body.text() };
}

describe('ControlServer', () => {
  it('streams every revision, then synced, then only revisions whose view changed', async () => {
    const ready: string[] = [];
    const a = revision('a-00001', ready);
    const url = await start({ revisions: () => [a] });
    const res = await request(`${url}/v1/revisions`, { dispatcher });
    res.body.setEncoding('utf8');
    const lines: string[] = [];
    let partial = '';
    res.body.on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      lines.push(...parts);
    });
    // The stream opened: every revision, then synced.
    await vi.waitFor(() => expect(lines).toHaveLength(2), { timeout: 2000, interval: 5 });
    server?.publish(a); // unchanged since the stream opened: nothing sent
    ready.push('127.0.0.1:9090');
    server?.publish(a);
    server?.publish(a);
    // Lines go out in order: once a later revision's line is in, the publishes of a sent what they did.
    server?.publish(revision('b-00001', []));
    await vi.waitFor(() => expect(lines.at(-1)).toContain('b-00001'), { timeout: 2000, interval: 5 });
    expect(lines.map((l) => JSON.parse(l))).toEqual([
      {
        type: 'upsert',
        namespace: 'default',
        name: 'a-00001',
        annotations: { 'autoscaling.knative.dev/target': '5' },
        containerConcurrency: 2,
        readyPods: [],
      },
      { type: 'synced' },
      {
        type: 'upsert',
        namespace: 'default',
        name: 'a-00001',
        annotations: { 'autoscaling.knative.dev/target': '5' },
        containerConcurrency: 2,
        readyPods: ['127.0.0.1:9090'],
      },
      {
        type: 'upsert',
        namespace: 'default',
        name: 'b-00001',
        annotations: { 'autoscaling.knative.dev/target': '5' },
        containerConcurrency: 2,
        readyPods: [],
      },
    ]);
  });

  it('takes scale and mode, and answers bad calls with their reason', async () => {
    const a = revision('a-00001', []);
    const calls: string[] = [];
    const url = await start({
      revision: (ns, name) => (ns === 'default' && name === 'a-00001' ? a : undefined),
      scale: (_r, n) => calls.push(`scale ${n}`),
      setMode: (_r, m) => calls.push(`mode ${m}`),
    });
    const base = `${url}/v1/revisions/default/a-00001`;
    expect(await put(`${base}/scale`, '{"desiredPods":3}')).toEqual({ status: 204, text: '' });
    expect(await put(`${base}/mode`, '{"mode":"Serve"}')).toEqual({ status: 204, text: '' });
    expect(calls).toEqual(['scale 3', 'mode Serve']);
    expect(await put(`${base}/scale`, '{"desiredPods":1.5}')).toEqual({
      status: 400,
      text: 'desiredPods must be a non-negative integer\n',
    });
    expect(await put(`${base}/scale`, 'not json')).toMatchObject({ status: 400 });
    expect(await put(`${base}/mode`, '{"mode":"Fast"}')).toEqual({
      status: 400,
      text: 'mode must be Proxy or Serve\n',
    });
    expect(await put(`${base}/scale`, `{"desiredPods":1,"pad":"${'x'.repeat(5000)}"}`)).toMatchObject({
      status: 400,
    });
    expect(await put(`${url}/v1/revisions/default/b-00001/scale`, '{"desiredPods":1}')).toEqual({
      status: 404,
      text: 'not found\n',
    });
    const get = await request(`${base}/scale`, { dispatcher });
    expect(get.statusCode).toBe(405);
    expect(await get.body.text()).toBe('method not allowed\n');
    expect(calls).toEqual(['scale 3', 'mode Serve']);
  });

  it('answers 404 on a path it does not serve and 500 when a call fails, as plain text', async () => {
    const url = await start({
      revision: () => revision('a-00001', []),
      scale: () => {
        throw new Error('scale failed');
      },
    });
    const unknown = await request(`${url}/v2/nothing`, { dispatcher });
    expect([unknown.statusCode, unknown.headers['content-type'], await unknown.body.text()]).toEqual([
      404,
      'text/plain; charset=utf-8',
      'not found\n',
    ]);
    expect(await put(`${url}/v1/revisions/default/a-00001/scale`, '{"desiredPods":1}')).toEqual({
      status: 500,
      text: 'internal error\n',
    });
  });

  it('answers the public-path probe 502 when nothing listens there', async () => {
    const a = revision('a-00001', []);
    const url = await start({ revision: () => a });
    const res = await request(`${url}/v1/revisions/default/a-00001/public/healthz`, { dispatcher });
    expect(res.statusCode).toBe(502);
    expect(await res.body.text()).toBe('public path unreachable\n');
  });
});

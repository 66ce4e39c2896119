/**
 * Safe retries over HTTP/2 (docs/activator.md §3.6): a request whose stream a Pod provably never
 * processed (reset with REFUSED_STREAM, or above the last stream id of its GOAWAY) goes to another Pod,
 * whatever its method; one the Pod may have seen is never sent again. The activator is the built
 * process; the Pods are real h2c servers on 127.0.0.1 that misbehave on purpose.
 */
import { once } from 'node:events';
import {
  type ClientHttp2Session,
  connect,
  createServer,
  type Http2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EndpointsFile, REVISION } from './support/activator-fixture.js';
import { FakeAutoscaler } from './support/fake-autoscaler.js';
import { eventually, h2Exchange } from './support/http.js';
import {
  activatorEnv,
  queueProxyEnv,
  type RunningActivator,
  startActivator,
  startQueueProxy,
} from './support/processes.js';

let endpoints: EndpointsFile;
let autoscaler: FakeAutoscaler | undefined;
let activator: RunningActivator | undefined;
let client: ClientHttp2Session | undefined;
const pods: Http2Server[] = [];

beforeEach(() => {
  endpoints = new EndpointsFile();
});

afterEach(async () => {
  client?.destroy();
  await activator?.proc.kill();
  await autoscaler?.close();
  for (const pod of pods.splice(0)) pod.close();
  client = activator = autoscaler = undefined;
  endpoints.remove();
});

/** An h2c server standing in for a Pod's queue-proxy; `streams` counts the streams it received. */
interface H2Pod {
  readonly address: string;
  streams: number;
}

/** An h2c server (a Pod's stand-in, or an app behind a queue-proxy) handling each request with `handle`. */
async function h2Pod(
  handle: (req: Http2ServerRequest, res: Http2ServerResponse, pod: H2Pod) => void,
): Promise<H2Pod> {
  const pod: H2Pod = { address: '', streams: 0 };
  const server = createServer((req, res) => {
    pod.streams++;
    handle(req, res, pod);
  });
  server.on('session', (session) => session.on('error', () => {}));
  pods.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return Object.assign(pod, { address: `127.0.0.1:${(server.address() as AddressInfo).port}` });
}

/** A Pod that reads the request and answers 200 with its body. */
const answering = (req: Http2ServerRequest, res: Http2ServerResponse): void => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => res.end(`ok ${Buffer.concat(chunks).toString()}`));
};

/** The activator with `misbehaving` and a good Pod, both listed ready; the good Pod's counter. */
async function start(misbehaving: H2Pod): Promise<H2Pod> {
  const good = await h2Pod(answering);
  endpoints.write({
    endpoints: [misbehaving, good].map((p) => ({ address: p.address, ready: true })),
  });
  autoscaler = await FakeAutoscaler.start();
  activator = await startActivator(activatorEnv(endpoints.path, autoscaler.url));
  await eventually(() => autoscaler!.clients === 1);
  client = connect(activator.url);
  client.on('error', () => {});
  return good;
}

/** `n` POSTs with a body over HTTP/2, one after another; their statuses and bodies. */
async function posts(n: number): Promise<{ status: number; body: string }[]> {
  const out: { status: number; body: string }[] = [];
  for (let i = 0; i < n; i++) {
    const reply = await h2Exchange(
      client!,
      { ':method': 'POST', ':path': '/', 'content-type': 'text/plain', ...REVISION },
      `body-${i}`,
    );
    out.push({ status: reply.status, body: reply.body });
  }
  return out;
}

describe('the activator retries an HTTP/2 request a Pod never processed (docs/activator.md §3.6)', () => {
  it('a stream reset with REFUSED_STREAM goes to another Pod, body and all', async () => {
    const refusing = await h2Pod((req) => req.stream.close(0x7));
    await start(refusing);
    const replies = await posts(30);
    expect(replies).toEqual(replies.map((_, i) => ({ status: 200, body: `ok body-${i}` })));
    expect(refusing.streams).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it('a stream above the last stream id of the Pod’s GOAWAY goes to another Pod', async () => {
    const goingAway = await h2Pod((req, res) => {
      // The first stream is served; every later one is left unprocessed by a GOAWAY naming stream 1.
      if (req.stream.id === 1) return answering(req, res);
      const session = req.stream.session;
      session?.goaway(0, 1);
      setTimeout(() => session?.destroy(), 200);
    });
    await start(goingAway);
    const replies = await posts(30);
    expect(replies).toEqual(replies.map((_, i) => ({ status: 200, body: `ok body-${i}` })));
    expect(goingAway.streams).toBeGreaterThanOrEqual(2);
  }, 60_000);

  it('a stream the Pod may have processed is never sent again: 502, and nothing reaches the other Pod', async () => {
    const resetting = await h2Pod((req) => req.stream.close(0x2));
    const good = await start(resetting);
    const replies = await posts(30);
    const failed = replies.filter((r) => r.status !== 200);
    expect(resetting.streams).toBeGreaterThanOrEqual(1);
    expect(failed).toHaveLength(resetting.streams);
    expect(failed.every((r) => r.status === 502)).toBe(true);
    expect(good.streams).toBe(30 - resetting.streams);
  }, 60_000);
});

describe('the queue-proxy tells the activator when its h2c app never processed a stream (docs/wire.md §1)', () => {
  /** A real queue-proxy in front of an h2c app that refuses every stream. */
  async function refusingPod(): Promise<{ app: H2Pod; address: string; port: number }> {
    const app = await h2Pod((req) => req.stream.close(0x7));
    const port = Number(app.address.split(':')[1]);
    const qp = await startQueueProxy(queueProxyEnv(port, { SERVING_READINESS_PROBE: '' }));
    return { app, address: `127.0.0.1:${qp.port}`, port: qp.port };
  }

  it('answers 503 with K-Request-Not-Sent and Retry-After', async () => {
    const pod = await refusingPod();
    const session = connect(`http://127.0.0.1:${pod.port}`);
    try {
      const stream = session.request({ ':method': 'POST', ':path': '/' });
      stream.end('payload');
      const [headers] = (await once(stream, 'response')) as [Record<string, string>];
      stream.resume();
      expect(headers[':status']).toBe(503);
      expect(headers['k-request-not-sent']).toBeDefined();
      expect(headers['retry-after']).toBe('1');
      expect(pod.app.streams).toBe(1);
    } finally {
      session.destroy();
    }
  }, 60_000);

  it('so that the activator sends the request, body and all, to another Pod', async () => {
    const pod = await refusingPod();
    await start({ address: pod.address, streams: 0 });
    const replies = await posts(30);
    expect(replies).toEqual(replies.map((_, i) => ({ status: 200, body: `ok body-${i}` })));
    expect(pod.app.streams).toBeGreaterThanOrEqual(1);
  }, 60_000);
});

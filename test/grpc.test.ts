import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type CallOptions,
  type Client,
  type ClientDuplexStream,
  type ClientReadableStream,
  type ClientUnaryCall,
  type ClientWritableStream,
  credentials,
  type GrpcObject,
  loadPackageDefinition,
  Metadata,
  type ServiceClientConstructor,
  type ServiceError,
  type StatusObject,
  status,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeAutoscaler } from './support/fake-autoscaler.js';
import { eventually, h2Exchange, KUBELET_PROBE, send } from './support/http.js';
import {
  activatorEnv,
  queueProxyEnv,
  ROOT,
  type RunningActivator,
  type RunningQueueProxy,
  spawnNode,
  startActivator,
  startQueueProxy,
  type TestProcess,
} from './support/processes.js';

const definition = loadSync(
  [join(ROOT, 'test/support/grpc-test.proto'), join(ROOT, 'test/support/grpc-health.proto')],
  { keepCase: true, defaults: true },
);
const Tester = ((loadPackageDefinition(definition).zerogate as GrpcObject).test as GrpcObject)
  .Tester as ServiceClientConstructor;

interface EchoReply {
  text: string;
  proxy: string;
  forwarded_for: string;
}

interface AppStats {
  slow_current: number;
  slow_max: number;
  slow_started: number;
  cancelled: number;
  health_checks: number;
}

/** How a call ended: its reply or error, the initial metadata and the status with its trailing metadata. */
interface Outcome<T> {
  reply: T | undefined;
  error: ServiceError | null;
  metadata: Metadata | undefined;
  status: StatusObject;
  ms: number;
}

type UnaryMethod = (
  request: object,
  metadata: Metadata,
  options: CallOptions,
  callback: (err: ServiceError | null, value?: unknown) => void,
) => ClientUnaryCall;

/** Starts a unary call; `done` settles once both the callback and the status have arrived. */
function unary<T>(
  client: Client,
  method: string,
  request: object,
  options: CallOptions = {},
): { call: ClientUnaryCall; done: Promise<Outcome<T>> } {
  const t0 = Date.now();
  let call!: ClientUnaryCall;
  const done = new Promise<Outcome<T>>((resolve) => {
    let result: { error: ServiceError | null; reply: T | undefined } | undefined;
    let final: StatusObject | undefined;
    let metadata: Metadata | undefined;
    const settle = () => {
      if (result && final) resolve({ ...result, metadata, status: final, ms: Date.now() - t0 });
    };
    const fn = (client as unknown as Record<string, UnaryMethod>)[method]!;
    call = fn.call(client, request, new Metadata(), options, (error, value) => {
      result = { error, reply: value as T | undefined };
      settle();
    });
    call.on('metadata', (m: Metadata) => {
      metadata = m;
    });
    call.on('status', (s: StatusObject) => {
      final = s;
      settle();
    });
  });
  return { call, done };
}

/** Collects a stream of replies until its status. */
function replies(
  stream: ClientReadableStream<EchoReply> | ClientDuplexStream<EchoReply, EchoReply>,
): Promise<{ texts: string[]; replies: EchoReply[]; status: StatusObject }> {
  return new Promise((resolve) => {
    const got: EchoReply[] = [];
    stream.on('data', (m: EchoReply) => got.push(m));
    // A non-OK status is also emitted as an error; the status event carries it either way.
    stream.on('error', () => undefined);
    stream.on('status', (s: StatusObject) =>
      resolve({ texts: got.map((r) => r.text), replies: got, status: s }),
    );
  });
}

function newClient(port: number, authority?: string): Client {
  return new Tester(
    `127.0.0.1:${port}`,
    credentials.createInsecure(),
    authority ? { 'grpc.default_authority': authority } : {},
  );
}

async function appStats(client: Client): Promise<AppStats> {
  const { reply, error } = await unary<AppStats>(client, 'Stats', {}).done;
  if (error) throw error;
  return reply!;
}

interface GrpcApp {
  proc: TestProcess;
  port: number;
  /** A client talking to the app directly, for its stats and health switch. */
  direct: Client;
}

const clients: Client[] = [];

/** Clock granularity allowed when checking that a deadline fired no earlier than it was set for. */
const GRANULARITY_MS = 20;

async function startGrpcApp(env: Record<string, string> = {}): Promise<GrpcApp> {
  const proc = spawnNode('test/support/grpc-app.mjs', { PORT: '0', ...env });
  const line = await proc.waitForLine((l) => l.startsWith('{"port"'));
  const port = (JSON.parse(line) as { port: number }).port;
  const direct = newClient(port);
  clients.push(direct);
  return { proc, port, direct };
}

/** A queue-proxy in front of a gRPC app, probing it with the gRPC health protocol. */
function grpcQueueProxy(app: GrpcApp, env: Record<string, string> = {}): Promise<RunningQueueProxy> {
  return startQueueProxy(
    queueProxyEnv(app.port, {
      SERVING_READINESS_PROBE: JSON.stringify({ grpc: { port: app.port, service: '' } }),
      ...env,
    }),
  );
}

function clientFor(port: number, authority?: string): Client {
  const client = newClient(port, authority);
  clients.push(client);
  return client;
}

afterAll(() => {
  for (const client of clients.splice(0)) client.close();
});

/** Every call kind and status path, run the same way against the queue-proxy and the activator. */
async function expectAllCallKinds(client: Client, proxy: string, forwardedFor: string): Promise<void> {
  const echo = await unary<EchoReply>(client, 'Echo', { text: 'héllo' }).done;
  expect(echo.error).toBeNull();
  expect(echo.reply).toEqual({ text: 'héllo', proxy, forwarded_for: forwardedFor });
  expect(echo.metadata?.get('x-initial')).toEqual(['hello']);
  expect(echo.status.code).toBe(status.OK);
  expect(echo.status.metadata.get('x-echo-trailer')).toEqual(['echoed h%C3%A9llo']);

  const count = await replies(
    (client as unknown as { Count(r: object): ClientReadableStream<EchoReply> }).Count({ n: 5 }),
  );
  expect(count.texts).toEqual(['0', '1', '2', '3', '4']);
  expect(count.status.code).toBe(status.OK);
  expect(count.status.metadata.get('x-count')).toEqual(['5']);

  const collected = await new Promise<Outcome<EchoReply>>((resolve) => {
    const t0 = Date.now();
    let reply: EchoReply | undefined;
    let error: ServiceError | null = null;
    let final: StatusObject | undefined;
    const settle = () => {
      if (final && (reply || error))
        resolve({ reply, error, metadata: undefined, status: final, ms: Date.now() - t0 });
    };
    const call = (
      client as unknown as {
        Collect(cb: (e: ServiceError | null, r?: EchoReply) => void): ClientWritableStream<object>;
      }
    ).Collect((e, r) => {
      error = e;
      reply = r;
      settle();
    });
    call.on('status', (s: StatusObject) => {
      final = s;
      settle();
    });
    for (const text of ['a', 'b', 'c']) call.write({ text });
    call.end();
  });
  expect(collected.error).toBeNull();
  expect(collected.reply?.text).toBe('a,b,c');
  expect(collected.status.metadata.get('x-collected')).toEqual(['3']);

  // Bidi: each message is answered before the next is sent, so the stream is really full duplex.
  const chat = (client as unknown as { Chat(): ClientDuplexStream<object, EchoReply> }).Chat();
  const chatDone = replies(chat);
  const answers: string[] = [];
  for (const text of ['one', 'two', 'three']) {
    const answer = new Promise<string>((resolve) => chat.once('data', (m: EchoReply) => resolve(m.text)));
    chat.write({ text });
    answers.push(await answer);
  }
  chat.end();
  expect(answers).toEqual(['re:one', 're:two', 're:three']);
  const chatEnd = await chatDone;
  expect(chatEnd.status.code).toBe(status.OK);
  expect(chatEnd.status.metadata.get('x-chat')).toEqual(['done']);
}

/**
 * An app's error status arrives intact, whether grpc-js answers with a trailers-only response (one
 * HEADERS frame ending the stream: a call that fails before any header was sent) or with the response
 * headers first and the status in trailers after them, with no message between.
 */
async function expectErrorStatus(client: Client): Promise<void> {
  const headersFirst = new Metadata();
  headersFirst.set('x-headers-first', '1');
  for (const metadata of [new Metadata(), headersFirst]) {
    const failed = await new Promise<Outcome<EchoReply>>((resolve) => {
      const t0 = Date.now();
      let error: ServiceError | null = null;
      let initial: Metadata | undefined;
      let final: StatusObject | undefined;
      const settle = () => {
        if (final && error)
          resolve({ reply: undefined, error, metadata: initial, status: final, ms: Date.now() - t0 });
      };
      const call = (client as unknown as Record<string, UnaryMethod>)['Fail']!.call(
        client,
        { text: 'why' },
        metadata,
        {},
        (e) => {
          error = e;
          settle();
        },
      );
      call.on('metadata', (m: Metadata) => {
        initial = m;
      });
      call.on('status', (s: StatusObject) => {
        final = s;
        settle();
      });
    });
    const which = metadata === headersFirst ? 'headers first' : 'trailers-only';
    expect(failed.error?.code, which).toBe(status.FAILED_PRECONDITION);
    expect(failed.status.details, which).toBe('precondition failed: why ünïcode 100%');
    expect(failed.status.metadata.get('x-reason'), which).toEqual(['testing']);
    expect(failed.status.metadata.get('x-detail-bin'), which).toEqual([Buffer.from([0, 1, 2, 255])]);
    if (metadata === headersFirst) expect(failed.metadata?.get('x-initial'), which).toEqual(['sent']);
  }
}

/** A client deadline and a client cancel both reach the app as a cancelled call. */
async function expectDeadlineAndCancel(client: Client, app: GrpcApp): Promise<void> {
  const before = (await appStats(app.direct)).cancelled;
  const late = await unary<EchoReply>(client, 'Slow', { ms: 3000 }, { deadline: Date.now() + 300 }).done;
  // Ended by the deadline, not by the app's answer after 3 s, and no earlier than the deadline.
  expect(late.error?.code).toBe(status.DEADLINE_EXCEEDED);
  expect(late.ms).toBeGreaterThanOrEqual(300 - GRANULARITY_MS);
  expect(await eventually(async () => (await appStats(app.direct)).cancelled === before + 1, 2000)).toBe(
    true,
  );

  // Without a deadline the app has no timer of its own: only the proxies' stream resets can cancel it.
  const { call, done } = unary<EchoReply>(client, 'Slow', { ms: 3000 });
  expect(await eventually(async () => (await appStats(app.direct)).slow_current === 1, 2000)).toBe(true);
  call.cancel();
  expect((await done).error?.code).toBe(status.CANCELLED);
  expect(await eventually(async () => (await appStats(app.direct)).cancelled === before + 2, 2000)).toBe(
    true,
  );
  expect((await appStats(app.direct)).slow_current).toBe(0);
}

describe('gRPC through the queue-proxy (docs/queue-proxy.md §3.3)', () => {
  let app: GrpcApp;
  let qp: RunningQueueProxy;
  beforeAll(async () => {
    app = await startGrpcApp();
    qp = await grpcQueueProxy(app);
  });

  it('carries unary, server-streaming, client-streaming and bidi calls with metadata, statuses and trailers', async () => {
    await expectAllCallKinds(clientFor(qp.port), '', '127.0.0.1');
  });

  it('relays an error status with its grpc-message and custom trailing metadata', async () => {
    await expectErrorStatus(clientFor(qp.port));
  });

  it('ends a call past its deadline with DEADLINE_EXCEEDED; deadlines and cancels reach the app', async () => {
    await expectDeadlineAndCancel(clientFor(qp.port), app);
  });

  it('rejects the call past the breaker queue (10 × CC queued + CC running) with UNAVAILABLE while the slot is still held', async () => {
    const limited = await startGrpcApp();
    const cc1 = await grpcQueueProxy(limited, {
      CONTAINER_CONCURRENCY: '1',
      OBSERVABILITY_CONFIG: '{"requestMetrics":{"protocol":"prometheus"}}',
    });
    const client = clientFor(cc1.port);
    const accepted = Array.from({ length: 11 }, () => unary<EchoReply>(client, 'Slow', { ms: 5000 }));
    let acceptedEnded = 0;
    for (const { done } of accepted) void done.then(() => acceptedEnded++);
    expect(await eventually(async () => (await appStats(limited.direct)).slow_current === 1, 3000)).toBe(
      true,
    );
    // The other ten wait in the breaker's queue: the running call plus ten waiting fill it.
    const queueDepth = async () =>
      /kn_serving_queue_depth\{[^}]*\} (\d+)\n/.exec(
        await (await fetch(`http://127.0.0.1:${cc1.metricsPort}/metrics`)).text(),
      )?.[1];
    expect(await eventually(async () => (await queueDepth()) === '11')).toBe(true);
    const rejected = await unary<EchoReply>(client, 'Slow', { ms: 5000 }).done;
    // The queue-proxy answers a gRPC call it refuses with a trailers-only UNAVAILABLE (HTTP 503 before).
    expect(rejected.error?.code).toBe(status.UNAVAILABLE);
    // Without waiting for the slot to free: every accepted call, the running one included, is still on.
    expect(acceptedEnded).toBe(0);
    const stats = await appStats(limited.direct);
    expect(stats.slow_max).toBe(1);
    expect(stats.slow_started).toBe(1);
    for (const { call } of accepted) call.cancel();
    const ended = await Promise.all(accepted.map((a) => a.done));
    expect(ended.map((o) => o.error?.code)).toEqual(Array(11).fill(status.CANCELLED));
  });

  it('ends a call past the revision timeout with a gRPC error and cancels it at the app', async () => {
    const timed = await startGrpcApp();
    const qp1 = await grpcQueueProxy(timed, { REVISION_TIMEOUT_SECONDS: '1' });
    const outcome = await unary<EchoReply>(clientFor(qp1.port), 'Slow', { ms: 3000 }).done;
    // The queue-proxy's timeout (504 `request timeout` for HTTP) is answered to a gRPC call as a
    // trailers-only DEADLINE_EXCEEDED. As plain HTTP 504 it reached grpc-js as UNAVAILABLE.
    expect(outcome.error?.code).not.toBe(status.OK);
    expect(outcome.error?.code).toBe(status.DEADLINE_EXCEEDED);
    // No earlier than the deadline; ended by it rather than by the app's answer after 3 s (that is OK).
    expect(outcome.ms).toBeGreaterThanOrEqual(1000 - GRANULARITY_MS);
    expect(await eventually(async () => (await appStats(timed.direct)).cancelled === 1, 2000)).toBe(true);
  });

  it('reports ready to the kubelet probe once grpc.health.v1 says SERVING', async () => {
    const starting = await startGrpcApp({ NOT_SERVING: '1' });
    const qp2 = await grpcQueueProxy(starting);
    let settled = false;
    // periodSeconds 0: the probe polls the health service until it says SERVING (or 10 s pass).
    const probe = send(`${qp2.url}/`, { headers: KUBELET_PROBE }).finally(() => {
      settled = true;
    });
    expect(await eventually(async () => (await appStats(starting.direct)).health_checks >= 2, 3000)).toBe(
      true,
    );
    expect(settled).toBe(false);
    const set = await unary(starting.direct, 'SetServing', { serving: true }).done;
    expect(set.error).toBeNull();
    const ready = await probe;
    expect(ready.status).toBe(200);
    expect(ready.body).toBe('queue');
  });
});

describe('gRPC through the activator (docs/activator.md §3.6: the protocol is kept hop by hop)', () => {
  let dir: string;
  let app: GrpcApp;
  let autoscaler: FakeAutoscaler;
  let activator: RunningActivator;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'zerogate-grpc-'));
    app = await startGrpcApp();
    const qp = await grpcQueueProxy(app);
    const plain = spawnNode('test/support/h2c-app.mjs', { PORT: '0' });
    const plainPort = (
      JSON.parse(await plain.waitForLine((l) => l.startsWith('{"port"'))) as { port: number }
    ).port;
    const plainQp = await startQueueProxy(
      queueProxyEnv(plainPort, {
        SERVING_READINESS_PROBE: JSON.stringify({ tcpSocket: { port: plainPort } }),
      }),
    );
    const revision = (name: string, port: number) => ({
      namespace: 'default',
      name,
      containerConcurrency: 0,
      timeoutSeconds: 300,
      endpoints: [{ address: `127.0.0.1:${port}`, ready: true }],
    });
    const file = join(dir, 'endpoints.json');
    writeFileSync(
      file,
      JSON.stringify({
        revisions: [revision('hello-00001', qp.port), revision('plain-00001', plainQp.port)],
      }),
    );
    autoscaler = await FakeAutoscaler.start();
    activator = await startActivator(activatorEnv(file, autoscaler.url));
  });

  afterAll(async () => {
    await autoscaler?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('forwards an h2c request over h2c to the queue-proxy, trailers included', async () => {
    const session = connect(activator.url);
    try {
      const reply = await h2Exchange(
        session,
        {
          ':method': 'POST',
          ':path': '/echo',
          ':authority': 'plain-00001.default.svc.cluster.local',
          te: 'trailers',
        },
        'ping',
      );
      expect(reply.status).toBe(200);
      const seen = JSON.parse(reply.body) as {
        httpVersion: string;
        body: string;
        headers: Record<string, string>;
      };
      // The app's queue-proxy forwards h2c only what arrived over h2c: the activator kept HTTP/2.
      expect(seen.httpVersion).toBe('2.0');
      expect(seen.body).toBe('ping');
      expect(seen.headers['k-proxy-request']).toBe('activator');
      expect(seen.headers[':authority']).toBe('plain-00001.default.svc.cluster.local');
      expect(reply.trailers['x-checksum']).toBe('abc123');
    } finally {
      session.close();
    }
  });

  it('carries unary, server-streaming, client-streaming and bidi calls with metadata, statuses and trailers', async () => {
    const client = clientFor(activator.port, 'hello-00001.default.svc.cluster.local');
    await expectAllCallKinds(client, 'activator', '127.0.0.1, 127.0.0.1');
  });

  it('relays an error status with its grpc-message and custom trailing metadata', async () => {
    await expectErrorStatus(clientFor(activator.port, 'hello-00001.default.svc.cluster.local'));
  });

  it('ends a call past its deadline with DEADLINE_EXCEEDED; deadlines and cancels reach the app', async () => {
    const client = clientFor(activator.port, 'hello-00001.default.svc.cluster.local');
    await expectDeadlineAndCancel(client, app);
  });

  it('answers a call for an unknown revision with NOT_FOUND, trailers-only; plain HTTP still gets 404', async () => {
    const client = clientFor(activator.port, 'nope-00001.default.svc.cluster.local');
    const outcome = await unary<EchoReply>(client, 'Echo', { text: 'x' }).done;
    // Plain HTTP 404, as Knative answers, would reach grpc-js as UNIMPLEMENTED (a missing method).
    expect(outcome.error?.code).toBe(status.NOT_FOUND);
    expect(outcome.status.details).toBe(
      'Error getting active endpoint: revision "default/nope-00001" not found',
    );

    // On the wire: one HEADERS frame, HTTP 200 with the status in it, and no body.
    const session = connect(activator.url);
    try {
      const raw = await new Promise<{ headers: Record<string, unknown>; endStream: boolean }>(
        (resolve, reject) => {
          const stream = session.request({
            ':method': 'POST',
            ':path': '/zerogate.test.Tester/Echo',
            ':authority': 'nope-00001.default.svc.cluster.local',
            'content-type': 'application/grpc',
            te: 'trailers',
          });
          // flags: the HEADERS frame's; END_STREAM (0x1) makes the response trailers-only.
          stream.on('response', (headers, flags) => resolve({ headers, endStream: (flags & 0x1) !== 0 }));
          stream.on('error', reject);
          stream.end();
        },
      );
      expect(raw.headers[':status']).toBe(200);
      expect(raw.headers['content-type']).toBe('application/grpc');
      expect(raw.headers['grpc-status']).toBe(String(status.NOT_FOUND));
      expect(raw.endStream).toBe(true);
    } finally {
      session.close();
    }
    const plain = await send(`${activator.url}/`, {
      headers: { host: 'nope-00001.default.svc.cluster.local' },
    });
    expect(plain.status).toBe(404);
  });
});

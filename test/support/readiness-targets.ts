/**
 * Targets for the readiness probe's unit tests (packages/queue-proxy/src/readiness): real servers on
 * 127.0.0.1 that answer as a test needs, probe specs, and a prober closed after each test.
 */

import http from 'node:http';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { HttpProbeSpec, ProbeSpec } from '../../packages/queue-proxy/src/readiness/probe-spec.js';
import { ReadinessProber } from '../../packages/queue-proxy/src/readiness/readiness-prober.js';

/** Cleanups registered by the helpers below, run by {@link runCleanups}. */
export const cleanups: (() => void | Promise<void>)[] = [];

/** Runs and forgets every cleanup registered so far, newest first; call it in `afterEach`. */
export async function runCleanups(): Promise<void> {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
}

/** Listens on 127.0.0.1 (on `port`, or any free port), destroys every connection on cleanup. */
export async function serve<S extends net.Server>(server: S, port = 0): Promise<{ server: S; port: number }> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return { server, port: (server.address() as net.AddressInfo).port };
}

/** A port nothing listens on. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** How many connections the server has open. */
export function connections(server: net.Server): Promise<number> {
  return new Promise((resolve, reject) =>
    server.getConnections((err, n) => (err ? reject(err) : resolve(n))),
  );
}

/** Waits up to `ms` for the server to have no open connections; returns how many are left. */
export async function drained(server: net.Server, ms = 1000): Promise<number> {
  const deadline = Date.now() + ms;
  let n = await connections(server);
  while (n > 0 && Date.now() < deadline) {
    await sleep(10);
    n = await connections(server);
  }
  return n;
}

/** A TCP server that accepts connections and never writes a byte. */
export function silentServer(): Promise<{ server: net.Server; port: number }> {
  return serve(net.createServer((socket) => socket.resume()));
}

/** An HTTP/1.1 server answering each request with the next status of `statuses` (the last one repeats). */
export async function httpServer(statuses: number[] = [200], delayMs = 0) {
  const requests: http.IncomingMessage[] = [];
  const server = http.createServer((req, res) => {
    const status = statuses[Math.min(requests.length, statuses.length - 1)] ?? 200;
    requests.push(req);
    setTimeout(() => {
      res.writeHead(status, status === 302 ? { location: '/elsewhere' } : {});
      res.end('body');
    }, delayMs);
  });
  return { ...(await serve(server)), requests };
}

/** Timing of a probe with a period: one attempt of up to a second. */
export const timing = { timeoutMs: 1000, periodMs: 1000, successThreshold: 1 };

/** A TCP probe spec on 127.0.0.1 with {@link timing}, overridable. */
export function tcpSpec(port: number, extra: Partial<ProbeSpec> = {}): ProbeSpec {
  return { kind: 'tcp', host: '127.0.0.1', port, ...timing, ...extra } as ProbeSpec;
}

/** An HTTP probe spec of `/` on 127.0.0.1 with {@link timing}, overridable. */
export function httpSpec(port: number, extra: Partial<HttpProbeSpec> = {}): ProbeSpec {
  return {
    kind: 'http',
    scheme: 'http',
    host: '127.0.0.1',
    port,
    path: '/',
    headers: [],
    ...timing,
    ...extra,
  };
}

/** A gRPC probe spec on 127.0.0.1 with {@link timing}, overridable. */
export function grpcSpec(port: number, service: string, extra: Partial<ProbeSpec> = {}): ProbeSpec {
  return { kind: 'grpc', host: '127.0.0.1', port, service, ...timing, ...extra } as ProbeSpec;
}

/** A ReadinessProber closed on cleanup. */
export function prober(probes: ProbeSpec[], options?: ConstructorParameters<typeof ReadinessProber>[1]) {
  const p = new ReadinessProber(probes, options);
  cleanups.push(() => p.close());
  return p;
}

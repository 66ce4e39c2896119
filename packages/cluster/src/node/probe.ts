/**
 * One attempt of a kubelet probe or hook against a Pod: HTTP GET (2xx/3xx passes), TCP connect, gRPC
 * health (`grpc.health.v1.Health/Check` answers SERVING), or a command run in the container (exit 0).
 */
import { request as httpRequest } from 'node:http';
import { connect as http2Connect } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import type { Container, HttpGetAction, Probe } from './pod-spec.js';

/** The kubelet's User-Agent on probes, as `kube-probe/<major>.<minor>`. */
export const PROBE_USER_AGENT = 'kube-probe/1.34';

/** What an exec action runs; resolves with the exit code. */
export type ExecRunner = (command: readonly string[], timeoutMs: number) => Promise<number>;

/** A named port of the container, or a number. */
export function resolvePort(port: number | string, container: Container): number {
  if (typeof port === 'number') return port;
  if (/^\d+$/.test(port)) return Number(port);
  const named = container.ports?.find((p) => p.name === port)?.containerPort;
  if (named === undefined) throw new Error(`container ${container.name} has no port named ${port}`);
  return named;
}

/** One attempt of `probe` against the Pod at `podIp`; resolves true when it passed. */
export async function probeOnce(
  probe: Probe,
  container: Container,
  podIp: string,
  exec: ExecRunner,
): Promise<boolean> {
  const timeoutMs = (probe.timeoutSeconds ?? 1) * 1000;
  try {
    if (probe.httpGet) return await httpGet(probe.httpGet, container, podIp, timeoutMs);
    if (probe.tcpSocket) {
      return await tcpConnect(
        probe.tcpSocket.host ?? podIp,
        resolvePort(probe.tcpSocket.port, container),
        timeoutMs,
      );
    }
    if (probe.grpc) return await grpcHealth(podIp, probe.grpc.port, probe.grpc.service ?? '', timeoutMs);
    if (probe.exec) return (await exec(probe.exec.command, timeoutMs)) === 0;
  } catch {
    return false;
  }
  return false;
}

/** An HTTP GET as the kubelet sends it; resolves true for a 2xx or 3xx status. */
export function httpGet(
  action: HttpGetAction,
  container: Container,
  podIp: string,
  timeoutMs: number,
): Promise<boolean> {
  const port = resolvePort(action.port, container);
  const headers: Record<string, string> = { 'user-agent': PROBE_USER_AGENT, accept: '*/*' };
  for (const h of action.httpHeaders ?? []) headers[h.name.toLowerCase()] = h.value;
  const send = action.scheme === 'HTTPS' ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    const req = send(
      {
        host: action.host ?? podIp,
        port,
        path: action.path ?? '/',
        headers,
        timeout: timeoutMs,
        rejectUnauthorized: false,
      },
      (res) => {
        res.resume();
        const status = res.statusCode ?? 0;
        resolve(status >= 200 && status < 400);
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

function tcpConnect(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: timeoutMs });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

/** `grpc.health.v1.Health/Check` for `service`; true when the answer is SERVING (status 1). */
function grpcHealth(host: string, port: number, service: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const session = http2Connect(`http://${host}:${port}`);
    const done = (ok: boolean) => {
      clearTimeout(timer);
      session.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    session.on('error', () => done(false));
    const name = Buffer.from(service, 'utf8');
    // HealthCheckRequest { string service = 1; } in a gRPC frame: flag byte, length, message.
    const message =
      name.length > 0 ? Buffer.concat([Buffer.from([0x0a, name.length]), name]) : Buffer.alloc(0);
    const frame = Buffer.alloc(5 + message.length);
    frame.writeUInt32BE(message.length, 1);
    message.copy(frame, 5);
    const stream = session.request({
      ':method': 'POST',
      ':path': '/grpc.health.v1.Health/Check',
      'content-type': 'application/grpc',
      te: 'trailers',
      'user-agent': PROBE_USER_AGENT,
    });
    const chunks: Buffer[] = [];
    let grpcStatus: string | undefined;
    stream.on('response', (h) => {
      if (h['grpc-status'] !== undefined) grpcStatus = String(h['grpc-status']);
    });
    stream.on('trailers', (t) => {
      grpcStatus = String(t['grpc-status'] ?? grpcStatus);
    });
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', () => done(false));
    stream.on('end', () => {
      const body = Buffer.concat(chunks);
      // HealthCheckResponse { ServingStatus status = 1; }: SERVING is 1.
      done(grpcStatus === '0' && body.length >= 7 && body[5] === 0x08 && body[6] === 1);
    });
    stream.end(frame);
  });
}

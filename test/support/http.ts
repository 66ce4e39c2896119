import type { X509Certificate } from 'node:crypto';
import { readdirSync, readlinkSync } from 'node:fs';
import type { ClientHttp2Session, OutgoingHttpHeaders } from 'node:http2';
import { request as httpsNodeRequest } from 'node:https';
import { connect } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { Agent, request } from 'undici';

/** A response read whole. */
export interface TextResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** Sends one request with its own connection pool (closed afterwards) and reads the body as text. */
export async function send(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string; signal?: AbortSignal } = {},
): Promise<TextResponse> {
  const agent = new Agent({ connections: 1 });
  try {
    const res = await request(url, {
      dispatcher: agent,
      method: (options.method ?? 'GET') as 'GET',
      headers: options.headers,
      body: options.body,
      signal: options.signal,
      headersTimeout: 0,
      bodyTimeout: 0,
    });
    return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
  } finally {
    await agent.destroy();
  }
}

/** An HTTPS response, read whole, with the certificate the server presented. */
export interface HttpsResponse extends TextResponse {
  /** The serial number of the server's certificate, hex. */
  serial: string;
}

/**
 * Sends one request to `127.0.0.1:port` over its own TLS connection. With `ca` the server's certificate
 * is verified against it (for `servername` when given, as the API server verifies a webhook); without,
 * nothing is verified (as the kubelet probes).
 */
export function httpsRequest(
  port: number,
  options: {
    method?: string;
    path: string;
    headers?: Record<string, string | number>;
    body?: string | Buffer;
    ca?: Buffer;
    servername?: string;
  },
): Promise<HttpsResponse> {
  return new Promise((resolve, reject) => {
    const req = httpsNodeRequest(
      {
        host: '127.0.0.1',
        port,
        method: options.method ?? 'GET',
        path: options.path,
        headers: options.headers,
        agent: false,
        ...(options.ca ? { ca: options.ca, servername: options.servername } : { rejectUnauthorized: false }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        const cert = (res.socket as TLSSocket).getPeerX509Certificate?.() as X509Certificate | undefined;
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
            serial: cert?.serialNumber ?? '',
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Writes raw bytes to a port and returns everything read until the server closes (or `waitMs` passes). */
export function rawExchange(port: number, payload: string | Buffer, waitMs = 2000): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(), waitMs);
    socket.on('data', (c) => chunks.push(c));
    // A server may answer and close while the request is still being written: keep what was read.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('latin1'));
    });
    socket.write(payload);
  });
}

/** Whether a TCP connection to 127.0.0.1:`port` is accepted. */
export function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Counts the TCP sockets a process holds open (Linux `/proc/<pid>/fd`). */
export function socketCount(pid: number): number {
  let n = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')) n++;
    } catch {
      // The descriptor closed while listing.
    }
  }
  return n;
}

/** Polls `check` every 25 ms until it returns true or `timeoutMs` passes; returns the last result. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Probe headers the kubelet sends to the queue-proxy's readiness endpoint. */
export const KUBELET_PROBE = { 'user-agent': 'kube-probe/1.30', 'k-network-probe': 'queue' };

/** One HTTP/2 response, read whole. */
export interface H2Reply {
  status: number;
  body: string;
  trailers: Record<string, unknown>;
}

/** Sends one request on an open HTTP/2 session and reads its status, body and trailers. */
export function h2Exchange(
  session: ClientHttp2Session,
  headers: OutgoingHttpHeaders,
  body?: string,
): Promise<H2Reply> {
  return new Promise((resolve, reject) => {
    session.once('error', reject);
    const stream = session.request(headers);
    const reply: H2Reply = { status: 0, body: '', trailers: {} };
    stream.on('response', (h) => {
      reply.status = Number(h[':status']);
    });
    stream.on('trailers', (t) => {
      reply.trailers = t;
    });
    stream.setEncoding('utf8');
    stream.on('data', (c: string) => {
      reply.body += c;
    });
    stream.on('end', () => {
      session.off('error', reject);
      resolve(reply);
    });
    stream.on('error', reject);
    stream.end(body);
  });
}

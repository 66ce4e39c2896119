/**
 * The autoscaler's websocket endpoint for activator reports. Mirrors
 * `pkg/autoscaler/statserver/server.go`: any path upgrades to a websocket, binary frames carry
 * protobuf `WireStatMessages`, every message is stamped with its arrival time and handed on, a
 * frame that does not decode is dropped without closing the connection, and shutdown sends close
 * code 1012 so activators reconnect at once to the next autoscaler.
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { decodeWireStatMessages, type Logger, type Stat, sendError } from '@zerogate/core';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';

/** Port Knative's autoscaler serves the stat websocket on (`autoscaler` Service port `http`, 8080). */
export const STAT_SERVER_PORT = 8080;

/** Close code telling a client the server is restarting and it should reconnect (`server.go closeCodeServiceRestart`). */
export const CLOSE_CODE_SERVICE_RESTART = 1012;

/**
 * Largest frame accepted. One activator batches every revision it saw in a second into one frame of
 * roughly 100 bytes per revision, so 8 MiB covers tens of thousands of revisions while keeping a
 * broken or hostile peer from making the server buffer ws's default 100 MiB.
 */
export const MAX_FRAME_BYTES = 8 * 1024 * 1024;

/** How long {@link StatServer.close} waits for clients to answer the close frame before cutting them off. */
export const CLOSE_GRACE_MS = 1000;

/** TCP keep-alive period on accepted connections (`server.go onConnStateChange`: 3 minutes). */
const TCP_KEEPALIVE_MS = 3 * 60 * 1000;

/** Receives one decoded revision stat and the time (ms) it arrived. */
export type StatHandler = (namespace: string, name: string, stat: Stat, receivedAtMs: number) => void;

/** Options for {@link StatServer}. */
export interface StatServerOptions {
  /** Called for every message of every frame, in order. */
  readonly onStat: StatHandler;
  /** Logs dropped frames and connection errors. */
  readonly logger: Logger;
  /** Address to listen on; all interfaces when omitted. */
  readonly host?: string;
  /** Port to listen on; 0 picks a free one. Defaults to {@link STAT_SERVER_PORT}. */
  readonly port?: number;
  /** Clock stamping arrivals (ms); defaults to `Date.now`. */
  readonly now?: () => number;
  /** Overrides {@link CLOSE_GRACE_MS}. */
  readonly closeGraceMs?: number;
}

/** Whether a plain request is the kubelet's probe (`User-Agent: kube-probe/…` or `K-Kubelet-Probe`). */
function isKubeletProbe(req: IncomingMessage): boolean {
  return (
    req.headers['user-agent']?.startsWith('kube-probe/') === true ||
    req.headers['k-kubelet-probe'] !== undefined
  );
}

/**
 * Accepts activator stat reports over websockets and hands each decoded message to a callback.
 * Text frames are ignored (Knative's activators send binary protobuf only). A frame that fails to
 * decode is logged once per streak of bad frames on its connection and dropped; the connection
 * stays open, because one bad frame says nothing about the next.
 */
export class StatServer {
  private readonly onStat: StatHandler;
  private readonly logger: Logger;
  private readonly host: string | undefined;
  private readonly port: number;
  private readonly now: () => number;
  private readonly closeGraceMs: number;
  private readonly http: Server;
  private readonly wss: WebSocketServer;
  private started: Promise<number> | undefined;

  /** Creates the server; nothing listens until {@link start}. */
  constructor(options: StatServerOptions) {
    const port = options.port ?? STAT_SERVER_PORT;
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new RangeError(`port must be an integer in [0, 65535], was ${port}`);
    }
    const grace = options.closeGraceMs ?? CLOSE_GRACE_MS;
    if (!(grace >= 0)) throw new RangeError(`closeGraceMs must be non-negative, was ${grace}`);
    this.onStat = options.onStat;
    this.logger = options.logger;
    this.host = options.host;
    this.port = port;
    this.now = options.now ?? Date.now;
    this.closeGraceMs = grace;

    this.wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });
    this.wss.on('connection', (ws, req) => this.accept(ws, req));
    this.http = createServer((req, res) => this.plainRequest(req, res));
    this.http.on('connection', (socket: Socket) => socket.setKeepAlive(true, TCP_KEEPALIVE_MS));
    this.http.on('upgrade', (req, socket, head) => {
      this.wss.handleUpgrade(req, socket, head, (ws) => this.wss.emit('connection', ws, req));
    });
  }

  /** Number of connected clients. */
  get clientCount(): number {
    return this.wss.clients.size;
  }

  /** Starts listening; resolves with the bound port. */
  start(): Promise<number> {
    this.started ??= new Promise<number>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(this.port, this.host, () => {
        this.http.off('error', reject);
        const port = (this.http.address() as AddressInfo).port;
        this.logger.info({ port }, 'stat server listening');
        resolve(port);
      });
    });
    return this.started;
  }

  /**
   * Stops accepting connections, sends every client close code 1012 ("Restarting") so it
   * reconnects elsewhere at once, and terminates those that have not closed within the grace period.
   */
  async close(): Promise<void> {
    const closed = this.http.listening ? new Promise<void>((r) => this.http.close(() => r())) : undefined;
    const clients = [...this.wss.clients];
    await Promise.all(
      clients.map(
        (ws) =>
          new Promise<void>((resolve) => {
            if (ws.readyState === ws.CLOSED) return resolve();
            const timer = setTimeout(() => ws.terminate(), this.closeGraceMs);
            ws.once('close', () => {
              clearTimeout(timer);
              resolve();
            });
            ws.close(CLOSE_CODE_SERVICE_RESTART, 'Restarting');
          }),
      ),
    );
    this.http.closeAllConnections();
    await closed;
    await new Promise<void>((r) => this.wss.close(() => r()));
  }

  /** Plain HTTP: the kubelet's probe gets 200 (`server.go handleHealthz`), anything else 400 as from a failed upgrade. */
  private plainRequest(req: IncomingMessage, res: ServerResponse): void {
    if (isKubeletProbe(req)) {
      res.writeHead(200).end();
      return;
    }
    sendError(res, 'WEBSOCKET_REQUIRED');
  }

  private accept(ws: WebSocket, req: IncomingMessage): void {
    const remote = `${req.socket.remoteAddress}:${req.socket.remotePort}`;
    this.logger.debug({ remote }, 'stat client connected');
    // Log only the first bad frame of a streak: a misbehaving client would otherwise log every second.
    let failing = false;
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (!isBinary) return;
      const receivedAtMs = this.now();
      let messages: ReturnType<typeof decodeWireStatMessages>;
      try {
        messages = decodeWireStatMessages(toBytes(data));
      } catch (err) {
        if (!failing) this.logger.warn({ err, remote }, 'dropping stat frame that does not decode');
        failing = true;
        return;
      }
      failing = false;
      for (const m of messages) {
        // A message without a stat carries nothing to record.
        if (m.stat === undefined) continue;
        try {
          this.onStat(m.namespace, m.name, m.stat, receivedAtMs);
        } catch (err) {
          // A consumer's bug must not take the connection, or the process, down with it.
          this.logger.error({ err, namespace: m.namespace, name: m.name }, 'stat handler failed');
        }
      }
    });
    ws.on('error', (err) => this.logger.warn({ err, remote }, 'stat client connection error'));
    ws.on('close', () => this.logger.debug({ remote }, 'stat client disconnected'));
  }
}

/** Joins ws's possible payload shapes into one byte array. */
function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return data;
}

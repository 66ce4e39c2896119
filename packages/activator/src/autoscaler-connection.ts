/**
 * The activator's websocket to the autoscaler (docs/wire.md §4): connects, reconnects with backoff, keeps
 * the connection alive with pings, and sends batches of Stat messages as binary protobuf
 * `WireStatMessages` frames. Mirrors `pkg/activator/stat_reporter.go` (how stats are sent) and
 * `knative.dev/pkg/websocket/connection.go` (how the connection is kept); what is sent comes from the
 * `ConcurrencyReporter`.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { createRequire } from 'node:module';
import { Backoff, encodeWireStatMessages, type Logger, positive, type WireStatMessage } from '@zerogate/core';
import type * as Undici from 'undici';

/*
 * undici's own WebSocket rather than the global one: it is the same client, but only this one can be
 * pinged (`ping`), which the keepalive below needs. Taken from its module rather than undici's index,
 * which also loads fetch's globals, caches, mocks and the proxy agents (~6 MiB an activator never uses).
 */
const { ping, WebSocket } = createRequire(import.meta.url)('undici/lib/web/websocket/websocket.js') as {
  ping: typeof Undici.ping;
  WebSocket: typeof Undici.WebSocket;
};
type WebSocket = Undici.WebSocket;

/** `connection.go`'s backoff (100 ms ×1.3), capped so a long outage still retries every few seconds. */
export const DEFAULT_RECONNECT: Readonly<ReconnectOptions> = { initialMs: 100, factor: 1.3, maxMs: 5000 };

/**
 * `connection.go`'s dial `HandshakeTimeout`: short, so a restarted autoscaler behind its Service does
 * not blackhole the connection for long.
 */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 3000;

/**
 * `connection.go`'s `pongTimeout`: a connection with no pong for this long is broken; pings go out
 * three times as often.
 */
export const DEFAULT_PONG_TIMEOUT_MS = 10_000;

/**
 * Up to this fraction is added at random to each reconnect delay (`connection.go` Jitter 0.5), so the
 * activators do not all reconnect in lockstep when the autoscaler restarts.
 */
const RECONNECT_JITTER = 0.5;

/**
 * Bytes the socket may hold unsent before batches are dropped: a blackholed connection accepts writes
 * until the pong deadline notices, and must not grow without bound meanwhile.
 */
const MAX_BUFFERED_BYTES = 1 << 20;

/** How long `stop()` waits for the closing handshake before giving up on it. */
const CLOSE_WAIT_MS = 1000;

/** undici publishes every pong it receives here; the WHATWG WebSocket API has no pong event. */
const PONG_CHANNEL = 'undici:websocket:pong';

/** Exponential backoff between connection attempts. */
export interface ReconnectOptions {
  /** Delay before the first retry, and again after every successful open. */
  initialMs: number;
  /** Each further failure multiplies the delay by this. */
  factor: number;
  /** The delay never exceeds this. */
  maxMs: number;
}

/** Options of {@link AutoscalerConnection}. */
export interface AutoscalerConnectionOptions {
  /** The autoscaler's websocket, e.g. `ws://autoscaler.knative-serving.svc.cluster.local:8080` (any path). */
  url: string;
  logger: Logger;
  /** Reconnect backoff; default {@link DEFAULT_RECONNECT}. */
  reconnect?: ReconnectOptions;
  /** Default {@link DEFAULT_HANDSHAKE_TIMEOUT_MS}. */
  handshakeTimeoutMs?: number;
  /** Default {@link DEFAULT_PONG_TIMEOUT_MS}. */
  pongTimeoutMs?: number;
}

/**
 * A durable websocket to the autoscaler's stat server, over which the activator's Stat messages go.
 *
 * It connects at {@link start} and, whenever an attempt fails or an open connection is lost (closed, or
 * silent past the pong deadline), reconnects after a jittered exponential backoff. While the socket is
 * not open, batches are dropped, not queued: the autoscaler only wants current figures.
 */
export class AutoscalerConnection {
  /** Called with `true` when the websocket opens and `false` when an open one is lost or stopped. */
  onConnectionChange?: (connected: boolean) => void;

  private readonly url: string;
  private readonly logger: Logger;
  private readonly handshakeTimeoutMs: number;
  private readonly pongTimeoutMs: number;

  private running = false;
  private socket: WebSocket | null = null;
  private isOpen = false;
  private wasEverOpen = false;
  private errors = 0;
  private readonly backoff: Backoff;
  private lastPongAt = 0;
  /** A failed connect was logged in the current streak of failures. */
  private failureLogged = false;
  /** Dropped stats were logged since the connection was last open. */
  private dropLogged = false;

  private reconnectTimer: NodeJS.Timeout | undefined;
  private handshakeTimer: NodeJS.Timeout | undefined;
  private keepaliveTimer: NodeJS.Timeout | undefined;

  private readonly onPong = (message: unknown): void => {
    if ((message as { websocket?: unknown }).websocket === this.socket) this.lastPongAt = performance.now();
  };

  constructor(options: AutoscalerConnectionOptions) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch (err) {
      throw new TypeError(`AutoscalerConnection: url is not a URL: ${JSON.stringify(options.url)}`, {
        cause: err,
      });
    }
    if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
      throw new TypeError(
        `AutoscalerConnection: url must be ws: or wss:, got ${JSON.stringify(options.url)}`,
      );
    }
    const reconnect = options.reconnect ?? DEFAULT_RECONNECT;
    positive('AutoscalerConnection option reconnect.initialMs', reconnect.initialMs);
    positive('AutoscalerConnection option reconnect.maxMs', reconnect.maxMs);
    if (!(reconnect.factor >= 1) || !Number.isFinite(reconnect.factor)) {
      throw new RangeError(
        `AutoscalerConnection: reconnect.factor must be a finite number ≥ 1, got ${reconnect.factor}`,
      );
    }
    this.url = url.href;
    this.logger = options.logger;
    this.backoff = new Backoff(
      { ...reconnect, maxMs: Math.max(reconnect.maxMs, reconnect.initialMs), jitter: RECONNECT_JITTER },
      'AutoscalerConnection: reconnect.',
    );
    this.handshakeTimeoutMs = positive(
      'AutoscalerConnection option handshakeTimeoutMs',
      options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
    );
    this.pongTimeoutMs = positive(
      'AutoscalerConnection option pongTimeoutMs',
      options.pongTimeoutMs ?? DEFAULT_PONG_TIMEOUT_MS,
    );
  }

  /** The websocket is open now. */
  get connected(): boolean {
    return this.isOpen;
  }

  /**
   * The websocket was open at least once; the activator's health checks fail until then
   * (docs/activator.md §6.1).
   */
  get everConnected(): boolean {
    return this.wasEverOpen;
  }

  /** Failed connection attempts plus losses of an open connection, for metrics. */
  get connectionErrors(): number {
    return this.errors;
  }

  /** Connects, and keeps reconnecting with backoff until {@link stop}. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.backoff.reset();
    subscribe(PONG_CHANNEL, this.onPong);
    this.connect();
  }

  /** Stops the reconnects and closes the websocket; resolves once it closed (or after a bounded wait). */
  async stop(): Promise<void> {
    this.running = false;
    unsubscribe(PONG_CHANNEL, this.onPong);
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.clearConnectionTimers();
    const ws = this.socket;
    if (ws === null) return;
    this.socket = null;
    detach(ws);
    this.setOpen(false);
    if (ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, CLOSE_WAIT_MS);
      ws.onclose = () => {
        clearTimeout(timer);
        resolve();
      };
      closeQuietly(ws);
    });
  }

  /**
   * Sends one batch as one binary frame (stat_reporter.go); when the autoscaler cannot be reached the
   * batch is lost, which is logged once per disconnection.
   */
  send(messages: readonly WireStatMessage[]): void {
    const ws = this.socket;
    if (
      ws !== null &&
      this.isOpen &&
      ws.readyState === WebSocket.OPEN &&
      ws.bufferedAmount <= MAX_BUFFERED_BYTES
    ) {
      ws.send(encodeWireStatMessages(messages));
      return;
    }
    if (this.dropLogged) return;
    this.dropLogged = true;
    this.logger.warn(
      { url: this.url, messageCount: messages.length, bufferedBytes: ws?.bufferedAmount ?? 0 },
      'Autoscaler is not reachable from activator; stats are dropped until the connection is back',
    );
  }

  private connect(): void {
    this.reconnectTimer = undefined;
    if (!this.running) return;
    const ws = new WebSocket(this.url);
    ws.binaryType = 'arraybuffer';
    this.socket = ws;
    this.handshakeTimer = setTimeout(() => {
      this.handshakeTimer = undefined;
      this.lost(ws, new Error(`websocket handshake not completed within ${this.handshakeTimeoutMs} ms`));
      closeQuietly(ws);
    }, this.handshakeTimeoutMs);
    ws.onopen = () => this.opened(ws);
    // undici's error events carry no cause (a refused connection is a bare TypeError), so the close
    // event's code and reason describe the failure instead.
    ws.onclose = (event) => {
      const what = this.isOpen ? 'websocket closed' : 'websocket could not be opened';
      const reason = event.reason === '' ? '' : `: ${event.reason}`;
      this.lost(ws, new Error(`${what}, close code ${event.code}${reason}`));
    };
  }

  private opened(ws: WebSocket): void {
    if (ws !== this.socket) return;
    clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
    this.wasEverOpen = true;
    this.backoff.reset();
    this.failureLogged = false;
    this.dropLogged = false;
    this.lastPongAt = performance.now();
    // connection.go: pings three times per pong deadline; no pong within it means the peer is gone
    // (a half-open connection would otherwise swallow stats until TCP gives up, many minutes later).
    this.keepaliveTimer = setInterval(() => this.keepalive(ws), this.pongTimeoutMs / 3);
    this.logger.info({ url: this.url }, 'Autoscaler connection established');
    this.setOpen(true);
  }

  private keepalive(ws: WebSocket): void {
    if (performance.now() - this.lastPongAt > this.pongTimeoutMs) {
      this.lost(ws, new Error(`no pong from the autoscaler within ${this.pongTimeoutMs} ms`));
      closeQuietly(ws);
      return;
    }
    ping(ws);
  }

  /** A connection attempt failed or an open connection ended: count it, log it once, retry later. */
  private lost(ws: WebSocket, err: unknown): void {
    if (ws !== this.socket) return;
    this.socket = null;
    detach(ws);
    this.clearConnectionTimers();
    this.errors++;
    if (this.isOpen) {
      this.logger.error({ err, url: this.url }, 'Autoscaler connection lost');
      this.setOpen(false);
    } else if (!this.failureLogged) {
      this.failureLogged = true;
      this.logger.warn({ err, url: this.url }, 'Autoscaler connection could not be established; retrying');
    } else {
      this.logger.debug({ err, url: this.url }, 'Autoscaler connection attempt failed');
    }
    if (!this.running) return;
    this.reconnectTimer = setTimeout(() => this.connect(), this.backoff.next());
  }

  private clearConnectionTimers(): void {
    clearTimeout(this.handshakeTimer);
    clearInterval(this.keepaliveTimer);
    this.handshakeTimer = undefined;
    this.keepaliveTimer = undefined;
  }

  private setOpen(open: boolean): void {
    if (this.isOpen === open) return;
    this.isOpen = open;
    try {
      this.onConnectionChange?.(open);
    } catch (err) {
      this.logger.error({ err }, 'Autoscaler connection listener failed');
    }
  }
}

/** Stops a socket's events from reaching the connection: a replaced socket may still fire late. */
function detach(ws: WebSocket): void {
  ws.onopen = null;
  ws.onerror = null;
  ws.onclose = null;
}

/** Starts closing a socket in any state; closing an already closing one is a no-op. */
function closeQuietly(ws: WebSocket): void {
  try {
    ws.close(1000);
  } catch {
    // Closing cannot fail for a valid code; nothing to do if it did.
  }
}

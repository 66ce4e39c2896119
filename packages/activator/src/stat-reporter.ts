/**
 * The activator's reporting to the autoscaler (docs/wire.md §4): per-revision concurrency of the requests
 * passing through (held ones included), sent as protobuf `WireStatMessages` over a durable websocket.
 * Mirrors `pkg/activator/handler/concurrency_reporter.go` (what is reported),
 * `pkg/activator/stat_reporter.go` (how it is sent) and `knative.dev/pkg/websocket/connection.go`
 * (how the connection is kept).
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import {
  Backoff,
  emptyStat,
  encodeWireStatMessages,
  type Logger,
  positive,
  RequestStats,
  type Stat,
  type WireStatMessage,
} from '@zerogate/core';
// undici's own export rather than the global WebSocket: it is the same client, but only this one
// can be pinged (`ping`), which the keepalive below needs.
import { ping, WebSocket } from 'undici';

/** Knative's activator reports once a second. */
export const DEFAULT_PERIOD_MS = 1000;

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

/** Options of {@link StatReporter}. */
export interface StatReporterOptions {
  /** The activator pod, sent as `Stat.pod_name`. */
  podName: string;
  /** The autoscaler's websocket, e.g. `ws://autoscaler.knative-serving.svc.cluster.local:8080` (any path). */
  url: string;
  logger: Logger;
  /** Batch period; default {@link DEFAULT_PERIOD_MS}. */
  periodMs?: number;
  /** Millisecond clock for the request-stats windows; injectable for tests. */
  now?: () => number;
  /** Reconnect backoff; default {@link DEFAULT_RECONNECT}. */
  reconnect?: ReconnectOptions;
  /** Default {@link DEFAULT_HANDSHAKE_TIMEOUT_MS}. */
  handshakeTimeoutMs?: number;
  /** Default {@link DEFAULT_PONG_TIMEOUT_MS}. */
  pongTimeoutMs?: number;
}

/** One revision's window and whether the poke sent for it is still to be taken off its next report. */
interface RevisionEntry {
  readonly namespace: string;
  readonly name: string;
  readonly stats: RequestStats;
  /** 1 until the first report after the poke, then 0. */
  poke: number;
}

/**
 * Tracks per-revision concurrency of requests through the activator and reports it to the autoscaler
 * over a durable websocket.
 *
 * The first request of a revision with no entry is reported at once (the "poke"), so a revision at
 * zero is scaled up without waiting for the next batch; every period one batch carries every revision
 * with an entry, the poke taken off the next report. An entry with no activity in a window is
 * reported once more and dropped, so memory holds one entry per active revision. While the socket is
 * not open, batches are dropped, not queued: the autoscaler only wants current figures.
 */
export class StatReporter {
  /** Called with `true` when the websocket opens and `false` when an open one is lost or stopped. */
  onConnectionChange?: (connected: boolean) => void;

  private readonly podName: string;
  private readonly url: string;
  private readonly logger: Logger;
  private readonly periodMs: number;
  private readonly now: () => number;
  private readonly handshakeTimeoutMs: number;
  private readonly pongTimeoutMs: number;

  /** Entries by namespace then name: looking one up allocates no key string. */
  private readonly revisions = new Map<string, Map<string, RevisionEntry>>();

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

  private tickTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private handshakeTimer: NodeJS.Timeout | undefined;
  private keepaliveTimer: NodeJS.Timeout | undefined;

  private readonly onPong = (message: unknown): void => {
    if ((message as { websocket?: unknown }).websocket === this.socket) this.lastPongAt = performance.now();
  };

  constructor(options: StatReporterOptions) {
    if (typeof options.podName !== 'string' || options.podName === '') {
      throw new TypeError('StatReporter: podName must be a non-empty string');
    }
    let url: URL;
    try {
      url = new URL(options.url);
    } catch (err) {
      throw new TypeError(`StatReporter: url is not a URL: ${JSON.stringify(options.url)}`, { cause: err });
    }
    if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
      throw new TypeError(`StatReporter: url must be ws: or wss:, got ${JSON.stringify(options.url)}`);
    }
    const reconnect = options.reconnect ?? DEFAULT_RECONNECT;
    positive('StatReporter option periodMs', options.periodMs ?? DEFAULT_PERIOD_MS);
    positive('StatReporter option reconnect.initialMs', reconnect.initialMs);
    positive('StatReporter option reconnect.maxMs', reconnect.maxMs);
    if (!(reconnect.factor >= 1) || !Number.isFinite(reconnect.factor)) {
      throw new RangeError(
        `StatReporter: reconnect.factor must be a finite number ≥ 1, got ${reconnect.factor}`,
      );
    }
    positive(
      'StatReporter option handshakeTimeoutMs',
      options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
    );
    positive('StatReporter option pongTimeoutMs', options.pongTimeoutMs ?? DEFAULT_PONG_TIMEOUT_MS);

    this.podName = options.podName;
    this.url = url.href;
    this.logger = options.logger;
    this.periodMs = options.periodMs ?? DEFAULT_PERIOD_MS;
    this.now = options.now ?? performance.now.bind(performance);
    this.backoff = new Backoff(
      { ...reconnect, maxMs: Math.max(reconnect.maxMs, reconnect.initialMs), jitter: RECONNECT_JITTER },
      'StatReporter: reconnect.',
    );
    this.handshakeTimeoutMs = options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    this.pongTimeoutMs = options.pongTimeoutMs ?? DEFAULT_PONG_TIMEOUT_MS;
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

  /** Connects (and keeps reconnecting with backoff) and starts the periodic batches. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.backoff.reset();
    subscribe(PONG_CHANNEL, this.onPong);
    this.tickTimer = setInterval(() => this.tick(), this.periodMs);
    this.connect();
  }

  /**
   * Stops the batches and the reconnects and closes the websocket; resolves once it closed (or after a
   * bounded wait).
   */
  async stop(): Promise<void> {
    this.running = false;
    unsubscribe(PONG_CHANNEL, this.onPong);
    clearInterval(this.tickTimer);
    clearTimeout(this.reconnectTimer);
    this.tickTimer = undefined;
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
   * Records the arrival of a request for the revision (held ones included); the first one pokes the
   * autoscaler.
   */
  requestIn(namespace: string, name: string): void {
    let byName = this.revisions.get(namespace);
    if (byName === undefined) {
      byName = new Map();
      this.revisions.set(namespace, byName);
    }
    const entry = byName.get(name);
    if (entry !== undefined) {
      entry.stats.requestIn(false);
      return;
    }
    const created: RevisionEntry = { namespace, name, stats: new RequestStats(this.now), poke: 1 };
    byName.set(name, created);
    created.stats.requestIn(false);
    // concurrency_reporter.go: a revision's first request is reported at once, so a scale from zero
    // need not wait for the next batch. It can only ever be 1 and 1: the entry is new.
    this.send(encodeWireStatMessages([{ namespace, name, stat: this.stat(1, 1) }]), 1);
  }

  /** Records the end of a request counted by {@link requestIn}. */
  requestOut(namespace: string, name: string): void {
    const entry = this.revisions.get(namespace)?.get(name);
    if (entry !== undefined && entry.stats.current > 0) entry.stats.requestOut(false);
  }

  /** Closes every revision's window and sends them in one batch now; the period timer calls this. */
  tick(): void {
    if (this.revisions.size === 0) return;
    const messages: WireStatMessage[] = [];
    for (const [namespace, byName] of this.revisions) {
      for (const [name, entry] of byName) {
        const report = entry.stats.report();
        const poke = entry.poke;
        entry.poke = 0;
        // concurrency_reporter.go: take off the poke already sent. The window's average may be below 1
        // even though the poke said 1, hence the floor.
        messages.push({
          namespace,
          name,
          stat: this.stat(
            Math.max(report.averageConcurrency - poke, 0),
            Math.max(report.requestCount - poke, 0),
          ),
        });
        // A window without any activity is still reported (as zeros) but ends the entry, so the next
        // request pokes again and idle revisions cost no memory.
        if (report.averageConcurrency === 0 && report.requestCount === 0 && entry.stats.current === 0) {
          byName.delete(name);
        }
      }
      if (byName.size === 0) this.revisions.delete(namespace);
    }
    this.send(encodeWireStatMessages(messages), messages.length);
  }

  /**
   * The activator's Stat: only concurrency and the raw arrival count of the window (not a rate, unlike
   * the queue-proxy's), no proxied figures, timestamp 0 as the autoscaler stamps the receive time.
   */
  private stat(averageConcurrentRequests: number, requestCount: number): Stat {
    const stat = emptyStat(this.podName);
    stat.averageConcurrentRequests = averageConcurrentRequests;
    stat.requestCount = requestCount;
    return stat;
  }

  /**
   * stat_reporter.go: binary frames; when the autoscaler cannot be reached the stats are lost, which is
   * logged once per disconnection.
   */
  private send(bytes: Uint8Array, messageCount: number): void {
    const ws = this.socket;
    if (
      ws !== null &&
      this.isOpen &&
      ws.readyState === WebSocket.OPEN &&
      ws.bufferedAmount <= MAX_BUFFERED_BYTES
    ) {
      ws.send(bytes);
      return;
    }
    if (this.dropLogged) return;
    this.dropLogged = true;
    this.logger.warn(
      { url: this.url, messageCount, bufferedBytes: ws?.bufferedAmount ?? 0 },
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

/** Stops a socket's events from reaching the reporter: a replaced socket may still fire late. */
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

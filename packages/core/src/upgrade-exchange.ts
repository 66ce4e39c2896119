import type { IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { type ErrorCode, type ErrorSource, zerogateErrorHeaders } from './errors.js';
import type { Logger } from './logger.js';
import { nodeCrypto } from './node-builtins.js';
import { http1ErrorResponse } from './respond.js';

/** One open upgraded connection, as a {@link TunnelSet} holds it. */
export interface Tunnel {
  /**
   * Ends the tunnel cleanly where its protocol allows: a websocket whose both directions are between
   * frames gets a close frame with status 1001 (going away) each way; anything else is closed at once.
   */
  goAway(): void;
  /** Closes both sockets now. */
  close(): void;
}

/** The open upgraded connections of a proxy, so a shutdown can wait for them and then close them. */
export class TunnelSet {
  private readonly open = new Set<Tunnel>();
  private emptied: (() => void)[] = [];

  /** Tunnels open now. */
  get size(): number {
    return this.open.size;
  }

  add(tunnel: Tunnel): void {
    this.open.add(tunnel);
  }

  delete(tunnel: Tunnel): void {
    this.open.delete(tunnel);
    if (this.open.size > 0) return;
    const waiters = this.emptied;
    this.emptied = [];
    for (const resolve of waiters) resolve();
  }

  /** Resolves once no tunnel is open (at once when none is). */
  whenEmpty(): Promise<void> {
    if (this.open.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.emptied.push(resolve));
  }

  /** Closes every tunnel. */
  closeAll(): void {
    for (const tunnel of this.open) tunnel.close();
  }

  /**
   * Ends every tunnel as {@link Tunnel.goAway} says and resolves once all are closed; those whose peers
   * have not closed within `lingerMs` are then closed at once.
   */
  async goAway(lingerMs: number): Promise<void> {
    for (const tunnel of this.open) tunnel.goAway();
    let timer: NodeJS.Timeout | undefined;
    const lingered = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, lingerMs);
    });
    await Promise.race([this.whenEmpty(), lingered]);
    clearTimeout(timer);
    this.closeAll();
  }
}

/** WebSocket close status 1001, "going away": the server is going down (RFC 6455 §7.4.1). */
export const WS_GOING_AWAY = 1001;
const GOING_AWAY_REASON = Buffer.from('going away');

/**
 * A websocket close frame with status 1001: unmasked for a client, masked (as a client's frames must be,
 * RFC 6455 §5.3) for a server.
 */
export function goingAwayFrame(masked: boolean): Buffer {
  const payload = Buffer.alloc(2 + GOING_AWAY_REASON.length);
  payload.writeUInt16BE(WS_GOING_AWAY, 0);
  GOING_AWAY_REASON.copy(payload, 2);
  if (!masked) return Buffer.concat([Buffer.from([0x88, payload.length]), payload]);
  const mask = nodeCrypto().randomBytes(4);
  for (let i = 0; i < payload.length; i++) payload[i] = (payload[i] as number) ^ (mask[i % 4] as number);
  return Buffer.concat([Buffer.from([0x88, 0x80 | payload.length]), mask, payload]);
}

/**
 * Follows the websocket frames of one direction of a tunnel (RFC 6455 §5.2) without copying them, so
 * that a frame of the proxy's own (a close) can be put between two of the peers' frames.
 */
export class WebSocketFrames {
  private readonly header = Buffer.alloc(14);
  private headerLength = 0;
  private payloadLeft = 0;

  /** True when every byte seen so far belongs to a complete frame. */
  get atBoundary(): boolean {
    return this.headerLength === 0 && this.payloadLeft === 0;
  }

  /** Takes the next bytes of the stream. */
  feed(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.payloadLeft > 0) {
        const n = Math.min(this.payloadLeft, chunk.length - i);
        this.payloadLeft -= n;
        i += n;
        continue;
      }
      this.header[this.headerLength++] = chunk[i++] as number;
      if (this.headerLength === headerSize(this.header, this.headerLength)) {
        this.payloadLeft = payloadLength(this.header);
        this.headerLength = 0;
      }
    }
  }
}

/** The length of a frame header whose first `have` bytes are in `h`. */
function headerSize(h: Buffer, have: number): number {
  if (have < 2) return 2;
  const len = (h[1] as number) & 0x7f;
  const extended = len === 126 ? 2 : len === 127 ? 8 : 0;
  return 2 + extended + ((h[1] as number) & 0x80 ? 4 : 0);
}

function payloadLength(h: Buffer): number {
  const len = (h[1] as number) & 0x7f;
  if (len === 126) return h.readUInt16BE(2);
  if (len === 127) return Number(h.readBigUInt64BE(2));
  return len;
}

/** The longest response head looked at for a `101`; a longer one leaves the tunnel as opaque bytes. */
const MAX_RESPONSE_HEAD = 64 * 1024;

/**
 * The upstream's side of a websocket tunnel: its response head, then, after a `101`, its frames. Anything
 * but a `101` leaves the bytes opaque (never between frames).
 */
class UpgradeResponse {
  private head: Buffer | undefined = Buffer.alloc(0);
  private frames: WebSocketFrames | undefined;

  get atBoundary(): boolean {
    return this.frames?.atBoundary ?? false;
  }

  feed(chunk: Buffer): void {
    if (this.frames) {
      this.frames.feed(chunk);
      return;
    }
    if (this.head === undefined) return;
    const head = Buffer.concat([this.head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end === -1) {
      this.head = head.length > MAX_RESPONSE_HEAD ? undefined : head;
      return;
    }
    this.head = undefined;
    if (!/^HTTP\/1\.[01] 101 /.test(head.toString('latin1', 0, 13))) return;
    this.frames = new WebSocketFrames();
    this.frames.feed(head.subarray(end + 4));
  }
}

/**
 * One upgraded connection (a websocket) proxied as a byte tunnel: the head is rewritten and sent, then
 * bytes flow both ways until either side closes. The timeout applies only until the upstream starts
 * answering: once the 101 is on its way a tunnel is never cut by a request timeout (our fix of Knative
 * #16169, #16638); a shutdown closes tunnels after its own grace, a websocket with a close frame
 * ({@link goAway}). Subclasses decide admission (`admit`,
 * then `open`) and release what admission held (`ended`, called exactly once).
 */
export abstract class UpgradeExchange implements Tunnel {
  private upstream: Socket | null = null;
  /** A websocket's frames each way, followed so that a shutdown can close it cleanly. */
  private frames: { readonly down: UpgradeResponse; readonly up: WebSocketFrames } | undefined;
  private timer: NodeJS.Timeout | null = null;
  private answered = false;
  private finished = false;

  constructor(
    protected readonly req: IncomingMessage,
    private readonly client: Duplex,
    private readonly head: Buffer,
    private readonly timeout: { readonly ms: number; readonly error: ErrorCode },
    protected readonly logger: Logger,
    private readonly tunnels: TunnelSet,
  ) {}

  /** Arms the timeout and the close listeners, then asks for admission. */
  begin(): void {
    const { client } = this;
    this.tunnels.add(this);
    client.on('error', () => this.finish());
    client.on('close', () => this.finish());
    if (this.timeout.ms > 0) {
      this.timer = setTimeout(() => {
        this.logger.warn({ path: this.req.url }, 'upgrade timed out before the upstream answered');
        this.reject(this.timeout.error);
      }, this.timeout.ms);
    }
    this.admit();
  }

  /** Decides when and where the connection goes: eventually `open` or `reject`. */
  protected abstract admit(): void;

  /** Called exactly once when the tunnel (or its attempt) is over. */
  protected abstract ended(): void;

  /** True once the exchange ended; an admission granted after that must be handed back. */
  protected get isOver(): boolean {
    return this.finished;
  }

  /** The component named in the `Zerogate-Error` header of a coded 5xx answer (docs/wire.md §6). */
  protected get errorSource(): ErrorSource | undefined {
    return undefined;
  }

  /** Connects to `host:port`, sends the rewritten head, and joins the two sockets. */
  protected open(host: string, port: number, headers: readonly string[]): void {
    const lines = [`${this.req.method} ${this.req.url} HTTP/1.1`];
    for (let i = 0; i < headers.length; i += 2) lines.push(`${headers[i]}: ${headers[i + 1]}`);
    const upstream = connect({ host, port });
    this.upstream = upstream;
    upstream.setNoDelay(true);
    upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (this.head.length > 0) upstream.write(this.head);
    upstream.once('data', () => {
      // The upstream answered: from here on only the two peers end the tunnel.
      this.answered = true;
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
    });
    upstream.on('error', (err) => {
      if (this.answered) {
        this.finish();
        return;
      }
      this.logger.error({ err, path: this.req.url }, 'error reverse proxying upgrade');
      this.reject('UPSTREAM_FAILED');
    });
    upstream.on('close', () => this.finish());
    if (/^websocket$/i.test(this.req.headers.upgrade ?? '')) {
      // Listeners beside the pipes see each chunk as it is written on, so the positions match.
      const frames = { down: new UpgradeResponse(), up: new WebSocketFrames() };
      this.frames = frames;
      frames.up.feed(this.head);
      upstream.on('data', (chunk: Buffer) => frames.down.feed(chunk));
      this.client.on('data', (chunk: Buffer) => frames.up.feed(chunk));
    }
    upstream.pipe(this.client);
    this.client.pipe(upstream);
  }

  goAway(): void {
    const { upstream, client } = this;
    if (this.finished) return;
    if (!(this.frames?.down.atBoundary && this.frames.up.atBoundary && upstream)) {
      this.finish();
      return;
    }
    // Nothing more is relayed: each peer gets a close frame after the last whole frame it was sent, and
    // the connection ends once it answered (its reply is dropped), or when the caller's linger ends.
    upstream.unpipe(client);
    client.unpipe(upstream);
    // Unpiping paused them: keep reading, so each peer's close is seen.
    upstream.resume();
    client.resume();
    client.end(goingAwayFrame(false));
    upstream.end(goingAwayFrame(true));
  }

  close(): void {
    this.finish();
  }

  /** Answers with a coded error (the connection is closed after it) and ends the exchange. */
  protected reject(code: ErrorCode, headers?: Record<string, string>): void {
    if (!this.client.destroyed && !this.answered) {
      this.client.end(http1ErrorResponse(code, zerogateErrorHeaders(this.errorSource, code, headers)));
    }
    this.finish();
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.tunnels.delete(this);
    this.client.destroy();
    this.upstream?.destroy();
    this.ended();
  }
}

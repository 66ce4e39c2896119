import type { IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ErrorCode } from './errors.js';
import type { Logger } from './logger.js';
import { http1ErrorResponse } from './respond.js';

/** The open upgraded connections of a proxy, so a shutdown can wait for them and then close them. */
export class TunnelSet {
  private readonly open = new Set<Duplex>();

  /** Tunnels open now. */
  get size(): number {
    return this.open.size;
  }

  add(socket: Duplex): void {
    this.open.add(socket);
  }

  delete(socket: Duplex): void {
    this.open.delete(socket);
  }

  /** Closes every tunnel. */
  closeAll(): void {
    for (const socket of this.open) socket.destroy();
  }
}

/**
 * One upgraded connection (a websocket) proxied as a byte tunnel: the head is rewritten and sent, then
 * bytes flow both ways until either side closes. The timeout applies only until the upstream starts
 * answering: once the 101 is on its way a tunnel is never cut by a request timeout (our fix of Knative
 * #16169, #16638); a shutdown closes tunnels after its own grace. Subclasses decide admission (`admit`,
 * then `open`) and release what admission held (`ended`, called exactly once).
 */
export abstract class UpgradeExchange {
  private upstream: Socket | null = null;
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
    this.tunnels.add(client);
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
    upstream.pipe(this.client);
    this.client.pipe(upstream);
  }

  /** Answers with a coded error (the connection is closed after it) and ends the exchange. */
  protected reject(code: ErrorCode, headers?: Record<string, string>): void {
    if (!this.client.destroyed && !this.answered) this.client.end(http1ErrorResponse(code, headers));
    this.finish();
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.tunnels.delete(this.client);
    this.client.destroy();
    this.upstream?.destroy();
    this.ended();
  }
}

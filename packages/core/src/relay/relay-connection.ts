import type { Socket } from 'node:net';
import { answerHeaderTimeout } from '../client-error.js';
import { plainAddress } from '../headers.js';
import { ChunkedDecoder, FAILED, NEED_MORE, type RequestHead, RequestHeadParser } from '../http1/index.js';
import type { Logger } from '../logger.js';
import { originForm } from '../proxy-exchange.js';
import { headProblem } from '../request-head-rules.js';
import type { RelayClient, RelayExchange, RelayRequest } from './relay-exchange.js';

/** Decides, per parsed request, whether the relay runs it, and makes its exchange. */
export interface RelayRoute {
  /** An exchange for `request` (not begun), or undefined to hand the connection to node:http. */
  take(client: RelayClient, request: RelayRequest): RelayExchange | undefined;
}

/** What a {@link RelayConnection} shares with the others of its listener. */
export interface RelayConnectionContext {
  readonly route: RelayRoute;
  /** Gives the connection to node:http, its unread bytes put back first. */
  readonly handover: (socket: Socket) => void;
  /**
   * The connection's first head is complete: stops the listener's first-head timer; false when that
   * timer already answered 408 (the request must not run).
   */
  readonly firstHeadComplete: (socket: Socket) => boolean;
  /** The connection is gone (or handed over). */
  readonly forget: (connection: RelayConnection) => void;
  readonly headerTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly maxHeadSize: number;
  readonly logger: Logger;
}

/** Reading a request head (or waiting for one). */
const HEAD = 0;
/** Reading the current request's body, sized. */
const BODY_LENGTH = 1;
/** Reading the current request's body, chunked. */
const BODY_CHUNKED = 2;
/** The request was read whole; bytes that come now are the next request's, kept until it ends. */
const AFTER = 3;
/** Ending: nothing more is read. */
const CLOSING = 4;

/** The most of a request head the relay keeps while it spans reads, before node:http takes over. */
const PARTIAL_HEAD_LIMIT = 64 * 1024;

const EMPTY = Buffer.alloc(0);

/** How long a closing connection may linger for its last answer to be read. */
const CLOSE_LINGER_MS = 1000;

const kConnection = Symbol('relay connection');
type RelaySocket = Socket & { [kConnection]?: RelayConnection };

/**
 * One client connection on the raw HTTP/1.1 relay: reads request heads with {@link RequestHeadParser}
 * (which refuses what node:http refuses), hands each request to a {@link RelayExchange} and its body bytes
 * as they come, one request at a time (pipelined requests wait, read off the socket no further), and keeps
 * the connection alive between them with node:http's and Go's timers. Anything the relay does not take
 * (an upgrade, `Expect`, HTTP/1.0, a head the parser or `headProblem` refuses, whatever the route declines) goes to
 * node:http, with every byte it has read put back: node then answers exactly as it always has.
 */
export class RelayConnection implements RelayClient {
  private state = HEAD;
  private readonly parser: RequestHeadParser;
  private chunked: ChunkedDecoder | null = null;
  private exchange: RelayExchange | null = null;
  private remaining = 0;
  /** The bytes of a head that spans reads (for handover), else null. */
  private partialHead: Buffer[] | null = null;
  private partialBytes = 0;
  /** Bytes read past the current request, kept until it ends. */
  private pending: Buffer | null = null;
  private firstHead = true;
  private headTimer: NodeJS.Timeout | null = null;
  private readonly peer: string;
  private readonly peerPort: number | undefined;

  constructor(
    private readonly socket: RelaySocket,
    private readonly ctx: RelayConnectionContext,
  ) {
    this.parser = new RequestHeadParser({ maxHeadSize: ctx.maxHeadSize });
    this.peer = plainAddress(socket.remoteAddress);
    this.peerPort = socket.remotePort;
    socket[kConnection] = this;
    for (const [event, listener] of CLIENT_LISTENERS) socket.on(event, listener as () => void);
    socket.setTimeout(ctx.keepAliveTimeoutMs);
  }

  /** No request in flight and none partly read: closing it loses nothing. */
  get idle(): boolean {
    return this.state === HEAD && this.exchange === null && this.partialHead === null;
  }

  // RelayClient: what the current exchange does with the client.

  write(data: string | Buffer): boolean {
    return typeof data === 'string' ? this.socket.write(data, 'latin1') : this.socket.write(data);
  }

  writeAll(a: string, b: Buffer): boolean {
    const { socket } = this;
    socket.cork();
    socket.write(a, 'latin1');
    const ok = socket.write(b);
    socket.uncork();
    return ok;
  }

  pauseInput(): void {
    this.socket.pause();
  }

  resumeInput(): void {
    if (this.state === BODY_LENGTH || this.state === BODY_CHUNKED) this.socket.resume();
  }

  destroy(): void {
    this.socket.destroy();
  }

  exchangeEnded(keepAlive: boolean): void {
    this.exchange = null;
    if (!keepAlive || this.state === CLOSING) {
      this.close();
      return;
    }
    if (this.state !== AFTER) {
      // Answered before its body was read (kept alive only when it had none left): cannot happen.
      this.close();
      return;
    }
    this.state = HEAD;
    const pending = this.pending;
    this.pending = null;
    if (pending !== null) this.feed(pending, 0);
    if (this.state === HEAD) this.socket.resume();
  }

  // The socket's events.

  /** Bytes from the client. */
  received(chunk: Buffer): void {
    this.feed(chunk, 0);
  }

  /** The client closed its side: a request in flight is abandoned, as Go's server cancels it. */
  ended(): void {
    this.gone();
    this.socket.destroy();
  }

  gone(): void {
    this.clearHeadTimer();
    const exchange = this.exchange;
    this.exchange = null;
    this.state = CLOSING;
    exchange?.clientGone();
  }

  closed(): void {
    this.gone();
    this.ctx.forget(this);
  }

  drained(): void {
    this.exchange?.clientDrained();
  }

  /** The keep-alive timeout: an idle connection closes; one with a request in flight is the exchange's. */
  timedOut(): void {
    if (this.idle) this.socket.destroy();
  }

  /** A later head's timer fired (the listener times the first). */
  headTimedOut(): void {
    this.headTimer = null;
    if (this.state !== HEAD || this.partialHead === null) return;
    this.state = CLOSING;
    answerHeaderTimeout(this.socket, this.ctx.logger);
  }

  // Reading.

  /** Processes `chunk` from `start` in whatever state the connection is. */
  private feed(chunk: Buffer, start: number): void {
    let p = start;
    while (p < chunk.length) {
      switch (this.state) {
        case HEAD:
          p = this.readHead(chunk, p);
          break;
        case BODY_LENGTH:
          p = this.readSizedBody(chunk, p);
          break;
        case BODY_CHUNKED:
          p = this.readChunkedBody(chunk, p);
          break;
        case AFTER: {
          // The next request is read once this one ended.
          const rest = p === 0 ? chunk : chunk.subarray(p);
          this.pending = this.pending === null ? rest : Buffer.concat([this.pending, rest]);
          this.socket.pause();
          return;
        }
        default:
          return;
      }
      if (p < 0) return;
    }
  }

  /** Parses a head; returns where the next bytes start, or -1 when every byte was taken. */
  private readHead(chunk: Buffer, start: number): number {
    const end = this.parser.execute(chunk, start);
    if (end === NEED_MORE) {
      // A head that spans reads is parsed on as it comes; its bytes are kept in case it goes to node:http.
      const piece = start === 0 ? chunk : chunk.subarray(start);
      if (this.partialHead === null) {
        this.partialHead = [piece];
        this.partialBytes = piece.length;
      } else {
        this.partialHead.push(piece);
        this.partialBytes += piece.length;
      }
      if (this.partialBytes > PARTIAL_HEAD_LIMIT) {
        // A head this large is rare: node:http takes it (and the connection) rather than the relay keep a
        // copy of its bytes, so a flood of huge heads costs no more than it did without the relay.
        this.handover(EMPTY, 0);
        return -1;
      }
      if (!this.firstHead && this.headTimer === null)
        this.headTimer = setTimeout(onHeadTimeout, this.ctx.headerTimeoutMs, this);
      return -1;
    }
    if (end === FAILED) {
      // node:http answers it (400, 431, 413 or 417, as it always has) and closes.
      this.handover(chunk, start);
      return -1;
    }
    this.clearHeadTimer();
    if (this.firstHead) {
      this.firstHead = false;
      if (!this.ctx.firstHeadComplete(this.socket)) {
        this.state = CLOSING;
        return -1;
      }
    }
    const head = this.parser.head!;
    const exchange = relayable(head)
      ? this.ctx.route.take(this, {
          head,
          path: originForm(head.target),
          peer: this.peer,
          peerPort: this.peerPort,
        })
      : undefined;
    if (exchange === undefined) {
      this.handover(chunk, start);
      return -1;
    }
    this.partialHead = null;
    this.parser.reset();
    this.exchange = exchange;
    this.startBody(head);
    // The body bytes that came with the head are checked before the request goes anywhere: a malformed
    // chunked body read in the same packet is refused without the app seeing any of it, as node:http does.
    let next = end;
    if (this.state === BODY_LENGTH && next < chunk.length) next = this.readSizedBody(chunk, next);
    else if (this.state === BODY_CHUNKED && next < chunk.length) next = this.readChunkedBody(chunk, next);
    if (next < 0 || this.exchange !== exchange) return -1;
    exchange.begin();
    return next;
  }

  private startBody(head: RequestHead): void {
    if (head.body === 'length') {
      this.state = BODY_LENGTH;
      this.remaining = head.contentLength;
    } else if (head.body === 'chunked') {
      this.state = BODY_CHUNKED;
      this.chunked ??= new ChunkedDecoder({ request: true, maxTrailerSize: this.ctx.maxHeadSize });
      this.chunked.reset(head.flags);
    } else this.state = AFTER;
  }

  private readSizedBody(chunk: Buffer, start: number): number {
    const n = Math.min(this.remaining, chunk.length - start);
    this.remaining -= n;
    const exchange = this.exchange;
    if (this.remaining === 0) this.state = AFTER;
    exchange?.requestBody(start === 0 && n === chunk.length ? chunk : chunk.subarray(start, start + n));
    if (this.remaining === 0) exchange?.requestBodyEnd();
    return start + n;
  }

  private readChunkedBody(chunk: Buffer, start: number): number {
    const decoder = this.chunked!;
    const end = decoder.execute(chunk, start);
    const exchange = this.exchange;
    if (end === FAILED) {
      this.state = CLOSING;
      this.ctx.logger.warn({ status: 400, problem: decoder.verdict!.reason }, 'malformed request body');
      exchange?.requestBodyFailed();
      return -1;
    }
    const stop = end === NEED_MORE ? chunk.length : end;
    if (end !== NEED_MORE) this.state = AFTER;
    exchange?.requestBody(start === 0 && stop === chunk.length ? chunk : chunk.subarray(start, stop));
    if (end !== NEED_MORE) exchange?.requestBodyEnd();
    return stop;
  }

  // Ending.

  /** Ends the connection after what was written; bytes that still come are read and dropped. */
  private close(): void {
    this.state = CLOSING;
    this.pending = null;
    const { socket } = this;
    socket.resume();
    socket.end();
    // A client that keeps the connection open after our FIN is let go of after a while.
    setTimeout(destroySocket, CLOSE_LINGER_MS, socket).unref();
  }

  /**
   * Gives the connection to node:http with what was read of the current request put back: the head's
   * earlier pieces and `chunk` from `start`.
   */
  private handover(chunk: Buffer, start: number): void {
    const { socket } = this;
    const rest = chunk.subarray(start);
    const bytes = this.partialHead === null ? rest : Buffer.concat([...this.partialHead, rest]);
    this.partialHead = null;
    this.clearHeadTimer();
    for (const [event, listener] of CLIENT_LISTENERS) socket.removeListener(event, listener as () => void);
    socket.setTimeout(0);
    socket[kConnection] = undefined;
    this.state = CLOSING;
    this.ctx.forget(this);
    socket.pause();
    if (bytes.length > 0) socket.unshift(bytes);
    this.ctx.handover(socket);
    socket.resume();
  }

  private clearHeadTimer(): void {
    if (this.headTimer !== null) {
      clearTimeout(this.headTimer);
      this.headTimer = null;
    }
  }
}

/**
 * Whether the relay may take a request at all: HTTP/1.1 with no upgrade and no `Expect` (node:http
 * answers `100 Continue` and the rest). HTTP/1.0 keep-alive rules and everything rarer stay with node:http.
 */
function relayable(head: RequestHead): boolean {
  return (
    head.versionMajor === 1 &&
    head.versionMinor === 1 &&
    !head.upgrade &&
    !head.expectContinue &&
    headProblem({ method: head.method, url: head.target, rawHeaders: head.rawHeaders }) === undefined
  );
}

// Listeners and timers made once; `this` is the socket.

function onClientData(this: RelaySocket, chunk: Buffer): void {
  this[kConnection]?.received(chunk);
}

function onClientEnd(this: RelaySocket): void {
  this[kConnection]?.ended();
}

function onClientError(this: RelaySocket): void {
  this[kConnection]?.gone();
}

function onClientClose(this: RelaySocket): void {
  const connection = this[kConnection];
  this[kConnection] = undefined;
  connection?.closed();
}

function onClientDrain(this: RelaySocket): void {
  this[kConnection]?.drained();
}

function onClientTimeout(this: RelaySocket): void {
  this[kConnection]?.timedOut();
}

/** The client socket's events and their listeners, added once per connection and removed on handover. */
const CLIENT_LISTENERS: readonly (readonly [string, (...args: never[]) => void])[] = [
  ['data', onClientData],
  ['end', onClientEnd],
  ['error', onClientError],
  ['close', onClientClose],
  ['drain', onClientDrain],
  ['timeout', onClientTimeout],
];

function onHeadTimeout(connection: RelayConnection): void {
  connection.headTimedOut();
}

function destroySocket(socket: Socket): void {
  socket.destroy();
}

import { ERRORS, type ErrorCode, wasSent, zerogateErrorHeaders } from '../errors.js';
import { ExchangeTimers, type TimedExchange } from '../exchange-timers.js';
import { H } from '../headers.js';
import {
  ChunkedDecoder,
  FAILED,
  NEED_MORE,
  type RequestHead,
  type ResponseHead,
  ResponseHeadParser,
} from '../http1/index.js';
import type { Logger } from '../logger.js';
import type { ExchangeTimeouts } from '../proxy-exchange.js';
import { http1ErrorResponse } from '../respond.js';
import { DONE, NOT_SENT, RUNNING, UpstreamExchange, WAITING } from '../upstream-exchange.js';
import { chunkSizeLine, LAST_CHUNK, requestHead, responseHead } from './message-heads.js';
import type { UpstreamConnections, UpstreamOwner, UpstreamSocket } from './upstream-connections.js';

/** What an exchange needs of the client connection it answers on ({@link RelayConnection}). */
export interface RelayClient {
  /**
   * Writes to the client; false when its buffer is full (`clientDrained` follows). A string is a head
   * or framing, written as latin1: header bytes pass through as the parser read them (node:http's way).
   */
  write(data: string | Buffer): boolean;
  /** Writes several pieces as one (one system call). */
  writeAll(a: string, b: Buffer): boolean;
  /** Stops and restarts reading the client (its request body outran the upstream). */
  pauseInput(): void;
  resumeInput(): void;
  /** The exchange is over: the connection goes on with its next request, or closes. */
  exchangeEnded(keepAlive: boolean): void;
  /** Destroys the client connection (a response cut short). */
  destroy(): void;
}

/** Where the upstream's response is. */
const HEAD = 0;
const LENGTH = 1;
const CHUNKED = 2;
/** A body without framing, until the upstream closes: re-framed chunked for the client. */
const UNTIL_CLOSE = 3;
const COMPLETE = 4;

/** Request body bytes held while the request waits for admission, before the client is paused. */
const HELD_BODY_BYTES = 64 * 1024;

const kParsers = Symbol('response parsers');
type ParsingSocket = UpstreamSocket & { [kParsers]?: ResponseParsers };

/** One upstream connection's response parsers, made once and reset per response. */
interface ResponseParsers {
  readonly head: ResponseHeadParser;
  readonly chunked: ChunkedDecoder;
}

/** The parsed facts of a request the relay took, and where it is relayed. */
export interface RelayRequest {
  readonly head: RequestHead;
  /** The origin-form path sent upstream. */
  readonly path: string;
  /** The peer's address, for `X-Forwarded-For`. */
  readonly peer: string;
  /** The peer's port, for the request log. */
  readonly peerPort?: number | undefined;
}

/**
 * One request through the raw HTTP/1.1 relay, from its parsed head to the end of its response: the same
 * contract as {@link ProxyExchange} (the timeouts of docs/queue-proxy.md §5, backpressure both ways, one
 * `ended` call however it ends), with the bytes moved as they come: the request body and a chunked or
 * sized response body are forwarded as received, framing included; only the heads are rebuilt.
 *
 * Subclasses decide admission (`admit`, then `forward`) and release what admission held (`ended`).
 */
export abstract class RelayExchange extends UpstreamExchange implements UpstreamOwner, TimedExchange {
  private upstream: ParsingSocket | null = null;
  private reused = false;
  /** The connections the current attempt's upstream came from. */
  private connections: UpstreamConnections | null = null;
  /** The upstream connection is established (a new one is connecting until then). */
  private connected = false;
  /** Request body bytes already written upstream (a request whose body was read cannot go again). */
  private bodyWritten = false;
  /** Reading off an upstream's `K-Request-Not-Sent` answer before trying again. */
  private discarding = false;
  /** Request body bytes received before the upstream was attached. */
  private heldBody: Buffer[] | null = null;
  private heldBytes = 0;
  /** The client sent the whole request body. */
  private bodyReceived: boolean;
  private phase = HEAD;
  private remaining = 0;
  private response: ResponseHead | null = null;
  /** Anything came back from the upstream for this attempt. */
  private answered = false;
  private readonly timers: ExchangeTimers;
  /** The status sent to the client, once a response started. */
  protected status = 0;
  /** Body bytes of the response relayed to the client (framing excluded). */
  private bodyBytes = 0;

  constructor(
    protected readonly client: RelayClient,
    protected readonly request: RelayRequest,
    protected readonly timeouts: ExchangeTimeouts,
    logger: Logger,
    arrivedAt: number,
  ) {
    super(logger, arrivedAt);
    this.bodyReceived = request.head.body === 'none';
    this.timers = new ExchangeTimers(this, timeouts);
  }

  /** Arms the timers, then asks for admission. */
  begin(): void {
    this.timers.arm(this.arrivedAt);
    this.admit();
  }

  protected get path(): string {
    return this.request.path;
  }

  /** Body bytes of the response relayed to the client so far (framing excluded), for the request log. */
  protected get responseLength(): number {
    return this.bodyBytes;
  }

  /** The request line, for the request log: what it reads of a request, under node:http's names. */
  get method(): string {
    return this.request.head.method;
  }

  get url(): string {
    return this.request.head.target;
  }

  get rawHeaders(): readonly string[] {
    return this.request.head.rawHeaders;
  }

  get httpVersion(): string {
    return `${this.request.head.versionMajor}.${this.request.head.versionMinor}`;
  }

  get socket(): { remoteAddress: string; remotePort: number | undefined } {
    return { remoteAddress: this.request.peer, remotePort: this.request.peerPort };
  }

  /** Whether the request carries a body. */
  protected get hasBody(): boolean {
    return this.request.head.body !== 'none';
  }

  /**
   * Sends the request upstream through `connections` with the rewritten `headers`, on a kept-alive
   * connection or, with `fresh`, a new one (a retry after a kept-alive connection broke). On a new
   * connection the body waits for the connection to be made, so a refused one loses none of it and the
   * request can go elsewhere ({@link retry}).
   */
  protected forward(connections: UpstreamConnections, headers: readonly string[], fresh = false): void {
    this.state = RUNNING;
    this.phase = HEAD;
    this.answered = false;
    this.discarding = false;
    this.connections = connections;
    const taken = connections.take(this, Date.now(), fresh);
    const socket = taken.socket as ParsingSocket;
    this.upstream = socket;
    this.reused = taken.reused;
    this.connected = taken.reused;
    const { head, path } = this.request;
    let parsers = socket[kParsers];
    if (parsers === undefined) {
      parsers = {
        head: new ResponseHeadParser(RESPONSE_LIMITS),
        chunked: new ChunkedDecoder({ request: false }),
      };
      socket[kParsers] = parsers;
    }
    parsers.head.reset(head.method === 'HEAD');
    const text = requestHead(head.method, path, headers, head.body === 'chunked');
    if (this.heldBody === null || !this.connected) socket.write(text, 'latin1');
    else {
      socket.cork();
      socket.write(text, 'latin1');
      this.flushHeldBody(socket);
      socket.uncork();
    }
  }

  /** Tries the request again from admission: after an upstream that provably never saw it. */
  protected retry(): void {
    this.state = WAITING;
    this.admit();
  }

  /** Writes the body held so far to a connected upstream. */
  private flushHeldBody(socket: ParsingSocket): void {
    const held = this.heldBody;
    if (held === null) return;
    this.heldBody = null;
    this.heldBytes = 0;
    this.bodyWritten = true;
    for (const piece of held) socket.write(piece);
    if (!this.bodyReceived) this.client.resumeInput();
  }

  /** Ends the exchange with a coded error response; the client connection stays usable when it can. */
  protected fail(code: ErrorCode, headers?: Record<string, string>, detail?: string): void {
    const started = this.status !== 0;
    this.state = DONE;
    this.dropUpstream();
    if (started) {
      // Too late for an error answer: the response is cut.
      this.client.destroy();
      this.finish(false, false);
      return;
    }
    this.status = ERRORS[code].status;
    headers = zerogateErrorHeaders(this.errorSource, code, headers);
    // UTF-8, as its Content-Length counts it (a body's detail may be any text).
    this.client.write(Buffer.from(http1ErrorResponse(code, headers, detail, this.keepsClient)));
    this.finish(true, this.keepsClient);
  }

  // The request body, as the client connection reads it.

  /** A piece of the request body, framing included. */
  requestBody(piece: Buffer): void {
    if (this.state === DONE) return;
    const upstream = this.upstream;
    if (upstream !== null && this.state === RUNNING && this.connected) {
      this.bodyWritten = true;
      if (!upstream.write(piece)) this.client.pauseInput();
      return;
    }
    // Waiting for admission or a connection: held, up to a bound, then the client waits.
    if (this.heldBody === null) this.heldBody = [piece];
    else this.heldBody.push(piece);
    this.heldBytes += piece.length;
    if (this.heldBytes >= HELD_BODY_BYTES) this.client.pauseInput();
  }

  /** The request body is complete. */
  requestBodyEnd(): void {
    this.bodyReceived = true;
  }

  /** The request body turned out malformed: 400 if nothing was answered yet, and the connection closes. */
  requestBodyFailed(): void {
    if (this.state === DONE) return;
    this.bodyReceived = false;
    this.fail('BAD_REQUEST');
  }

  /** The client connection is gone before the exchange ended. */
  clientGone(): void {
    if (this.state === DONE) return;
    this.state = DONE;
    this.dropUpstream();
    this.timers.clear();
    this.ended(false);
  }

  /** The client drained what it was sent: the upstream resumes. */
  clientDrained(): void {
    this.upstream?.resume();
  }

  // The upstream connection (UpstreamOwner).

  upstreamData(chunk: Buffer): void {
    if (this.state !== RUNNING) return;
    this.answered = true;
    const upstream = this.upstream!;
    const parsers = upstream[kParsers]!;
    let p = 0;
    let head = '';
    while (this.phase === HEAD) {
      const end = parsers.head.execute(chunk, p);
      if (end === NEED_MORE) return;
      if (end === FAILED) {
        this.responseFailed(new Error(`the app sent a malformed response: ${parsers.head.verdict!.reason}`));
        return;
      }
      const response = parsers.head.head!;
      p = end;
      if (response.statusCode < 200) {
        // An interim answer (100, 103): not relayed, as undici does; the final one follows.
        parsers.head.reset(this.request.head.method === 'HEAD');
        if (p === chunk.length) return;
        continue;
      }
      head = this.startResponse(response, parsers);
    }
    this.relayBody(chunk, p, head, parsers);
  }

  /**
   * The upstream closed its side. A body that runs until close ends here; so it does when the connection
   * is reset instead (an app that answered early, say 431, and closed with our request unread), as
   * undici takes it: nothing tells a close-delimited body's reset from its end.
   */
  upstreamEnd(): void {
    if (this.state !== RUNNING) return;
    if (this.phase === UNTIL_CLOSE) {
      this.phase = COMPLETE;
      this.writeClient(LAST_CHUNK);
      this.dropUpstream();
      this.responseComplete(false);
      return;
    }
    this.upstreamBroke(closedError());
  }

  upstreamError(err: Error): void {
    if (this.state !== RUNNING) return;
    if (this.phase === UNTIL_CLOSE) this.upstreamEnd();
    else this.upstreamBroke(err);
  }

  upstreamClose(): void {
    if (this.state !== RUNNING) return;
    if (this.phase === UNTIL_CLOSE) this.upstreamEnd();
    else this.upstreamBroke(closedError());
  }

  upstreamConnect(): void {
    const upstream = this.upstream;
    if (this.state !== RUNNING || upstream === null) return;
    this.connected = true;
    this.flushHeldBody(upstream);
  }

  upstreamDrain(): void {
    if (!this.bodyReceived) this.client.resumeInput();
  }

  // The response.

  /** The final response head arrived: it is rebuilt for the client and the body framing chosen. */
  private startResponse(response: ResponseHead, parsers: ResponseParsers): string {
    this.response = response;
    this.bodyBytes = 0;
    if (this.upstreamMarksNotSent && !this.bodyWritten && marksNotSent(response.rawHeaders)) {
      // Our queue-proxy says the app never saw it: read the answer off, then try again (upstreamFailed).
      this.discarding = true;
      this.setFraming(response, parsers);
      return '';
    }
    this.timers.responseStarted();
    this.status = response.statusCode;
    this.setFraming(response, parsers);
    const reframed = this.phase === CHUNKED || this.phase === UNTIL_CLOSE;
    return responseHead(
      response,
      reframed,
      !this.keepsClient,
      !this.upstreamMarksNotSent,
      this.responseTiming(),
    );
  }

  /** Where the response body ends, from its head. */
  private setFraming(response: ResponseHead, parsers: ResponseParsers): void {
    switch (response.body) {
      case 'length':
        this.phase = LENGTH;
        this.remaining = response.contentLength;
        break;
      case 'chunked':
        this.phase = CHUNKED;
        parsers.chunked.reset(response.flags);
        break;
      case 'none':
        this.phase = COMPLETE;
        break;
      default:
        this.phase = UNTIL_CLOSE;
    }
  }

  /** Relays the body bytes of `chunk` from `p`, after the rebuilt `head` when it is new. */
  private relayBody(chunk: Buffer, p: number, head: string, parsers: ResponseParsers): void {
    const len = chunk.length;
    switch (this.phase) {
      case LENGTH: {
        const n = Math.min(this.remaining, len - p);
        this.remaining -= n;
        this.bodyBytes += n;
        this.writeBody(head, chunk, p, p + n);
        if (this.remaining === 0) {
          this.phase = COMPLETE;
          this.responseComplete(p + n < len);
        }
        return;
      }
      case CHUNKED: {
        const before = parsers.chunked.dataBytes;
        const end = parsers.chunked.execute(chunk, p);
        this.bodyBytes += parsers.chunked.dataBytes - before;
        if (end === FAILED) {
          if (head !== '') this.writeClient(head);
          this.responseFailed(
            new Error(`the app sent a malformed chunked body: ${parsers.chunked.verdict!.reason}`),
          );
          return;
        }
        this.writeBody(head, chunk, p, end === NEED_MORE ? len : end);
        if (end !== NEED_MORE) {
          this.phase = COMPLETE;
          this.responseComplete(end < len);
        }
        return;
      }
      case UNTIL_CLOSE:
        if (head !== '') this.writeClient(head);
        this.bodyBytes += len - p;
        if (p < len) {
          const piece = chunk.subarray(p);
          this.writeClient(chunkSizeLine(piece.length));
          this.writeClient(piece);
          this.writeClient('\r\n');
        }
        return;
      default:
        // No body: the head alone; bytes after it answer nothing that was asked.
        this.writeClient(head);
        this.responseComplete(p < len);
    }
  }

  /** Writes the head (when new) and the body bytes `start`–`end` of `chunk` as one write. */
  private writeBody(head: string, chunk: Buffer, start: number, end: number): void {
    if (this.discarding) return;
    const piece = start === 0 && end === chunk.length ? chunk : chunk.subarray(start, end);
    if (head === '') {
      if (piece.length > 0) this.writeClient(piece);
    } else if (piece.length === 0) this.writeClient(head);
    else {
      this.timers.wrote();
      if (!this.client.writeAll(head, piece)) this.upstream?.pause();
    }
  }

  private writeClient(data: string | Buffer): void {
    if (this.discarding) return;
    this.timers.wrote();
    // Backpressure from a slow client reaches the upstream instead of piling up here.
    if (!this.client.write(data)) this.upstream?.pause();
  }

  /** The whole response went to the client; `extra`: the upstream sent more than it (not reusable). */
  private responseComplete(extra: boolean): void {
    const discarded = this.discarding;
    this.discarding = false;
    this.state = discarded ? WAITING : DONE;
    const upstream = this.upstream;
    const connections = this.connections!;
    this.upstream = null;
    if (upstream !== null) {
      const whole = discarded || this.bodyReceived;
      if (!extra && whole && this.response!.keepAlive && !upstream.destroyed) {
        upstream.resume();
        connections.release(upstream, Date.now());
      } else connections.discard(upstream);
    }
    if (discarded) this.upstreamFailed(NOT_SENT, false);
    else this.finish(true, this.keepsClient);
  }

  /** The upstream connection broke or sent something unparsable. */
  private upstreamBroke(err: Error): void {
    if (this.status !== 0) {
      this.responseFailed(err);
      return;
    }
    const sent = this.reused || this.answered ? true : wasSent(err);
    this.dropUpstream();
    this.state = WAITING;
    this.upstreamFailed(err, sent);
  }

  /** The response cannot go on: before it started, a failure; after, the client connection is cut. */
  private responseFailed(err: Error): void {
    if (this.status === 0) {
      this.dropUpstream();
      this.state = WAITING;
      this.upstreamFailed(err, true);
      return;
    }
    this.logger.warn({ err, path: this.request.path }, 'upstream failed mid-response');
    this.state = DONE;
    this.dropUpstream();
    this.client.destroy();
    this.finish(false, false);
  }

  /** Whether the client connection can take another request after this one. */
  private get keepsClient(): boolean {
    return this.request.head.keepAlive && this.bodyReceived;
  }

  /** Lets go of the upstream connection of an attempt that did not end cleanly. */
  private dropUpstream(): void {
    const upstream = this.upstream;
    this.upstream = null;
    if (upstream !== null) this.connections!.discard(upstream);
  }

  private finish(completed: boolean, keepAlive: boolean): void {
    this.timers.clear();
    this.ended(completed);
    this.client.exchangeEnded(completed && keepAlive);
  }

  // The timeouts (docs/queue-proxy.md §5).

  /** The total deadline passed: the timeout error if nothing was written, else the started response ends. */
  totalTimedOut(): void {
    if (this.state === DONE) return;
    this.timeOut(() => {
      // A chunked (or re-framed) response ends cleanly with the timeout text, as Knative ≥ 1.19 does; one
      // of declared length cannot, so its connection closes.
      if (this.phase === LENGTH) {
        this.client.destroy();
        this.finish(false, false);
        return;
      }
      const text = ERRORS.REQUEST_TIMEOUT.body;
      this.client.write(`${chunkSizeLine(Buffer.byteLength(text))}${text}\r\n${LAST_CHUNK}`);
      this.finish(true, false);
    });
  }

  /** The response-start deadline passed. */
  startTimedOut(): void {
    if (this.state === DONE || this.status !== 0) return;
    this.timedOut = true;
    this.fail(this.timeouts.error);
  }

  /** Nothing was written for the idle timeout. */
  idleTimedOut(): void {
    if (this.state === DONE) return;
    this.timeOut(() => {
      this.client.destroy();
      this.finish(false, false);
    });
  }

  /** Ends a timed-out exchange: the timeout error if nothing was written yet, else `endStarted`. */
  private timeOut(endStarted: () => void): void {
    this.timedOut = true;
    if (this.status === 0) {
      this.fail(this.timeouts.error);
      return;
    }
    this.state = DONE;
    this.dropUpstream();
    endStarted();
  }
}

/** Whether a response head carries `K-Request-Not-Sent`. */
function marksNotSent(raw: readonly string[]): boolean {
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === H.requestNotSent) return true;
  return false;
}

/** Response heads from the app may be as large as request heads (Go's 1 MiB). */
const RESPONSE_LIMITS = { maxHeadSize: 1 << 20 };

/** The upstream closed before its response was whole; the code reads as a reset to retry rules. */
function closedError(): Error {
  return Object.assign(new Error('the app closed the connection before the response ended'), {
    code: 'ECONNRESET',
  });
}

import type { Http2Session, ServerHttp2Stream } from 'node:http2';
import { H2_ENHANCE_YOUR_CALM, H2_REFUSED_STREAM } from './node-http.js';

/** The HTTP/2 limits of a serving endpoint; see {@link DEFAULT_H2_LIMITS} for the values and why. */
export interface H2Limits {
  /** `SETTINGS_MAX_CONCURRENT_STREAMS` advertised to each client. */
  readonly maxConcurrentStreams: number;
  /**
   * Streams of one connection whose handler is still running, past which the connection is closed with
   * GOAWAY `ENHANCE_YOUR_CALM`: more than the advertised limit can only be streams the client reset
   * while their handler still runs.
   */
  readonly maxPendingStreams: number;
  /** Streams of one connection the client may reset before their response started, at once… */
  readonly resetBurst: number;
  /** …and per second after that; past it the connection is closed with GOAWAY `ENHANCE_YOUR_CALM`. */
  readonly resetsPerSecond: number;
  /** Streams whose handler is running, over every connection of the process; past it new ones are refused. */
  readonly maxProcessStreams: number;
}

/**
 * Go's `http2.Server` defaults, which Knative's queue-proxy and activator serve h2c with: 250 concurrent
 * streams per connection, and the connection closed with `ENHANCE_YOUR_CALM` once more than four times
 * that many handlers are waiting (Go's fix for CVE-2023-44487, "rapid reset"). Resets before a response
 * started are also rate-limited, as nghttp2 does on its own (1,000 at once, then 33 a second) but lower,
 * so the connection is closed with `ENHANCE_YOUR_CALM` rather than nghttp2's `INTERNAL_ERROR`, and
 * before ten abusive connections can hold much memory. The process-wide cap bounds what many
 * connections together hold.
 */
export const DEFAULT_H2_LIMITS: H2Limits = Object.freeze({
  maxConcurrentStreams: 250,
  maxPendingStreams: 1000,
  resetBurst: 200,
  resetsPerSecond: 50,
  maxProcessStreams: 10_000,
});

/** A connection's counts. */
interface SessionState {
  /** Streams admitted whose `close` has not come. */
  open: number;
  /** Reset allowance left (a token bucket of `resetBurst`, refilled at `resetsPerSecond`). */
  resetTokens: number;
  /** When the allowance was last refilled, in ms. */
  refilledAt: number;
}

const kState = Symbol('h2StreamGuard');
type GuardedSession = Http2Session & { [kState]?: SessionState };
const kGuard = Symbol('h2StreamGuardOwner');
const kSession = Symbol('h2StreamGuardSession');
type GuardedStream = ServerHttp2Stream & { [kGuard]?: H2StreamGuard; [kSession]?: GuardedSession };

/** Why {@link H2StreamGuard.admit} did not admit a stream. */
export type H2Refusal = 'reset' | 'refused' | 'calm';

/**
 * Bounds what HTTP/2 clients make the server hold (see {@link H2Limits}): streams past the process cap
 * are refused with `REFUSED_STREAM` (safe to retry), and a connection that resets too many streams before
 * their response, or leaves too many streams open at once, is closed with GOAWAY `ENHANCE_YOUR_CALM`.
 * Call {@link admit} as the request arrives: Node runs request handlers while it is still parsing the
 * read that carried them, and closes streams the client reset in that read before the read ends, so the
 * counts stay ahead of the client even when a read holds thousands of frames.
 */
export class H2StreamGuard {
  #open = 0;

  constructor(
    private readonly limits: H2Limits = DEFAULT_H2_LIMITS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Streams admitted whose `close` has not come, over every connection. */
  get open(): number {
    return this.#open;
  }

  /**
   * Decides whether a new stream is served; returns undefined when it is (the stream is then counted
   * until its `close`), else why not (the stream or its connection is already dealt with).
   */
  admit(stream: ServerHttp2Stream): H2Refusal | undefined {
    const session = stream.session as GuardedSession | undefined;
    if (session === undefined || session.destroyed || stream.destroyed) return 'reset';
    let state = session[kState];
    if (state === undefined) {
      state = { open: 0, resetTokens: this.limits.resetBurst, refilledAt: this.now() };
      session[kState] = state;
    }
    if (state.open >= this.limits.maxPendingStreams) {
      calm(session, `more than ${this.limits.maxPendingStreams} streams open on one connection`);
      return 'calm';
    }
    if (this.#open >= this.limits.maxProcessStreams) {
      stream.close(H2_REFUSED_STREAM);
      return 'refused';
    }
    state.open++;
    this.#open++;
    const guarded = stream as GuardedStream;
    guarded[kGuard] = this;
    guarded[kSession] = session;
    stream.once('close', onStreamClose);
    return undefined;
  }

  /** A stream admitted by this guard closed. */
  closed(stream: ServerHttp2Stream): void {
    this.#open--;
    const session = (stream as GuardedStream)[kSession];
    const state = session?.[kState];
    if (state === undefined || session === undefined) return;
    state.open--;
    // Reset before any response went out: the client gave up on it (the proxy's own errors answer).
    if (stream.rstCode !== 0 && !stream.headersSent && !session.destroyed) this.#reset(session, state);
  }

  /** Counts a stream of `session` reset before its response started; closes the session past the limit. */
  #reset(session: GuardedSession, state: SessionState): void {
    const now = this.now();
    const { resetBurst, resetsPerSecond } = this.limits;
    state.resetTokens = Math.min(
      resetBurst,
      state.resetTokens + ((now - state.refilledAt) * resetsPerSecond) / 1000,
    );
    state.refilledAt = now;
    state.resetTokens -= 1;
    if (state.resetTokens < 0) {
      calm(
        session,
        `more than ${resetBurst} streams reset before their response (then ${resetsPerSecond}/s)`,
      );
    }
  }
}

function onStreamClose(this: GuardedStream): void {
  this[kGuard]?.closed(this);
}

/** Error a connection closed for abuse ends with (the server's `sessionError` logs it). */
export class H2AbuseError extends Error {
  readonly code = 'H2_ENHANCE_YOUR_CALM';
  constructor(message: string) {
    super(message);
    this.name = 'H2AbuseError';
  }
}

/**
 * Closes the connection with GOAWAY `ENHANCE_YOUR_CALM` (streams in flight end with it), as Go's server
 * does for too many early resets.
 */
function calm(session: Http2Session, reason: string): void {
  if (session.destroyed) return;
  session.destroy(new H2AbuseError(reason), H2_ENHANCE_YOUR_CALM);
}

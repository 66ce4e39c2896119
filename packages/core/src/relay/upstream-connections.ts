import { connect, type Socket } from 'node:net';

/**
 * How long an idle upstream connection is trusted for reuse. Node's HTTP server (most apps here) closes a
 * keep-alive connection after 5 s idle; taking one after 4 s could race that close, so it is dropped and
 * a fresh one made instead, as undici's `keepAliveTimeout` (4 s) does.
 */
const IDLE_REUSE_MS = 4_000;

/**
 * Whoever uses an upstream connection now: its events go there. The listeners are installed once per
 * connection and look the owner up, so handing a connection on costs no listener churn.
 */
export interface UpstreamOwner {
  /** A new connection is established. */
  upstreamConnect(): void;
  upstreamData(chunk: Buffer): void;
  /** The upstream closed its side. */
  upstreamEnd(): void;
  upstreamError(err: Error): void;
  /** The connection is gone (after `upstreamEnd` or `upstreamError`, or destroyed by anyone). */
  upstreamClose(): void;
  /** What was written has drained. */
  upstreamDrain(): void;
}

const kOwner = Symbol('upstream owner');
/** A connection made here, with the owner its events go to. */
export type UpstreamSocket = Socket & { [kOwner]: UpstreamOwner | null };

/**
 * Keep-alive HTTP/1.1 connections to one upstream address, for the raw relay: a released connection is
 * reused last-in first-out (the warmest first), one that closes or speaks while idle is dropped. There is
 * no cap: the breaker in front bounds how many requests are in flight, as Go's transport leaves it.
 */
export class UpstreamConnections {
  private readonly idle: IdleConnection[] = [];
  private readonly open = new Set<UpstreamSocket>();
  private closed = false;

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {}

  /**
   * An idle connection (`reused` true) or a new one, still connecting (writes are queued until it is; a
   * refused connection reports an `ECONNREFUSED` error); `fresh` skips the idle ones. Its events go to
   * `owner` until it is released or discarded.
   */
  take(owner: UpstreamOwner, now: number, fresh = false): { socket: UpstreamSocket; reused: boolean } {
    const idle = this.idle;
    while (!fresh && idle.length > 0) {
      const entry = idle.pop()!;
      const { socket } = entry;
      if (socket.destroyed || !socket.writable || now - entry.since >= IDLE_REUSE_MS) {
        socket.destroy();
        continue;
      }
      socket[kOwner] = owner;
      return { socket, reused: true };
    }
    const socket = connect({ host: this.host, port: this.port, noDelay: true }) as UpstreamSocket;
    socket[kOwner] = owner;
    for (const [event, listener] of UPSTREAM_LISTENERS) socket.on(event, listener as () => void);
    this.open.add(socket);
    socket.once('close', () => this.open.delete(socket));
    if (this.closed) socket.destroy();
    return { socket, reused: false };
  }

  /** Gives a connection back for reuse; it must be at a message boundary with nothing unread. */
  release(socket: UpstreamSocket, now: number): void {
    if (this.closed || socket.destroyed) {
      socket[kOwner] = null;
      socket.destroy();
      return;
    }
    const entry = new IdleConnection(this, socket, now);
    socket[kOwner] = entry;
    this.idle.push(entry);
  }

  /** Destroys a connection its owner gives up on; its last events go nowhere. */
  discard(socket: UpstreamSocket): void {
    socket[kOwner] = null;
    socket.destroy();
  }

  /** Idle connections (for tests). */
  get idleCount(): number {
    return this.idle.length;
  }

  /** Closes every connection, idle or in use; later ones are destroyed as they come. */
  close(): void {
    this.closed = true;
    for (const socket of this.open) socket.destroy();
    this.idle.length = 0;
  }

  /** An idle connection closed or sent bytes nobody asked for: it is dropped. */
  drop(entry: IdleConnection): void {
    const i = this.idle.indexOf(entry);
    if (i >= 0) this.idle.splice(i, 1);
    entry.socket.destroy();
  }
}

/** The owner of an idle connection: anything it hears makes the connection unusable. */
class IdleConnection implements UpstreamOwner {
  constructor(
    private readonly pool: UpstreamConnections,
    readonly socket: UpstreamSocket,
    readonly since: number,
  ) {}

  upstreamData(): void {
    this.pool.drop(this);
  }

  upstreamEnd(): void {
    this.pool.drop(this);
  }

  upstreamError(): void {
    this.pool.drop(this);
  }

  upstreamClose(): void {
    this.pool.drop(this);
  }

  upstreamDrain(): void {}

  upstreamConnect(): void {}
}

// Listeners installed once per connection; `this` is the socket.

function onConnect(this: UpstreamSocket): void {
  this[kOwner]?.upstreamConnect();
}

function onData(this: UpstreamSocket, chunk: Buffer): void {
  this[kOwner]?.upstreamData(chunk);
}

function onEnd(this: UpstreamSocket): void {
  this[kOwner]?.upstreamEnd();
}

function onError(this: UpstreamSocket, err: Error): void {
  this[kOwner]?.upstreamError(err);
}

function onClose(this: UpstreamSocket): void {
  const owner = this[kOwner];
  this[kOwner] = null;
  owner?.upstreamClose();
}

function onDrain(this: UpstreamSocket): void {
  this[kOwner]?.upstreamDrain();
}

/** The upstream socket's events and their listeners, added once per connection. */
const UPSTREAM_LISTENERS: readonly (readonly [string, (...args: never[]) => void])[] = [
  ['connect', onConnect],
  ['data', onData],
  ['end', onEnd],
  ['error', onError],
  ['close', onClose],
  ['drain', onDrain],
];

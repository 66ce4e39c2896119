import type { Socket } from 'node:net';
import type { Logger } from '../logger.js';
import { RelayConnection, type RelayConnectionContext, type RelayRoute } from './relay-connection.js';

/** How an {@link Http1Relay} is set up; built once by the serving endpoint. */
export interface Http1RelayOptions {
  readonly route: RelayRoute;
  /** Gives a connection the relay does not take to node:http (bytes read so far are put back first). */
  readonly handover: (socket: Socket) => void;
  /** Stops the listener's first-head timer; false when it already answered 408. */
  readonly firstHeadComplete: (socket: Socket) => boolean;
  /** How long a later request head may take, in ms (the listener times the first). */
  readonly headerTimeoutMs: number;
  /** How long a connection may sit idle between requests, in ms. */
  readonly keepAliveTimeoutMs: number;
  /** Limit on a request head (node's `maxHeaderSize` accounting). */
  readonly maxHeadSize: number;
  readonly logger: Logger;
}

/**
 * The raw HTTP/1.1 relay of a serving listener: plain HTTP/1.1 connections are read here, each request
 * parsed once and its bytes moved to the upstream without node:http's and undici's message objects
 * (docs/queue-proxy.md §3.5); whatever it does not take goes to node:http. Keeps its connections for
 * the drain.
 */
export class Http1Relay {
  private readonly connections = new Set<RelayConnection>();
  private readonly ctx: RelayConnectionContext;

  constructor(options: Http1RelayOptions) {
    this.ctx = { ...options, forget: (connection) => this.connections.delete(connection) };
  }

  /** Takes a new connection (its first bytes may have been put back for it to read). */
  readonly accept = (socket: Socket): void => {
    this.connections.add(new RelayConnection(socket, this.ctx));
  };

  /** Connections open on the relay. */
  get size(): number {
    return this.connections.size;
  }

  /** Closes the connections with no request in flight or partly read. */
  closeIdle(): void {
    for (const connection of this.connections) if (connection.idle) connection.destroy();
  }

  /** Closes every connection now. */
  closeAll(): void {
    for (const connection of this.connections) connection.destroy();
  }
}

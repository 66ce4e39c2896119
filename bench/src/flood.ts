/**
 * A crowd of clients for the activator's fair-holding measurement: one request on each of thousands
 * of connections, sent from a worker thread (`flood-worker.ts`) so that the main thread can time
 * other requests meanwhile without waiting behind the flood's connects and parses.
 */
import { Worker } from 'node:worker_threads';
import { workerModule } from './worker-module.js';

const WORKER_MODULE = workerModule('./flood-worker', import.meta.url);

/** Where the flood goes and the request it sends on each connection. */
export interface FloodTarget {
  readonly port: number;
  /** The whole request head, `\r\n\r\n` included. */
  readonly head: string;
}

/** The flood's answers so far. */
export interface FloodCount {
  /** Answers by status code, counted when their status line arrived. */
  readonly statuses: Readonly<Record<string, number>>;
  /** Connections closed with no answer. */
  readonly failed: number;
  /** Connections still open (held requests among them). */
  readonly open: number;
  /** When the last answer arrived, ms since the epoch (`performance.timeOrigin + now()`); undefined before any. */
  readonly lastAnswerAt: number | undefined;
}

/** A message to the worker. */
export type FloodRequest =
  | { readonly id: number; readonly op: 'send'; readonly count: number }
  | { readonly id: number; readonly op: 'count' | 'close' };

/** The worker's answer to one {@link FloodRequest}. */
export interface FloodReply {
  readonly id: number;
  readonly count: FloodCount;
}

/**
 * A GET of `/` with `headers`, asking the server to close the connection after its answer, so an
 * answered connection of the flood leaves nothing open.
 */
export function floodHead(headers: Readonly<Record<string, string>>): string {
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
  return `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n${lines.join('')}\r\n`;
}

/** The flood's worker thread and the calls waiting for its answers. */
export class Flood {
  readonly #worker: Worker;
  readonly #waiting = new Map<number, { resolve(count: FloodCount): void; reject(err: Error): void }>();
  #nextId = 1;

  /** Starts the worker for `target`; nothing is sent before {@link send}. */
  constructor(target: FloodTarget) {
    this.#worker = new Worker(WORKER_MODULE, { workerData: target });
    this.#worker.on('message', (reply: FloodReply) => {
      this.#waiting.get(reply.id)?.resolve(reply.count);
      this.#waiting.delete(reply.id);
    });
    this.#worker.on('error', (err) => this.#failAll(err));
    this.#worker.on('exit', (code) => this.#failAll(new Error(`the flood's worker exited (${code})`)));
  }

  /** Opens `count` connections and sends the request on each; resolves once all are written. */
  send(count: number): Promise<FloodCount> {
    return this.#call({ op: 'send', count });
  }

  /** The answers so far. */
  count(): Promise<FloodCount> {
    return this.#call({ op: 'count' });
  }

  /** Closes every connection still open (withdrawing the held requests) and forgets the counts. */
  close(): Promise<FloodCount> {
    return this.#call({ op: 'close' });
  }

  /** Stops the worker, closing every connection it had. */
  async terminate(): Promise<void> {
    await this.#worker.terminate();
  }

  #call(request: { op: 'send'; count: number } | { op: 'count' | 'close' }): Promise<FloodCount> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      this.#worker.postMessage({ ...request, id });
    });
  }

  #failAll(err: Error): void {
    for (const waiting of this.#waiting.values()) waiting.reject(err);
    this.#waiting.clear();
  }
}

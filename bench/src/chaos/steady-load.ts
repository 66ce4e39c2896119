/**
 * Steady load that records every request: `clients` loops, each sending one request at a time on its
 * own keep-alive connection, each request's send and end time and outcome kept. autocannon
 * (`load-generator.ts`) measures throughput and latency but cannot tell which requests failed when, or
 * how; a fault scenario needs exactly that, so it drives its load here.
 */
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { classifyError, classifyStatus, type RequestRecord } from './outcomes.js';

/** One steady load. */
export interface SteadyLoadOptions {
  /** `http://127.0.0.1:<port>`: the origin the requests go to. */
  readonly origin: string;
  /** Path and query of every request, default `/`. */
  readonly path?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly clients: number;
  /** A request not answered within this long is a timeout. */
  readonly timeoutMs: number;
  /** Pause after a failed request, so a refusing target is not spun on. Default 20 ms. */
  readonly failurePauseMs?: number;
}

/** Runs until {@link SteadyLoad.stop}; the records are in `performance.now()` milliseconds. */
export class SteadyLoad {
  readonly records: RequestRecord[] = [];
  readonly #pool: Pool;
  readonly #loops: Promise<void>[] = [];
  #running = true;

  constructor(readonly options: SteadyLoadOptions) {
    // One connection per client; pipelining 1 so a reset costs only the request on it.
    this.#pool = new Pool(options.origin, { connections: options.clients, pipelining: 1 });
    for (let i = 0; i < options.clients; i++) this.#loops.push(this.#loop());
  }

  async #loop(): Promise<void> {
    const { path = '/', headers = {}, timeoutMs, failurePauseMs = 20 } = this.options;
    while (this.#running) {
      const sentAt = performance.now();
      let outcome: string;
      let retryAfter = false;
      try {
        const res = await this.#pool.request({
          method: 'GET',
          path,
          headers,
          signal: AbortSignal.timeout(timeoutMs),
        });
        await res.body.dump();
        outcome = classifyStatus(res.statusCode);
        retryAfter = res.headers['retry-after'] !== undefined;
      } catch (err) {
        outcome = classifyError(err);
      }
      this.records.push({ sentAt, doneAt: performance.now(), outcome, retryAfter });
      if (outcome !== '2xx' && this.#running) await new Promise((r) => setTimeout(r, failurePauseMs));
    }
  }

  /** Stops sending; resolves once every request in flight has ended, with the records. */
  async stop(): Promise<RequestRecord[]> {
    this.#running = false;
    await Promise.all(this.#loops);
    await this.#pool.destroy();
    return this.records;
  }
}

/** Resolves once `count` more requests have succeeded under `load`, or rejects after `timeoutMs`. */
export async function waitForSuccesses(load: SteadyLoad, count: number, timeoutMs: number): Promise<void> {
  const start = load.records.filter((r) => r.outcome === '2xx').length;
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    let ok = 0;
    for (const r of load.records) if (r.outcome === '2xx') ok++;
    if (ok - start >= count) return;
    if (performance.now() > deadline) {
      throw new Error(`steady load: ${ok - start} of ${count} requests succeeded within ${timeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

import type { Logger } from '../logger.js';
import type { Span } from './span.js';

/** Sends one batch of spans to the backend; rejects when the backend did not take them. */
export type SpanSender = (spans: readonly Span[]) => Promise<void>;

/** How spans are batched; every field has a default. */
export interface BatchOptions {
  /** Spans kept waiting at most; past it, new spans are dropped and counted. Default 2048 (OTel's). */
  readonly maxQueue?: number;
  /** Spans per export at most; a full batch is sent at once. Default 512 (OTel's). */
  readonly maxBatch?: number;
  /** How often waiting spans are sent. Default 1 s. */
  readonly intervalMs?: number;
  /** How long {@link BatchExporter.shutdown} waits for the last export. Default 5 s. */
  readonly shutdownTimeoutMs?: number;
}

/**
 * Collects finished spans and sends them in batches, off the request path: `push` only appends to a
 * bounded queue, so a slow or dead backend never blocks or slows a request; past the bound spans are
 * dropped and counted ({@link dropped}), as are spans of an export the backend refused. One export runs
 * at a time; a failure is logged, at most once per failure kind per interval by the caller's
 * rate-limited logger. `shutdown` sends what is left.
 */
export class BatchExporter {
  private queue: Span[] = [];
  private sending: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private droppedCount = 0;
  private exportedCount = 0;
  private readonly maxQueue: number;
  private readonly maxBatch: number;
  private readonly shutdownTimeoutMs: number;

  constructor(
    private readonly send: SpanSender,
    private readonly logger: Logger,
    options: BatchOptions = {},
  ) {
    this.maxQueue = options.maxQueue ?? 2048;
    this.maxBatch = options.maxBatch ?? 512;
    this.shutdownTimeoutMs = options.shutdownTimeoutMs ?? 5000;
    const intervalMs = options.intervalMs ?? 1000;
    for (const [name, v] of [
      ['maxQueue', this.maxQueue],
      ['maxBatch', this.maxBatch],
      ['intervalMs', intervalMs],
    ] as const) {
      if (!(Number.isInteger(v) && v > 0))
        throw new RangeError(`BatchExporter option ${name} must be a positive integer, got ${v}`);
    }
    this.timer = setInterval(() => this.flush(), intervalMs);
    this.timer.unref();
  }

  /** Spans dropped so far: the queue was full, or the backend did not take them. */
  get dropped(): number {
    return this.droppedCount;
  }

  /** Spans the backend took so far. */
  get exported(): number {
    return this.exportedCount;
  }

  /** Spans waiting now. */
  get queued(): number {
    return this.queue.length;
  }

  /** Queues a finished span; drops it (counted) when the queue is full. Never blocks. */
  push(span: Span): void {
    if (this.queue.length >= this.maxQueue) {
      this.droppedCount++;
      return;
    }
    this.queue.push(span);
    if (this.queue.length >= this.maxBatch && this.sending === undefined) this.flush();
  }

  /** Starts an export of up to one batch of waiting spans, unless one is running; resolves when it ends. */
  flush(): Promise<void> {
    if (this.sending !== undefined) return this.sending;
    if (this.queue.length === 0) return Promise.resolve();
    const batch = this.queue.length <= this.maxBatch ? this.queue : this.queue.slice(0, this.maxBatch);
    this.queue = batch === this.queue ? [] : this.queue.slice(this.maxBatch);
    const sending = this.send(batch).then(
      () => {
        this.exportedCount += batch.length;
      },
      (err: unknown) => {
        this.droppedCount += batch.length;
        this.logger.warn({ err, spans: batch.length }, 'trace export failed; spans dropped');
      },
    );
    this.sending = sending.finally(() => {
      this.sending = undefined;
      // A full queue is not left waiting for the next tick.
      if (this.queue.length >= this.maxBatch) void this.flush();
    });
    return this.sending;
  }

  /** Stops the timer and sends every span still waiting, waiting at most the shutdown timeout. */
  async shutdown(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    const deadline = Date.now() + this.shutdownTimeoutMs;
    while ((this.queue.length > 0 || this.sending !== undefined) && Date.now() < deadline) {
      const left = deadline - Date.now();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.flush(),
        new Promise((resolve) => {
          timer = setTimeout(resolve, left);
        }),
      ]);
      clearTimeout(timer);
    }
    if (this.queue.length > 0) {
      this.droppedCount += this.queue.length;
      this.logger.warn(
        { spans: this.queue.length },
        'trace export did not finish before shutdown; spans dropped',
      );
      this.queue = [];
    }
  }
}

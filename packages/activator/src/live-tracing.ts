import {
  type Logger,
  type ResourceAttributes,
  startTracing,
  type Tracer,
  type Tracing,
  type TracingConfig,
} from '@zerogate/core';

/** What {@link LiveTracing} sets up with each tracing it starts. */
export interface LiveTracingOptions {
  readonly logger: Logger;
  readonly resource: ResourceAttributes;
  /** Called once, when tracing first turns on, with the count of spans dropped over every tracing run. */
  readonly countDropped: (dropped: () => number) => void;
}

/**
 * The activator's tracing, which a ConfigMap may change while it runs (docs/activator.md §7.1): a
 * request takes the tracer in use when it arrives; a change starts the new exporter, then sends the old
 * one's waiting spans and closes it.
 */
export class LiveTracing {
  private current: Tracing | undefined;
  private config: TracingConfig | undefined;
  private retiredDropped = 0;
  private counting = false;
  /** Changes run one after another, in the order asked for. */
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly options: LiveTracingOptions) {}

  /** The tracer in use, undefined while tracing is off. */
  get tracer(): Tracer | undefined {
    return this.current?.tracer;
  }

  /** Switches to `config` unless it is the one in use; resolves once the old exporter was closed. */
  set(config: TracingConfig): Promise<void> {
    this.queue = this.queue.then(() => this.apply(config));
    return this.queue;
  }

  /** Sends the spans still waiting and closes the exporter. */
  shutdown(): Promise<void> {
    this.queue = this.queue.then(() => this.retire());
    return this.queue;
  }

  private async apply(config: TracingConfig): Promise<void> {
    if (this.config !== undefined && sameTracing(this.config, config)) return;
    const next = await startTracing(config, this.options.logger, this.options.resource);
    const old = this.current;
    // Requests from now on use the new tracer while the old one sends what it still holds.
    this.current = next;
    this.config = config;
    if (next && !this.counting) {
      this.counting = true;
      this.options.countDropped(() => this.retiredDropped + (this.current?.dropped() ?? 0));
    }
    if (!next && old) this.options.logger.info('tracing off');
    await this.close(old);
  }

  private async retire(): Promise<void> {
    const old = this.current;
    this.current = undefined;
    await this.close(old);
  }

  private async close(tracing: Tracing | undefined): Promise<void> {
    if (!tracing) return;
    await tracing.shutdown();
    this.retiredDropped += tracing.dropped();
  }
}

function sameTracing(a: TracingConfig, b: TracingConfig): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

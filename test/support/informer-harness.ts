/** What the unit tests of the components watching a test API server set up alike. */
import { Writable } from 'node:stream';
import type { KubeConfig } from '@kubernetes/client-node';
import { type Logger, pino } from 'pino';
import { afterEach, beforeEach } from 'vitest';
import { TestApiServer } from './test-apiserver.js';

/** One JSON line a component logged. */
export interface LogLine {
  level: number;
  msg: string;
  watch?: string;
  problems?: string[];
  [key: string]: unknown;
}

/** The options every watching component takes, as a test gives them. */
export interface HarnessOptions {
  readonly kubeConfig: KubeConfig;
  readonly logger: Logger;
  readonly backoff: { readonly initialMs: number; readonly maxMs: number };
}

/**
 * Per test (it registers `beforeEach` and `afterEach`): a fresh {@link TestApiServer}, and the components
 * `build` makes on it stopped after the test, before the server closes. They get the server's kubeconfig,
 * a debug logger whose lines land parsed in {@link logs}, and retries after milliseconds.
 */
export class InformerHarness<T extends { stop(): Promise<void> }, O extends object> {
  private api: TestApiServer | undefined;
  private lines: LogLine[] = [];
  private readonly made: T[] = [];

  constructor(private readonly build: (options: HarnessOptions & Partial<O>) => T) {
    beforeEach(async () => {
      this.api = await TestApiServer.start();
      this.lines = [];
    });
    afterEach(async () => {
      for (const component of this.made.splice(0)) await component.stop();
      await this.api?.close();
      this.api = undefined;
    });
  }

  /** This test's API server. */
  get server(): TestApiServer {
    if (!this.api) throw new Error('InformerHarness: the server exists only while a test runs');
    return this.api;
  }

  /** What the components logged in this test. */
  get logs(): LogLine[] {
    return this.lines;
  }

  /** The component made last in this test. */
  get last(): T | undefined {
    return this.made.at(-1);
  }

  /** Makes a component on this test's server, `options` overriding the harness's. */
  make(options: Partial<O> = {}): T {
    const sink = new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        for (const line of chunk.toString().split('\n'))
          if (line) this.lines.push(JSON.parse(line) as LogLine);
        done();
      },
    });
    const component = this.build({
      kubeConfig: this.server.kubeConfig(),
      logger: pino({ level: 'debug' }, sink),
      backoff: { initialMs: 5, maxMs: 40 },
      ...options,
    });
    this.made.push(component);
    return component;
  }
}

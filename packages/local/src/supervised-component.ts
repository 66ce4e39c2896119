/**
 * A component process (activator, autoscaler) kept running: its first start binds free ports (port 0,
 * so no other process can take them between choosing and binding), and every restart binds those same
 * ports, so whoever talks to it (the ingress, the activator's autoscaler websocket) finds it again;
 * restarted after an unexpected exit with a backoff that doubles while restarts keep failing.
 */
import type { Logger } from '@zerogate/core';
import type { Child } from './child.js';
import { type ComponentName, startComponent } from './component.js';

/** Restart delay: doubling from 500 ms, capped at 30 s, reset after a minute of running. */
const RESTART_BACKOFF = { initialMs: 500, maxMs: 30_000, stableMs: 60_000 } as const;

/** One supervised component. */
export class SupervisedComponent {
  private child: Child | undefined;
  private stopped = false;
  private delayMs: number = RESTART_BACKOFF.initialMs;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly name: ComponentName,
    private env: Readonly<Record<string, string>>,
    private readonly logDir: string,
    private readonly logger: Logger,
    /** The variables that bind the same ports again, given the ports of the first start. */
    private readonly pinPorts: (ports: Readonly<Record<string, number>>) => Record<string, string>,
  ) {}

  /**
   * The first start; resolves with the ports bound, or rejects (with the reason) when the component
   * does not come up.
   */
  async start(): Promise<Readonly<Record<string, number>>> {
    const ports = await this.launch();
    this.env = { ...this.env, ...this.pinPorts(ports) };
    return ports;
  }

  /** Stops the component and any pending restart. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.child?.stop(10_000);
  }

  private async launch(): Promise<Readonly<Record<string, number>>> {
    const started = await startComponent(this.name, this.env, this.logDir);
    const at = Date.now();
    this.child = started.child;
    void started.child.exited.then((exit) => {
      if (this.stopped) return;
      if (Date.now() - at > RESTART_BACKOFF.stableMs) this.delayMs = RESTART_BACKOFF.initialMs;
      this.logger.error(
        { component: this.name, code: exit.code, signal: exit.signal, restartInMs: this.delayMs },
        `${this.name} exited; restarting it`,
      );
      this.scheduleRestart();
    });
    return started.ports;
  }

  private scheduleRestart(): void {
    const delay = this.delayMs;
    this.delayMs = Math.min(this.delayMs * 2, RESTART_BACKOFF.maxMs);
    this.timer = setTimeout(() => {
      if (this.stopped) return;
      this.launch().then(
        () => this.logger.info({ component: this.name }, `${this.name} restarted`),
        (err: unknown) => {
          if (this.stopped) return;
          this.logger.error({ err, component: this.name }, `${this.name} did not restart; trying again`);
          this.scheduleRestart();
        },
      );
    }, delay);
  }
}

/**
 * A component process (activator, autoscaler) kept running: its first start binds free ports (port 0,
 * so no other process can take them between choosing and binding), and every restart binds those same
 * ports, so whoever talks to it (the ingress, the activator's autoscaler websocket) finds it again;
 * restarted after an unexpected exit with a backoff that doubles while restarts keep failing.
 */
import { Backoff, type Logger } from '@zerogate/core';
import type { ChildExit } from './child.js';
import { type ComponentName, type StartedComponent, startComponent } from './component.js';

/** Restart delay: doubling from 500 ms, capped at 30 s. */
export const RESTART_BACKOFF = { initialMs: 500, maxMs: 30_000 } as const;
/** A run this long counts as a success: the next restart waits the initial delay again. */
export const RESTART_STABLE_MS = 60_000;

/** What the supervisor needs of a started process. */
export interface SupervisedProcess {
  readonly exited: Promise<ChildExit>;
  stop(graceMs: number): Promise<unknown>;
}

/** Starts the component once; {@link startComponent} unless a test gives its own. */
export type Launcher = (
  name: ComponentName,
  env: Readonly<Record<string, string>>,
  logDir: string,
) => Promise<Pick<StartedComponent, 'ports'> & { readonly child: SupervisedProcess }>;

/** One supervised component. */
export class SupervisedComponent {
  private child: SupervisedProcess | undefined;
  private stopped = false;
  private readonly backoff = new Backoff({ ...RESTART_BACKOFF, resetAfterMs: RESTART_STABLE_MS });
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly name: ComponentName,
    private env: Readonly<Record<string, string>>,
    private readonly logDir: string,
    private readonly logger: Logger,
    /** The variables that bind the same ports again, given the ports of the first start. */
    private readonly pinPorts: (ports: Readonly<Record<string, number>>) => Record<string, string>,
    private readonly launcher: Launcher = startComponent,
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
    const started = await this.launcher(this.name, this.env, this.logDir);
    const at = Date.now();
    this.child = started.child;
    void started.child.exited.then((exit) => {
      if (this.stopped) return;
      this.backoff.ran(Date.now() - at);
      this.logger.error(
        { component: this.name, code: exit.code, signal: exit.signal, restartInMs: this.backoff.peek() },
        `${this.name} exited; restarting it`,
      );
      this.scheduleRestart();
    });
    return started.ports;
  }

  private scheduleRestart(): void {
    const delay = this.backoff.next();
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

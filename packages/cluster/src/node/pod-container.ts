/**
 * One container of a Pod through its life, as the kubelet keeps it: started as a process, restarted
 * after it exits (unless told not to) with the kubelet's crash-loop back-off, and probed — startup first,
 * then readiness and liveness with their periods and thresholds; a failed liveness or startup probe
 * restarts it. Every change of state is reported so the Pod's status can be written.
 */
import { Backoff } from '@zerogate/core';
import { ContainerProcess, type ContainerProcessSpec, type ProcessExit } from './container-process.js';
import type { Container, Probe } from './pod-spec.js';
import { type ExecRunner, probeOnce } from './probe.js';

/** The kubelet's crash-loop back-off: 10 s doubling to 5 min. */
export const CRASH_BACKOFF = { initialMs: 10_000, maxMs: 300_000 } as const;
/** A run this long resets the back-off (the kubelet: 10 minutes). */
const BACKOFF_RESET_MS = 600_000;

/** A container state, as core/v1 ContainerState writes it. */
export type ContainerStateValue =
  | { waiting: { reason: string; message?: string } }
  | { running: { startedAt: string } }
  | {
      terminated: {
        exitCode: number;
        signal?: number;
        reason: string;
        startedAt: string;
        finishedAt: string;
      };
    };

/** How the container is run: its process spec (a function: the environment may change on restart). */
export interface PodContainerOptions {
  readonly spec: Container;
  readonly podIp: string;
  /** Builds the process to run (throws when the container cannot be configured). */
  readonly process: () => ContainerProcessSpec;
  readonly exec: ExecRunner;
  /** Whether to start it again after it exits with `code`. */
  readonly restartAfter: (code: number) => boolean;
  readonly backoff?: { initialMs: number; maxMs: number };
  readonly changed: () => void;
}

/** One container. */
export class PodContainer {
  state: ContainerStateValue = { waiting: { reason: 'ContainerCreating' } };
  lastState: ContainerStateValue | undefined;
  restartCount = 0;
  ready = false;
  /** Whether the startup probe (if any) has passed on the current run. */
  started = false;
  /** The exit of the last run, once it ended and will not be restarted. */
  finished: ProcessExit | undefined;
  private process: ContainerProcess | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly backoff: Backoff;
  private stopping = false;
  private startedWaiters: (() => void)[] = [];
  private finishedWaiters: ((exit: ProcessExit) => void)[] = [];

  constructor(private readonly options: PodContainerOptions) {
    this.backoff = new Backoff({ ...(options.backoff ?? CRASH_BACKOFF), resetAfterMs: BACKOFF_RESET_MS });
  }

  get name(): string {
    return this.options.spec.name;
  }

  /** Whether a process of it runs now. */
  get running(): boolean {
    return this.process?.running ?? false;
  }

  /** The process id of the current run (the root of its process tree), while one runs. */
  get pid(): number | undefined {
    return this.process?.running ? this.process.pid : undefined;
  }

  /** Starts the first run. */
  start(): void {
    this.launch();
  }

  /** Resolves once the container has started (its startup probe passed), or failed to. */
  whenStarted(): Promise<void> {
    if (this.started || this.finished) return Promise.resolve();
    return new Promise((resolve) => this.startedWaiters.push(resolve));
  }

  /** Resolves with the exit of the last run, once it ended for good (not to be restarted, or stopped). */
  whenFinished(): Promise<ProcessExit> {
    if (this.finished) return Promise.resolve(this.finished);
    return new Promise((resolve) => this.finishedWaiters.push(resolve));
  }

  /** Stops probing and restarting, sends SIGTERM, SIGKILL after `graceMs`; resolves once it has exited. */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    this.clearTimers();
    this.ready = false;
    await this.process?.stop(Math.max(0, graceMs));
  }

  private launch(): void {
    if (this.stopping) return;
    let spec: ContainerProcessSpec;
    try {
      spec = this.options.process();
    } catch (err) {
      this.state = { waiting: { reason: 'CreateContainerConfigError', message: (err as Error).message } };
      this.options.changed();
      this.after(2000, () => this.launch());
      return;
    }
    const proc = new ContainerProcess(spec);
    this.process = proc;
    this.state = { running: { startedAt: proc.startedAt.toISOString() } };
    this.ready = false;
    this.started = false;
    this.options.changed();
    void proc.exited.then((exit) => this.onExit(proc, exit));
    this.runProbes(proc);
  }

  private onExit(proc: ContainerProcess, exit: ProcessExit): void {
    if (proc !== this.process) return;
    this.clearTimers();
    const code = exit.code ?? 128 + signalNumber(exit.signal);
    const terminated: ContainerStateValue = {
      terminated: {
        exitCode: code,
        ...(exit.signal ? { signal: signalNumber(exit.signal) } : {}),
        reason: code === 0 ? 'Completed' : 'Error',
        startedAt: proc.startedAt.toISOString(),
        finishedAt: new Date().toISOString(),
      },
    };
    this.ready = false;
    if (this.stopping || !this.options.restartAfter(code)) {
      this.state = terminated;
      this.finished = exit;
      this.wakeStarted();
      for (const wake of this.finishedWaiters.splice(0)) wake(exit);
      this.options.changed();
      return;
    }
    this.backoff.ran(Date.now() - proc.startedAt.getTime());
    this.lastState = terminated;
    this.restartCount++;
    const delay = this.backoff.next();
    this.state = {
      waiting: {
        reason: 'CrashLoopBackOff',
        message: `back-off ${Math.round(delay / 1000)}s restarting failed container=${this.name}`,
      },
    };
    this.options.changed();
    this.after(delay, () => this.launch());
  }

  private runProbes(proc: ContainerProcess): void {
    const { startupProbe, readinessProbe, livenessProbe } = this.options.spec;
    const afterStartup = () => {
      this.started = true;
      this.wakeStarted();
      if (!readinessProbe) this.ready = true;
      this.options.changed();
      if (readinessProbe) {
        this.loop(proc, readinessProbe, (ok) => {
          if (this.ready !== ok) {
            this.ready = ok;
            this.options.changed();
          }
        });
      }
      if (livenessProbe)
        this.loop(proc, livenessProbe, (ok) => {
          if (!ok) this.restart(proc);
        });
    };
    if (!startupProbe) {
      afterStartup();
      return;
    }
    let passed = false;
    this.loop(
      proc,
      startupProbe,
      (ok) => {
        if (passed) return;
        if (ok) {
          passed = true;
          afterStartup();
        } else this.restart(proc);
      },
      true,
    );
  }

  /**
   * Probes every period after the initial delay; `verdict` gets true once `successThreshold` attempts in a
   * row passed, false once `failureThreshold` failed. A startup probe stops at its first verdict.
   */
  private loop(proc: ContainerProcess, probe: Probe, verdict: (ok: boolean) => void, once = false): void {
    const period = (probe.periodSeconds ?? 10) * 1000;
    const successThreshold = probe.successThreshold ?? 1;
    const failureThreshold = probe.failureThreshold ?? 3;
    let successes = 0;
    let failures = 0;
    const attempt = async () => {
      if (proc !== this.process || this.stopping || !proc.running) return;
      const ok = await probeOnce(probe, this.options.spec, this.options.podIp, this.options.exec);
      if (proc !== this.process || this.stopping) return;
      if (ok) {
        successes++;
        failures = 0;
        if (successes >= successThreshold) {
          verdict(true);
          if (once) return;
        }
      } else {
        failures++;
        successes = 0;
        if (failures >= failureThreshold) {
          verdict(false);
          if (once) return;
        }
      }
      this.after(period, attempt);
    };
    this.after((probe.initialDelaySeconds ?? 0) * 1000, attempt);
  }

  /** Ends the run (a failed liveness or startup probe); the exit handler starts the next after the back-off. */
  private restart(proc: ContainerProcess): void {
    if (proc !== this.process || this.stopping) return;
    proc.signal('SIGTERM');
    this.after(2000, () => proc.signal('SIGKILL'));
  }

  private after(ms: number, run: () => void | Promise<void>): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void run();
    }, ms);
    this.timers.add(timer);
  }

  private clearTimers(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private wakeStarted(): void {
    for (const wake of this.startedWaiters.splice(0)) wake();
  }
}

function signalNumber(signal: NodeJS.Signals | null): number {
  const numbers: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
  return (signal && numbers[signal]) ?? 0;
}

/**
 * A child process of the platform (a component, a user app): started in its own process group so a
 * stop reaches everything it spawned (a shell's children included), its output appended to a log file
 * and offered line by line to the caller. The start, the log and the reading of its output happen on
 * a thread of their own (`spawner-worker.ts`).
 */
import { spawnOnThread } from './spawner.js';

/** Set in every child's environment to the platform's pid. */
export const PLATFORM_PID_VARIABLE = 'ZEROGATE_PLATFORM_PID';

/** Children running now, so an unexpected exit of the platform still takes them down. */
const running = new Set<Child>();
process.on('exit', () => {
  for (const child of running) child.signal('SIGKILL');
});

/** How a child ended. */
export interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** What to run. */
export interface ChildSpec {
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd?: string;
  /** Where stdout and stderr are appended (rotated at `LOG_FILE_MAX_BYTES`). */
  readonly logFile: string;
  /** Each stdout line, for callers that read what the child says (startup lines). */
  readonly onLine?: (line: string) => void;
}

/** A running child; {@link exited} settles once, however it ends. */
export class Child {
  readonly exited: Promise<ChildExit>;
  private exit: ChildExit | undefined;
  private processId: number | undefined;
  /** A signal asked for before the process was started: sent once it is. */
  private pendingSignal: NodeJS.Signals | undefined;

  constructor(spec: ChildSpec) {
    if (spec.argv[0] === undefined) throw new TypeError('Child argv must not be empty');
    let settle!: (exit: ChildExit) => void;
    this.exited = new Promise((resolve) => {
      settle = resolve;
    });
    const onLine = spec.onLine;
    // Started off the event loop (spawner-worker.ts), which the wait for a new program would block.
    spawnOnThread(
      {
        argv: spec.argv,
        // The marker lets anyone find every process this platform started (tests sweep with it).
        env: { ...spec.env, [PLATFORM_PID_VARIABLE]: String(process.pid) },
        ...(spec.cwd ? { cwd: spec.cwd } : {}),
        logFile: spec.logFile,
        lines: onLine !== undefined,
      },
      {
        spawned: (pid) => {
          this.processId = pid;
          const pending = this.pendingSignal;
          this.pendingSignal = undefined;
          if (pending !== undefined) this.signalGroup(pending);
        },
        lines: (lines) => {
          for (const line of lines) onLine?.(line);
        },
        exited: (code, signal) => {
          if (this.exit) return;
          running.delete(this);
          this.exit = { code, signal };
          settle(this.exit);
        },
      },
    );
    running.add(this);
  }

  get pid(): number | undefined {
    return this.processId;
  }

  /** True until the process exited. */
  get running(): boolean {
    return this.exit === undefined;
  }

  /** Signals the whole process group while its leader runs. */
  signal(signal: NodeJS.Signals): void {
    if (!this.exit) this.signalGroup(signal);
  }

  private signalGroup(signal: NodeJS.Signals): void {
    if (this.processId === undefined) {
      // Not started yet: the strongest signal asked for goes once it is.
      if (this.pendingSignal !== 'SIGKILL') this.pendingSignal = signal;
      return;
    }
    try {
      process.kill(-this.processId, signal);
    } catch {
      // Already gone.
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it exited. */
  async stop(graceMs: number): Promise<ChildExit> {
    if (this.exit) return this.exit;
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
      // Whatever the leader left behind in its group goes with it.
      this.signalGroup('SIGKILL');
    }
  }
}

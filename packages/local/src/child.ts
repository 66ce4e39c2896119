/**
 * A child process of the platform (a component, a user app): started in its own process group so a
 * stop reaches everything it spawned (a shell's children included), its output appended to a log file
 * and offered line by line to the caller.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { LogFile } from './log-file.js';

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
  private readonly proc: ChildProcess;
  private readonly log: LogFile;

  constructor(spec: ChildSpec) {
    const [program, ...args] = spec.argv;
    if (program === undefined) throw new TypeError('Child argv must not be empty');
    this.log = new LogFile(spec.logFile);
    this.proc = spawn(program, args, {
      // The marker lets anyone find every process this platform started (tests sweep with it).
      env: { ...spec.env, [PLATFORM_PID_VARIABLE]: String(process.pid) },
      ...(spec.cwd ? { cwd: spec.cwd } : {}),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let partial = '';
    this.proc.stdout?.setEncoding('utf8');
    this.proc.stdout?.on('data', (chunk: string) => {
      this.log.write(chunk);
      if (!spec.onLine) return;
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) spec.onLine(line);
    });
    this.proc.stderr?.on('data', (chunk: Buffer) => this.log.write(chunk));
    this.exited = new Promise((resolve) => {
      const done = (code: number | null, signal: NodeJS.Signals | null) => {
        if (this.exit) return;
        running.delete(this);
        this.exit = { code, signal };
        resolve(this.exit);
      };
      // 'error' without 'exit' when the program cannot be started (ENOENT, EACCES).
      this.proc.once('error', (err) => {
        this.log.write(`cannot start ${program}: ${err.message}\n`);
        void this.log.end();
        done(127, null);
      });
      this.proc.once('exit', done);
      // The log closes once the output pipes did, so the last lines before an exit are kept.
      this.proc.once('close', () => void this.log.end());
    });
    running.add(this);
  }

  get pid(): number | undefined {
    return this.proc.pid;
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
    if (this.proc.pid === undefined) return;
    try {
      process.kill(-this.proc.pid, signal);
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

/**
 * Starts the processes a benchmark needs and guarantees they are gone afterwards.
 *
 * Each child runs in its own process group (`detached`), so a shell wrapper and everything it
 * started is stopped with one signal to the group. The supervisor remembers every live group and
 * can kill them all synchronously from an `exit` or signal handler. For the one end no handler sees,
 * this process being SIGKILLed, a reaper shell holds the list of groups and kills them when its
 * stdin, a pipe from this process, closes.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname } from 'node:path';
import type { Writable } from 'node:stream';

/** How long a child gets to exit after SIGTERM before its whole group is killed. */
const STOP_GRACE_MS = 1_000;

/** How much of a child's stdout and stderr is kept for error messages. */
const TAIL_BYTES = 8 * 1024;

/** What to start. */
export interface ProcessSpec {
  /** Short name for messages. */
  readonly name: string;
  /** argv, already prefixed with `taskset` if pinned. */
  readonly argv: readonly string[];
  /** Variables added to this process's environment. */
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
}

/** Keeps the last `limit` bytes written to it. */
class Tail {
  #chunks: Buffer[] = [];
  #size = 0;
  constructor(readonly limit: number) {}

  push(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    while (this.#size - this.#chunks[0]!.length >= this.limit) this.#size -= this.#chunks.shift()!.length;
  }

  toString(): string {
    const all = Buffer.concat(this.#chunks);
    return all.subarray(Math.max(0, all.length - this.limit)).toString('utf8');
  }
}

/** A child process started by a {@link Supervisor}. */
export class ManagedProcess {
  /** Resolves with the exit code (or signal name) once the process has exited. */
  readonly exited: Promise<number | string>;
  readonly #child: ChildProcess;
  readonly #stdout = new Tail(TAIL_BYTES);
  readonly #stderr = new Tail(TAIL_BYTES);
  #exit: number | string | undefined;

  /** Wraps a spawned child; use {@link Supervisor.start} rather than calling this. */
  constructor(
    readonly name: string,
    child: ChildProcess,
  ) {
    this.#child = child;
    child.stdout?.on('data', (chunk: Buffer) => this.#stdout.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => this.#stderr.push(chunk));
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.#exit = code ?? signal ?? 'unknown';
        resolve(this.#exit);
      });
      child.once('error', (err) => {
        this.#stderr.push(Buffer.from(`spawn failed: ${err.message}\n`));
        this.#exit ??= 'spawn error';
        resolve(this.#exit);
      });
    });
  }

  /** The pid, which is also the process group id. */
  get pid(): number {
    if (this.#child.pid === undefined) throw new Error(`${this.name} has no pid: it failed to start`);
    return this.#child.pid;
  }

  /** The exit code or signal, or undefined while running. */
  get exitStatus(): number | string | undefined {
    return this.#exit;
  }

  /** The last few KiB of the process's stderr. */
  stderr(): string {
    return this.#stderr.toString();
  }

  /** The last few KiB of the process's stdout. */
  stdout(): string {
    return this.#stdout.toString();
  }

  /** Sends a signal to the whole process group; false if it is already gone. */
  signalGroup(signal: NodeJS.Signals): boolean {
    const pid = this.#child.pid;
    if (pid === undefined) return false;
    try {
      process.kill(-pid, signal);
      return true;
    } catch {
      return false;
    }
  }
}

/**
 * The reaper: reads one process group id per line; at end of input (this process is gone) it kills
 * every group it was told about. It idles in `read`, so it costs nothing while the benchmark runs.
 */
const REAPER_SCRIPT =
  'groups=; while read -r g; do groups="$groups $g"; done; for g in $groups; do kill -9 -"$g" 2>/dev/null; done';

/** Starts child processes and stops every one of them, whatever happens. */
export class Supervisor {
  readonly #live = new Set<ManagedProcess>();
  #reaper: { readonly child: ChildProcess; readonly input: Writable } | undefined;

  #tellReaper(pid: number): void {
    if (this.#reaper === undefined) {
      const child = spawn('sh', ['-c', REAPER_SCRIPT], {
        detached: true,
        stdio: ['pipe', 'ignore', 'ignore'],
      });
      child.unref();
      const input = child.stdin!;
      input.on('error', () => {});
      (input as Writable & { unref?: () => void }).unref?.();
      this.#reaper = { child, input };
    }
    this.#reaper.input.write(`${pid}\n`);
  }

  /** Spawns a process in a new process group, with stdout and stderr kept for error messages. */
  start(spec: ProcessSpec): ManagedProcess {
    const [command, ...args] = spec.argv;
    if (command === undefined) throw new Error(`${spec.name}: empty command`);
    const child = spawn(command, args, {
      cwd: spec.cwd,
      env: {
        ...process.env,
        // Shell commands find the same Node as this process.
        PATH: `${dirname(process.execPath)}:${process.env['PATH'] ?? ''}`,
        ...spec.env,
      },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const managed = new ManagedProcess(spec.name, child);
    this.#live.add(managed);
    if (child.pid !== undefined) this.#tellReaper(child.pid);
    void managed.exited.then(() => {
      // The leader is gone; make sure nothing it started lingers in its group.
      managed.signalGroup('SIGKILL');
      this.#live.delete(managed);
    });
    return managed;
  }

  /** Stops one process: SIGTERM to its group, then SIGKILL after a grace period. */
  async stop(proc: ManagedProcess): Promise<void> {
    if (proc.exitStatus === undefined && proc.signalGroup('SIGTERM')) {
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, STOP_GRACE_MS);
      });
      await Promise.race([proc.exited, grace]);
      clearTimeout(timer);
    }
    proc.signalGroup('SIGKILL');
    if (proc.exitStatus === undefined) await proc.exited;
    this.#live.delete(proc);
  }

  /** Stops every live process, then the reaper, which has nothing left to do. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.#live].map((proc) => this.stop(proc)));
    this.#stopReaper();
  }

  /** Kills every live process group at once; safe to call from an `exit` handler. */
  killAllSync(): void {
    for (const proc of this.#live) proc.signalGroup('SIGKILL');
    this.#live.clear();
    this.#stopReaper();
  }

  // Killed rather than left to read end of input, so it never signals a group id the kernel reused.
  #stopReaper(): void {
    this.#reaper?.child.kill('SIGKILL');
    this.#reaper = undefined;
  }
}

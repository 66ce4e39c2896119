/**
 * A control-plane process: started in its own process group with its output appended to a log file, so
 * it can outlive the process that started it (`cluster:up`) and be stopped later by its PID alone.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { sleep } from '@zerogate/core';

/** A started process: its PID and whether it has ended. */
export class Daemon {
  readonly pid: number;
  private ended = false;
  private readonly exitWaiters: (() => void)[] = [];

  constructor(
    readonly name: string,
    readonly argv: readonly string[],
    readonly logFile: string,
  ) {
    const [program, ...args] = argv;
    if (program === undefined) throw new TypeError('Daemon argv must not be empty');
    const out = openSync(logFile, 'a');
    try {
      const child = spawn(program, args, { stdio: ['ignore', out, out], detached: true });
      if (child.pid === undefined) throw new Error(`${name} did not start (${program})`);
      this.pid = child.pid;
      child.on('exit', () => {
        this.ended = true;
        for (const wake of this.exitWaiters.splice(0)) wake();
      });
      child.on('error', () => {});
      child.unref();
    } finally {
      closeSync(out);
    }
  }

  /** Whether the process is still running. */
  get running(): boolean {
    return !this.ended && isAlive(this.pid);
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  async stop(graceMs = 5000): Promise<void> {
    await stopPid(this.pid, graceMs, () => this.running);
  }
}

/** Whether `pid` names a live process. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Stops the process group led by `pid`: SIGTERM, then SIGKILL after `graceMs`; resolves once `running`
 * (by default: the PID answers signal 0) says it is gone.
 */
export async function stopPid(pid: number, graceMs: number, running = () => isAlive(pid)): Promise<void> {
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      try {
        process.kill(pid, sig);
      } catch {
        // Already gone.
      }
    }
  };
  if (!running()) return;
  signal('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (running() && Date.now() < deadline) await sleep(50);
  if (!running()) return;
  signal('SIGKILL');
  while (running()) await sleep(20);
}

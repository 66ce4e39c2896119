/**
 * A container as a process: it enters its Pod's network namespace (`nsenter`), gets a mount namespace of
 * its own (`unshare --mount`) in which the image's folders and the Pod's volumes are bind-mounted where
 * the container expects them, then runs its command in its working directory. Output goes to a log file.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { isAlive, stopPid } from '../daemon.js';

/** One bind mount: a folder or file of this machine at a path of the container's. */
export interface Mount {
  readonly source: string;
  readonly target: string;
  readonly readOnly?: boolean;
}

/** What to run. */
export interface ContainerProcessSpec {
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly workingDir: string;
  readonly mounts: readonly Mount[];
  /** `/proc/<pause>/ns/net` of the Pod. */
  readonly netns: string;
  readonly logFile: string;
}

/** How a container process ended. */
export interface ProcessExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A running container process. */
export class ContainerProcess {
  readonly pid: number;
  readonly exited: Promise<ProcessExit>;
  readonly startedAt = new Date();
  private done = false;

  constructor(spec: ContainerProcessSpec) {
    const out = openSync(spec.logFile, 'a');
    try {
      const child = spawn(
        'nsenter',
        [
          `--net=${spec.netns}`,
          '--',
          'unshare',
          '--mount',
          '--propagation',
          'private',
          '--',
          'sh',
          '-c',
          mountScript(spec.mounts, spec.workingDir),
          'container',
          ...spec.argv,
        ],
        { env: { ...spec.env }, stdio: ['ignore', out, out], detached: true },
      );
      if (child.pid === undefined) throw new Error('nsenter did not start');
      this.pid = child.pid;
      this.exited = new Promise((resolve) => {
        child.on('exit', (code, signal) => {
          this.done = true;
          resolve({ code, signal });
        });
        child.on('error', () => {
          this.done = true;
          resolve({ code: 127, signal: null });
        });
      });
    } finally {
      closeSync(out);
    }
  }

  /** Whether the process still runs. */
  get running(): boolean {
    return !this.done && isAlive(this.pid);
  }

  /** Sends `signal` to the container's process group. */
  signal(signal: NodeJS.Signals): void {
    try {
      process.kill(-this.pid, signal);
    } catch {
      // Already gone.
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  async stop(graceMs: number): Promise<ProcessExit> {
    await stopPid(this.pid, graceMs, () => this.running);
    return this.exited;
  }
}

/**
 * The shell run inside the new mount namespace: makes each mount point (a folder, or a file for a file
 * source), binds the source onto it (read-only when asked), changes to the working directory and
 * becomes the container's command (`"$@"`).
 */
export function mountScript(mounts: readonly Mount[], workingDir: string): string {
  const lines = ['set -e'];
  for (const m of mounts) {
    const source = quote(m.source);
    const target = quote(m.target);
    lines.push(
      `if [ -d ${source} ]; then mkdir -p ${target}; else mkdir -p "$(dirname ${target})"; [ -e ${target} ] || : > ${target}; fi`,
      `mount --bind ${source} ${target}`,
    );
    if (m.readOnly) lines.push(`mount -o remount,bind,ro ${target}`);
  }
  lines.push(`cd ${quote(workingDir)}`, 'exec "$@"');
  return lines.join('\n');
}

/** A POSIX shell single-quoted word. */
export function quote(text: string): string {
  return `'${text.replaceAll("'", "'\\''")}'`;
}

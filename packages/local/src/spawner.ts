/**
 * The platform's side of `spawner-worker.ts`: one thread for the whole process, started with the first
 * child, keeping the process alive while a child it started runs, as the child's own pipes would.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

/** A process to start. */
export interface SpawnOrder {
  readonly id: number;
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd?: string;
  readonly logFile: string;
  /** Forward stdout lines. */
  readonly lines: boolean;
}

/** What the thread tells of a process it started. */
export type SpawnReport =
  | { readonly id: number; readonly kind: 'spawned'; readonly pid: number }
  | { readonly id: number; readonly kind: 'lines'; readonly lines: readonly string[] }
  | {
      readonly id: number;
      readonly kind: 'exit';
      readonly code: number | null;
      readonly signal: NodeJS.Signals | null;
    };

/** What a started process's owner is told. */
export interface SpawnListener {
  spawned(pid: number): void;
  lines(lines: readonly string[]): void;
  exited(code: number | null, signal: NodeJS.Signals | null): void;
}

/**
 * The worker's module: the built one beside this file, or, when the sources run (the tests), the one the
 * build wrote (`npm test` builds first).
 */
function workerModule(): URL {
  const beside = new URL('./spawner-worker.js', import.meta.url);
  return existsSync(fileURLToPath(beside)) ? beside : new URL('../dist/spawner-worker.js', import.meta.url);
}

let worker: Worker | undefined;
const listeners = new Map<number, SpawnListener>();
let nextId = 0;

function thread(): Worker {
  if (worker !== undefined) return worker;
  const started = new Worker(workerModule());
  started.unref();
  started.on('message', (report: SpawnReport) => {
    const listener = listeners.get(report.id);
    if (listener === undefined) return;
    if (report.kind === 'spawned') listener.spawned(report.pid);
    else if (report.kind === 'lines') listener.lines(report.lines);
    else {
      listeners.delete(report.id);
      if (listeners.size === 0) started.unref();
      listener.exited(report.code, report.signal);
    }
  });
  started.on('error', (err) => {
    // The thread itself failed: every process it was watching is reported gone.
    worker = undefined;
    for (const [id, listener] of listeners) {
      listeners.delete(id);
      listener.exited(127, null);
    }
    process.emitWarning(`the platform's process starter failed: ${err.message}`);
  });
  worker = started;
  return started;
}

/** Starts a process on the spawner thread; `listener` hears of it. */
export function spawnOnThread(order: Omit<SpawnOrder, 'id'>, listener: SpawnListener): void {
  const id = nextId++;
  listeners.set(id, listener);
  const started = thread();
  started.ref();
  started.postMessage({ ...order, id } satisfies SpawnOrder);
}

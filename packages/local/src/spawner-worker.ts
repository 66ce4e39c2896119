/**
 * The thread that starts the platform's processes for `child.ts`. Starting a process blocks the thread
 * that asks until the new program runs (the runtime waits to learn whether it could be started), which
 * on a machine busy starting other Pods takes tens of milliseconds: here that blocks this thread, not
 * the platform's event loop, which meanwhile probes Pods and tells the activator about them. This
 * thread also appends each process's output to its log file and forwards the stdout lines asked for.
 */
import { spawn } from 'node:child_process';
import { parentPort } from 'node:worker_threads';
import { LogFile } from './log-file.js';
import type { SpawnOrder, SpawnReport } from './spawner.js';

const port = parentPort;
if (port === null) throw new Error('spawner-worker runs as a worker thread');
const report = (message: SpawnReport) => port.postMessage(message);

port.on('message', (order: SpawnOrder) => start(order));

function start(order: SpawnOrder): void {
  const { id } = order;
  const log = new LogFile(order.logFile);
  const [program, ...args] = order.argv;
  const proc = spawn(program!, args, {
    env: order.env,
    ...(order.cwd ? { cwd: order.cwd } : {}),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  if (proc.pid !== undefined) report({ id, kind: 'spawned', pid: proc.pid });
  let partial = '';
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (chunk: string) => {
    log.write(chunk);
    if (!order.lines) return;
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    if (lines.length > 0) report({ id, kind: 'lines', lines });
  });
  proc.stderr.on('data', (chunk: Buffer) => log.write(chunk));
  // 'error' without 'exit' when the program cannot be started (ENOENT, EACCES).
  proc.once('error', (err) => {
    log.write(`cannot start ${program}: ${err.message}\n`);
    void log.end();
    report({ id, kind: 'exit', code: 127, signal: null });
  });
  proc.once('exit', (code, signal) => report({ id, kind: 'exit', code, signal }));
  // The log closes once the output pipes did, so the last lines before an exit are kept.
  proc.once('close', () => void log.end());
}

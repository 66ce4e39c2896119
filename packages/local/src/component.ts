/**
 * Starts one of Zerogate's own components (activator, autoscaler) as a child process from the same
 * entry point a cluster runs, and waits for its `started` line to learn the ports it bound.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ACTIVATOR_NODE_FLAGS } from '@zerogate/activator/node-flags';
import { Child } from './child.js';

/** A component that started. */
export interface StartedComponent {
  readonly child: Child;
  readonly ports: Readonly<Record<string, number>>;
}

/** A component exited or stayed silent instead of starting. */
export class ComponentStartError extends Error {
  constructor(name: string, reason: string, logFile: string) {
    super(`${name} did not start: ${reason} (log: ${logFile})`);
    this.name = 'ComponentStartError';
  }
}

const MAINS = {
  activator: '@zerogate/activator/dist/main.js',
  autoscaler: '@zerogate/autoscaler/dist/main.js',
} as const;

/** Node flags each component runs with, as its image's entry point gives them. */
const NODE_FLAGS: Readonly<Record<keyof typeof MAINS, readonly string[]>> = {
  activator: ACTIVATOR_NODE_FLAGS,
  autoscaler: [],
};

/** The components the platform runs. */
export type ComponentName = keyof typeof MAINS;

/** Time a component may take to print its `started` line. */
const START_TIMEOUT_MS = 20_000;

/** Spawns `name` with `env` (added to this process's) and resolves once it printed `started`. */
export function startComponent(
  name: ComponentName,
  env: Readonly<Record<string, string>>,
  logDir: string,
): Promise<StartedComponent> {
  const logFile = join(logDir, `${name}.log`);
  return new Promise((resolve, reject) => {
    let child: Child | undefined;
    const timer = setTimeout(() => {
      void child?.stop(1000);
      reject(new ComponentStartError(name, `no startup line within ${START_TIMEOUT_MS / 1000} s`, logFile));
    }, START_TIMEOUT_MS);
    child = new Child({
      argv: [process.execPath, ...NODE_FLAGS[name], fileURLToPath(import.meta.resolve(MAINS[name]))],
      env: { ...process.env, ...env },
      logFile,
      onLine: (line) => {
        if (!line.includes('"msg":"started"')) return;
        const ports = (JSON.parse(line) as { ports?: Record<string, number> }).ports ?? {};
        clearTimeout(timer);
        if (child) resolve({ child, ports });
      },
    });
    void child.exited.then((exit) => {
      clearTimeout(timer);
      reject(new ComponentStartError(name, `exited with ${exit.signal ?? `code ${exit.code}`}`, logFile));
    });
  });
}

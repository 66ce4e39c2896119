/**
 * Knative's own queue-proxy as a benchmark target: where `npm run knative:build`
 * (`packages/cluster/build-knative.sh`) leaves it, and the fixed ports it binds.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { knativeBinDir, parseEnvFile } from '@zerogate/cluster';

/** The `--compare` value that selects Knative's queue-proxy as `npm run knative:build` builds it. */
export const KNATIVE_COMPARE = 'knative';

/** The version pins the build scripts read, relative to the repository root. */
export const VERSIONS_FILE = 'packages/cluster/versions.env';

/**
 * Ports Knative's queue-proxy binds on every interface whatever its environment: the admin server
 * (`networking.QueueAdminPort`, 8022) and the autoscaler's stats (`AutoscalingQueueMetricsPort`,
 * 9090), both in `pkg/queue/sharedmain`. It would also take 9091 (`UserQueueMetricsPort`) with a
 * request metrics backend, 8008 with profiling, and neither is set here. So only one can run at a
 * time, and only where nothing else holds these ports.
 */
export const KNATIVE_QUEUE_PORTS: readonly number[] = [8022, 9090];

/** How long a Knative queue-proxy stopped a moment ago may take to let go of its fixed ports. */
export const PORTS_FREE_TIMEOUT_MS = 5_000;

/** Knative's built queue-proxy. */
export interface KnativeQueue {
  /** The pinned knative.dev/serving version. */
  readonly version: string;
  /** The `queue` binary (`knative.dev/serving/cmd/queue`). */
  readonly path: string;
}

/**
 * Finds the pinned Knative queue-proxy binary; throws, naming `npm run knative:build`, when the pin
 * or the binary is missing, so a run that compares against it fails before anything starts.
 */
export function findKnativeQueue(
  repoRoot: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
  exists: (path: string) => boolean = existsSync,
  home: string = homedir(),
): KnativeQueue {
  const versions = parseEnvFile(readFileSync(join(repoRoot, VERSIONS_FILE), 'utf8'));
  const version = versions['KNATIVE_SERVING_VERSION'];
  if (version === undefined || version === '') {
    throw new Error(`${VERSIONS_FILE} pins no KNATIVE_SERVING_VERSION`);
  }
  const path = join(knativeBinDir(version, env, home), 'queue');
  if (!exists(path)) {
    throw new Error(
      `--compare knative: Knative's queue-proxy (knative.dev/serving ${version}) is not built at ${path}; ` +
        'run `npm run knative:build` first',
    );
  }
  return { version, path };
}

/** Whether a listener can take `port` on every interface now, as Go's `Listen("tcp", ":port")` does. */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, () => server.close(() => resolve(true)));
  });
}

/** The ports among `ports` that something holds. */
export async function portsInUse(ports: readonly number[]): Promise<number[]> {
  const free = await Promise.all(ports.map(portFree));
  return ports.filter((_, i) => !free[i]);
}

/**
 * Waits until every one of `ports` is free (a Knative queue-proxy stopped a moment ago may not have
 * let go yet), polling every 50 ms; throws naming the ports still held after `timeoutMs`.
 */
export async function waitForFreePorts(ports: readonly number[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const held = await portsInUse(ports);
    if (held.length === 0) return;
    if (Date.now() >= deadline) {
      throw new Error(
        `port ${held.join(', ')} ${held.length === 1 ? 'is' : 'are'} in use: Knative's queue-proxy binds ` +
          `${ports.join(' and ')} on every interface and cannot be told otherwise; free them and run again`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

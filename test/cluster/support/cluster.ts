/**
 * What the cluster tests share: the one-node cluster (packages/cluster) under the names the tests use,
 * and readers of its Pods, Deployments and logs.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll } from 'vitest';
import {
  KUBE_BIN,
  NODE,
  type OneNodeCluster,
  startOneNodeCluster,
  waitFor,
} from '../../../packages/cluster/src/index.js';
import { ROOT } from '../../support/processes.js';

/** A running cluster, as the tests name it. */
export type TestCluster = OneNodeCluster;
/** Starts the control plane and the node; resolves once the Node is Ready. */
export const startCluster = startOneNodeCluster;
export { NODE, waitFor };

/** The parts of a Pod the tests read. */
export interface ClusterPod {
  metadata: { name: string; uid: string; labels?: Record<string, string>; deletionTimestamp?: string };
  spec: {
    nodeName?: string;
    initContainers?: { name: string; image: string; restartPolicy?: string }[];
    containers: { name: string; image: string }[];
  };
  status: {
    phase?: string;
    podIP?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: {
      name: string;
      ready: boolean;
      restartCount: number;
      state: Record<string, { reason?: string }>;
    }[];
  };
}

/** Whether the Pod's Ready condition is True. */
export function isReady(pod: ClusterPod): boolean {
  return pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/** The Pods of `namespace` matching the label `selector`. */
export async function podsOf(
  cluster: TestCluster,
  namespace: string,
  selector: string,
): Promise<ClusterPod[]> {
  return (await cluster.getJson<{ items: ClusterPod[] }>(['pods', '-n', namespace, '-l', selector])).items;
}

/**
 * The log a container of a running Pod wrote so far (the node keeps it at
 * `pods/<namespace>_<name>_<uid>/logs/<container>.log`); '' while the node runs no such Pod or container.
 */
export function containerLog(
  cluster: TestCluster,
  namespace: string,
  pod: string,
  container: string,
): string {
  const dir = cluster.node.podDir(`${namespace}/${pod}`);
  if (!dir) return '';
  try {
    return readFileSync(join(dir, 'logs', `${container}.log`), 'utf8');
  } catch {
    return '';
  }
}

/**
 * `deploy/base` installed as deploy/README.md tells an operator (the injector's certificate made with
 * its own openssl block), with short autoscaling windows set as an operator would (`AUTOSCALER_<KEY>`),
 * so that revisions go back to zero in seconds; `autoscalerEnv` adds `KEY=value` settings.
 */
export async function installStandalone(
  cluster: TestCluster,
  autoscalerEnv: readonly string[] = [],
): Promise<void> {
  await cluster.kubectl(['apply', '-k', 'deploy/base']);
  await cluster.kubectl([
    'set',
    'env',
    '-n',
    'zerogate-system',
    'deployment/autoscaler',
    'AUTOSCALER_STABLE_WINDOW=6s',
    'AUTOSCALER_SCALE_TO_ZERO_GRACE_PERIOD=1s',
    ...autoscalerEnv,
  ]);
  await runDocumented(cluster, documentedOpensslBlock());
}

/**
 * A cluster with the standalone install for the file's tests: started before them (crashed Pods restarted
 * within 1–5 s) and stopped after. Returns the reader of the running cluster.
 */
export function useStandaloneCluster(): () => TestCluster {
  let cluster: TestCluster | undefined;
  beforeAll(async () => {
    cluster = await startCluster({ crashBackoff: { initialMs: 1000, maxMs: 5000 } });
    await installStandalone(cluster);
  }, 120_000);
  afterAll(async () => {
    await cluster?.stop();
  }, 60_000);
  return () => cluster!;
}

/** Whether each of the standalone install's components has Pods, all Ready, within `timeoutMs`. */
export async function componentsReady(
  cluster: TestCluster,
  timeoutMs = 90_000,
): Promise<Record<'activator' | 'autoscaler' | 'injector', boolean>> {
  const ready = async (name: string) =>
    waitFor(async () => {
      const pods = await podsOf(cluster, 'zerogate-system', `app.kubernetes.io/name=${name}`);
      return pods.length > 0 && pods.every(isReady);
    }, timeoutMs);
  const [activator, autoscaler, injector] = await Promise.all(
    ['activator', 'autoscaler', 'injector'].map(ready),
  );
  return { activator: activator!, autoscaler: autoscaler!, injector: injector! };
}

/** The replicas a Deployment asks for. */
export async function replicasOf(
  cluster: TestCluster,
  namespace: string,
  deployment: string,
): Promise<number | undefined> {
  return (await cluster.getJson<{ spec: { replicas?: number } }>(['deployment', deployment, '-n', namespace]))
    .spec.replicas;
}

/** The shell block deploy/README.md gives for making the injector's certificate with openssl. */
export function documentedOpensslBlock(): string {
  const readme = readFileSync(join(ROOT, 'deploy/README.md'), 'utf8');
  const after = readme.slice(readme.indexOf('**With openssl**'));
  const block = /```sh\n([\s\S]*?)```/.exec(after);
  if (!block) throw new Error('deploy/README.md has no openssl block after "With openssl"');
  return block[1]!;
}

/** Runs `script` with bash in a new folder, with the built kubectl first on PATH and the admin kubeconfig. */
export async function runDocumented(cluster: TestCluster, script: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'zerogate-doc-'));
  try {
    await promisify(execFile)('bash', ['-euo', 'pipefail', '-c', script], {
      cwd: dir,
      env: {
        ...process.env,
        ...cluster.env,
        PATH: `${KUBE_BIN}:${process.env['PATH']}`,
      },
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

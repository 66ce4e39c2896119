/**
 * A whole one-node cluster for a test file: the real control plane on 10.240.0.1 with Services in
 * 10.96.0.0/16, and the node agent running Pods in 10.244.0.0/24, all inside the network namespace
 * `npm run test:cluster` made. kubectl calls go through the project's built kubectl.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  ControlPlane,
  KNATIVE_BIN,
  KUBE_BIN,
  kubeBinary,
  NodeAgent,
  projectImages,
} from '../../../packages/cluster/src/index.js';
import { ROOT } from '../../support/processes.js';

/** The node's name. */
export const NODE = 'zerogate-node-1';

/** A running cluster. */
export interface TestCluster {
  readonly plane: ControlPlane;
  readonly node: NodeAgent;
  readonly dir: string;
  /**
   * What a kubectl of the tests needs: the admin kubeconfig, and a discovery cache of this cluster's own
   * (kubectl's default cache is keyed by the apiserver's address, which every test cluster shares).
   */
  readonly env: Readonly<Record<string, string>>;
  /**
   * Runs the built kubectl as cluster admin (or with `kubeconfig`); resolves with stdout, rejects with
   * stderr. Never synchronous: the node agent runs in this process and must go on while kubectl waits.
   */
  kubectl(args: readonly string[], options?: { input?: string; kubeconfig?: string }): Promise<string>;
  /** `kubectl get -o json` of one object or a list. */
  getJson<T = Record<string, unknown>>(args: readonly string[]): Promise<T>;
  stop(): Promise<void>;
}

/** Polls `check` every 200 ms (each poll may run kubectl) until it is true or `timeoutMs` passes. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Starts the control plane and the node; resolves once the Node is Ready. */
export async function startCluster(
  options: { crashBackoff?: { initialMs: number; maxMs: number } } = {},
): Promise<TestCluster> {
  if (process.env['ZEROGATE_NETNS'] !== '1') {
    throw new Error('the cluster tests run in a network namespace of their own: use `npm run test:cluster`');
  }
  const dir = mkdtempSync(join(tmpdir(), 'zerogate-cluster-'));
  const plane = await ControlPlane.start({ dir, address: '10.240.0.1', serviceCidr: '10.96.0.0/16' });
  const log = (message: string, fields?: Record<string, unknown>) =>
    process.env['ZEROGATE_NODE_LOG'] ? console.log(`node: ${message}`, fields ?? '') : undefined;
  const node = await NodeAgent.start({
    nodeName: NODE,
    kubelet: plane.client('kubelet', `system:node:${NODE}`, ['system:nodes']),
    proxy: plane.client('kube-proxy', 'system:kube-proxy'),
    images: projectImages(ROOT, process.execPath, KNATIVE_BIN),
    dir: join(dir, 'node'),
    apiserverService: { host: '10.96.0.1', port: 443 },
    ...(process.env['ZEROGATE_HOSTS_FILE'] ? { hostsFile: process.env['ZEROGATE_HOSTS_FILE'] } : {}),
    ...(options.crashBackoff ? { crashBackoff: options.crashBackoff } : {}),
    log,
  });
  const env = { KUBECONFIG: plane.adminKubeconfig, KUBECACHEDIR: join(dir, 'kube-cache') };
  const kubectl = (args: readonly string[], o: { input?: string; kubeconfig?: string } = {}) =>
    new Promise<string>((resolve, reject) => {
      const child = execFile(
        kubeBinary('kubectl'),
        args,
        {
          cwd: ROOT,
          encoding: 'utf8',
          env: { ...process.env, ...env, ...(o.kubeconfig ? { KUBECONFIG: o.kubeconfig } : {}) },
        },
        (err, stdout, stderr) =>
          err ? reject(new Error(`kubectl ${args.join(' ')}: ${stderr || err.message}`)) : resolve(stdout),
      );
      child.stdin?.end(o.input);
    });
  const cluster: TestCluster = {
    plane,
    node,
    dir,
    env,
    kubectl,
    getJson: async <T>(args: readonly string[]) =>
      JSON.parse(await kubectl(['get', ...args, '-o', 'json'])) as T,
    async stop() {
      await node.stop();
      await plane.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  const ready = await waitFor(async () => {
    const n = await cluster.getJson<{ status?: { conditions?: { type: string; status: string }[] } }>([
      'node',
      NODE,
    ]);
    return n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
  }, 30_000);
  if (!ready) throw new Error(`node ${NODE} did not turn Ready`);
  return cluster;
}

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

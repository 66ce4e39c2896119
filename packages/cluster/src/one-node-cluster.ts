/**
 * A whole one-node cluster on this machine: the real control plane on 10.240.0.1 with Services in
 * 10.96.0.0/16, and the node agent running Pods in 10.244.0.0/24, all inside the network namespace
 * `netns.sh` made (the cluster tests and the cluster benchmarks run in one). kubectl calls go through
 * the project's built kubectl.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep } from '@zerogate/core';
import { KNATIVE_BIN, kubeBinary } from './binaries.js';
import { ControlPlane } from './control-plane.js';
import { projectImages } from './node/image-table.js';
import { NodeAgent } from './node/node-agent.js';

/** The repository's root: kubectl runs there (manifest paths are relative to it), Pods mount it as /app. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** The node's name. */
export const NODE = 'zerogate-node-1';

/** A running cluster. */
export interface OneNodeCluster {
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
    await sleep(200);
  }
}

/** Starts the control plane and the node; resolves once the Node is Ready. */
export async function startOneNodeCluster(
  options: { crashBackoff?: { initialMs: number; maxMs: number } } = {},
): Promise<OneNodeCluster> {
  if (process.env['ZEROGATE_NETNS'] !== '1') {
    throw new Error(
      'a one-node cluster runs in a network namespace of its own: run it under packages/cluster/netns.sh',
    );
  }
  const dir = mkdtempSync(join(tmpdir(), 'zerogate-cluster-'));
  const plane = await ControlPlane.start({ dir, address: '10.240.0.1', serviceCidr: '10.96.0.0/16' });
  const log = (message: string, fields?: Record<string, unknown>) =>
    process.env['ZEROGATE_NODE_LOG'] ? console.log(`node: ${message}`, fields ?? '') : undefined;
  const node = await NodeAgent.start({
    nodeName: NODE,
    kubelet: plane.client('kubelet', `system:node:${NODE}`, ['system:nodes']),
    proxy: plane.client('kube-proxy', 'system:kube-proxy'),
    images: projectImages(REPO_ROOT, process.execPath, KNATIVE_BIN),
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
          cwd: REPO_ROOT,
          encoding: 'utf8',
          env: { ...process.env, ...env, ...(o.kubeconfig ? { KUBECONFIG: o.kubeconfig } : {}) },
        },
        (err, stdout, stderr) =>
          err ? reject(new Error(`kubectl ${args.join(' ')}: ${stderr || err.message}`)) : resolve(stdout),
      );
      child.stdin?.end(o.input);
    });
  const cluster: OneNodeCluster = {
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

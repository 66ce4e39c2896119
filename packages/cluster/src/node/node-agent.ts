/**
 * The node agent: a kubelet for a machine with no container runtime. It registers a Node (Ready, with
 * capacity), renews its Lease, runs the Pods the scheduler binds to it as processes (see
 * `pod-runtime.ts`) with the node's own credentials (so the Node authorizer and NodeRestriction apply),
 * and serves Services in place of kube-proxy (`service-proxy.ts`, on kube-proxy's credentials).
 */
import { mkdirSync } from 'node:fs';
import type { ApiClient } from '../api-client.js';
import type { ImageRow } from './image-table.js';
import { PodNetwork } from './pod-network.js';
import { PodRuntime } from './pod-runtime.js';
import type { KeyValues, Pod } from './pod-spec.js';
import { ServiceProxy } from './service-proxy.js';

/** How the agent runs. */
export interface NodeAgentOptions {
  readonly nodeName: string;
  /** Calls as `system:node:<nodeName>` (group `system:nodes`). */
  readonly kubelet: ApiClient;
  /** Calls as `system:kube-proxy`. */
  readonly proxy: ApiClient;
  readonly images: readonly ImageRow[];
  /** The agent's folder: Pod volumes and container logs. */
  readonly dir: string;
  /** The Pod range's first three octets (a /24), e.g. `10.244.0`. */
  readonly podPrefix?: string;
  readonly bridge?: string;
  /** The `kubernetes` Service's ClusterIP and port, for in-cluster clients. */
  readonly apiserverService: { readonly host: string; readonly port: number };
  readonly hostsFile?: string;
  readonly crashBackoff?: { initialMs: number; maxMs: number };
  readonly log?: (message: string, fields?: Record<string, unknown>) => void;
}

/** A running node. */
export class NodeAgent {
  private readonly pods = new Map<string, PodRuntime>();
  private readonly network: PodNetwork;
  private readonly services: ServiceProxy;
  private stopWatch: (() => void) | undefined;
  private leaseTimer: NodeJS.Timeout | undefined;
  private readonly log: (message: string, fields?: Record<string, unknown>) => void;

  private constructor(private readonly options: NodeAgentOptions) {
    this.log = options.log ?? (() => {});
    mkdirSync(options.dir, { recursive: true });
    this.network = new PodNetwork({
      bridge: options.bridge ?? 'zg0',
      prefix: options.podPrefix ?? '10.244.0',
    });
    this.services = new ServiceProxy({
      api: options.proxy,
      ...(options.hostsFile ? { hostsFile: options.hostsFile } : {}),
      log: this.log,
    });
  }

  /** Registers the Node and starts running its Pods. */
  static async start(options: NodeAgentOptions): Promise<NodeAgent> {
    const agent = new NodeAgent(options);
    await agent.register();
    agent.services.start();
    agent.stopWatch = options.kubelet.watch<Pod>(
      `/api/v1/pods?fieldSelector=${encodeURIComponent(`spec.nodeName=${options.nodeName}`)}`,
      (e) => agent.onPod(e.type, e.object),
      (err) => agent.log('pod watch failed; retrying', { err: err.message }),
    );
    return agent;
  }

  /** The node's address (its Pods' gateway). */
  get hostIp(): string {
    return this.network.gateway;
  }

  /** The folder of a running Pod (its volumes and `logs/<container>.log`), by `namespace/name`. */
  podDir(key: string): string | undefined {
    return this.pods.get(key)?.dir;
  }

  /** The process id of a running container (the root of its process tree), by Pod `namespace/name`. */
  containerPid(key: string, container: string): number | undefined {
    return this.pods.get(key)?.containerPid(container);
  }

  /** Stops every Pod's processes at once, the watches and the Lease; the Node object stays. */
  async stop(): Promise<void> {
    this.stopWatch?.();
    clearInterval(this.leaseTimer);
    await Promise.all([...this.pods.values()].map((p) => p.kill()));
    await this.services.close();
    this.network.close();
  }

  private onPod(type: string, pod: Pod): void {
    const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
    const known = this.pods.get(key);
    if (type === 'DELETED') {
      if (known) void known.kill().then(() => this.pods.delete(key));
      return;
    }
    if (known) {
      known.update(pod);
      return;
    }
    if (pod.metadata.deletionTimestamp) {
      void this.options.kubelet
        .call('DELETE', `/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}`, {
          gracePeriodSeconds: 0,
          preconditions: { uid: pod.metadata.uid },
        })
        .catch(() => {});
      return;
    }
    const runtime = new PodRuntime(pod, this.podHost());
    this.pods.set(key, runtime);
    void runtime.run();
  }

  private podHost() {
    const { kubelet } = this.options;
    const keyValues = async (path: string, base64: boolean): Promise<KeyValues | undefined> => {
      try {
        const o = await kubelet.call<{ data?: Record<string, string>; binaryData?: Record<string, string> }>(
          'GET',
          path,
        );
        const out = new Map<string, Buffer>();
        for (const [k, v] of Object.entries(o.data ?? {}))
          out.set(k, Buffer.from(v, base64 ? 'base64' : 'utf8'));
        for (const [k, v] of Object.entries(o.binaryData ?? {})) out.set(k, Buffer.from(v, 'base64'));
        return out;
      } catch (err) {
        if ((err as { status?: number }).status === 404) return undefined;
        throw err;
      }
    };
    return {
      images: this.options.images,
      dir: this.options.dir,
      hostIp: this.network.gateway,
      apiserverService: this.options.apiserverService,
      ...(this.options.crashBackoff ? { crashBackoff: this.options.crashBackoff } : {}),
      createSandbox: () => this.network.create(),
      removeSandbox: (s: Parameters<PodNetwork['remove']>[0]) => this.network.remove(s),
      configMap: (ns: string, name: string) =>
        keyValues(`/api/v1/namespaces/${ns}/configmaps/${name}`, false),
      secret: (ns: string, name: string) => keyValues(`/api/v1/namespaces/${ns}/secrets/${name}`, true),
      serviceAccountToken: async (pod: Pod, audience: string | undefined, expirationSeconds: number) => {
        const ns = pod.metadata.namespace;
        const sa = pod.spec.serviceAccountName ?? 'default';
        const review = await kubelet.call<{ status: { token: string } }>(
          'POST',
          `/api/v1/namespaces/${ns}/serviceaccounts/${sa}/token`,
          {
            apiVersion: 'authentication.k8s.io/v1',
            kind: 'TokenRequest',
            spec: {
              ...(audience ? { audiences: [audience] } : {}),
              expirationSeconds,
              boundObjectRef: {
                apiVersion: 'v1',
                kind: 'Pod',
                name: pod.metadata.name,
                uid: pod.metadata.uid,
              },
            },
          },
        );
        return review.status.token;
      },
      writeStatus: async (pod: Pod, status: Record<string, unknown>) => {
        await kubelet.patch(
          `/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}/status`,
          { status },
          'application/merge-patch+json',
        );
      },
      removePod: async (pod: Pod) => {
        const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
        await kubelet.call(
          'DELETE',
          `/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}`,
          {
            gracePeriodSeconds: 0,
            preconditions: { uid: pod.metadata.uid },
          },
        );
        this.pods.delete(key);
      },
      log: this.log,
    };
  }

  /** Creates the Node (or takes the existing one) with a Ready status, and keeps its Lease fresh. */
  private async register(): Promise<void> {
    const { kubelet, nodeName } = this.options;
    const node = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name: nodeName,
        labels: {
          'kubernetes.io/hostname': nodeName,
          'kubernetes.io/os': 'linux',
          'kubernetes.io/arch': 'amd64',
        },
      },
    };
    try {
      await kubelet.call('POST', '/api/v1/nodes', node);
    } catch (err) {
      if ((err as { status?: number }).status !== 409) throw err;
    }
    await this.writeNodeStatus();
    await this.renewLease();
    this.leaseTimer = setInterval(() => {
      void this.renewLease().catch((err: Error) => this.log('lease not renewed', { err: err.message }));
      void this.writeNodeStatus().catch((err: Error) =>
        this.log('node status not written', { err: err.message }),
      );
    }, 10_000);
  }

  private async writeNodeStatus(): Promise<void> {
    const now = new Date().toISOString();
    const capacity = { cpu: '2', memory: '24Gi', pods: '110', 'ephemeral-storage': '100Gi' };
    const condition = (type: string, status: string, reason: string) => ({
      type,
      status,
      reason,
      message: reason,
      lastHeartbeatTime: now,
      lastTransitionTime: now,
    });
    await this.options.kubelet.patch(
      `/api/v1/nodes/${this.options.nodeName}/status`,
      {
        status: {
          capacity,
          allocatable: capacity,
          addresses: [
            { type: 'InternalIP', address: this.network.gateway },
            { type: 'Hostname', address: this.options.nodeName },
          ],
          conditions: [
            condition('Ready', 'True', 'KubeletReady'),
            condition('MemoryPressure', 'False', 'KubeletHasSufficientMemory'),
            condition('DiskPressure', 'False', 'KubeletHasNoDiskPressure'),
            condition('PIDPressure', 'False', 'KubeletHasSufficientPID'),
          ],
          nodeInfo: {
            kubeletVersion: 'v1.34.4',
            kubeProxyVersion: 'v1.34.4',
            operatingSystem: 'linux',
            architecture: 'amd64',
            containerRuntimeVersion: 'zerogate-node-agent://0.1.0',
            kernelVersion: '',
            osImage: 'processes',
            machineID: '',
            systemUUID: '',
            bootID: '',
          },
        },
      },
      'application/merge-patch+json',
    );
  }

  private async renewLease(): Promise<void> {
    const { kubelet, nodeName } = this.options;
    const path = `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${nodeName}`;
    const renewTime = new Date().toISOString().replace('Z', '000Z');
    const lease = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: nodeName, namespace: 'kube-node-lease' },
      spec: { holderIdentity: nodeName, leaseDurationSeconds: 40, renewTime },
    };
    try {
      await kubelet.patch(path, { spec: lease.spec }, 'application/merge-patch+json');
    } catch (err) {
      if ((err as { status?: number }).status !== 404) throw err;
      await kubelet.call('POST', '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', lease);
    }
  }
}

/**
 * A stand-in for a Knative networking layer (net-kourier, net-istio, …) on the test cluster. It
 * reconciles Knative's Ingress objects (`networking.internal.knative.dev/v1alpha1`) as such a layer
 * does: it serves their rules itself — a request's Host picks a rule, a weighted choice picks one of the
 * rule's splits, the split's headers are added (`Knative-Serving-Revision`, …) and the request goes to
 * that revision's Service — and it marks each Ingress Ready with its own Service as the load balancer.
 * Not done: TLS, path matching beyond the first path, header-based routing, retries, timeouts.
 */
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import { sendError, zerogateErrorHeaders } from '@zerogate/core';
import type { ApiClient, KubeObject } from './api-client.js';
import { addLoopbackAddress } from './control-plane.js';

interface Split {
  serviceName: string;
  serviceNamespace: string;
  servicePort: number | string;
  percent?: number;
  appendHeaders?: Record<string, string>;
}

interface KnativeIngress extends KubeObject {
  spec: {
    rules?: {
      hosts: string[];
      http?: { paths?: { splits: Split[]; appendHeaders?: Record<string, string> }[] };
    }[];
  };
}

/** Where the stand-in listens and what it calls itself. */
export interface IngressStandInOptions {
  /** Cluster-admin calls (it writes Ingress status and its own Service). */
  readonly api: ApiClient;
  /** An address of the tests' network namespace for it to serve on (port 80). */
  readonly address: string;
  readonly namespace?: string;
  readonly serviceName?: string;
  readonly clusterDomain?: string;
}

/** A running stand-in. */
export class KnativeIngressStandIn {
  private readonly routes = new Map<string, { splits: Split[]; headers: Record<string, string> }>();
  private stopWatch: (() => void) | undefined;

  private constructor(
    private readonly options: Required<IngressStandInOptions>,
    private readonly server: Server,
  ) {}

  /** Starts serving, publishes its Service, and reconciles every Ingress. */
  static async start(options: IngressStandInOptions): Promise<KnativeIngressStandIn> {
    const o: Required<IngressStandInOptions> = {
      namespace: 'knative-serving',
      serviceName: 'zerogate-ingress',
      clusterDomain: 'cluster.local',
      ...options,
    };
    addLoopbackAddress(o.address);
    const server = createServer();
    const standIn = new KnativeIngressStandIn(o, server);
    server.on('request', (req, res) => standIn.route(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(80, o.address, resolve);
    });
    await standIn.publish();
    standIn.stopWatch = o.api.watch<KnativeIngress>(
      '/apis/networking.internal.knative.dev/v1alpha1/ingresses',
      (e) => {
        if (e.type === 'DELETED') standIn.forget(e.object);
        else void standIn.reconcile(e.object);
      },
    );
    return standIn;
  }

  /** The load balancer name Ingresses are given. */
  get domainInternal(): string {
    return `${this.options.serviceName}.${this.options.namespace}.svc.${this.options.clusterDomain}`;
  }

  /** Stops serving and watching. */
  async stop(): Promise<void> {
    this.stopWatch?.();
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }

  /** Its Service and EndpointSlice, so that Routes' placeholder Services resolve to it. */
  private async publish(): Promise<void> {
    const { api, namespace, serviceName, address } = this.options;
    await api.call('POST', `/api/v1/namespaces/${namespace}/services`, {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: serviceName, namespace },
      spec: { ports: [{ name: 'http', port: 80, targetPort: 80 }] },
    });
    await api.call('POST', `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices`, {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        name: `${serviceName}-1`,
        namespace,
        labels: { 'kubernetes.io/service-name': serviceName },
      },
      addressType: 'IPv4',
      endpoints: [{ addresses: [address], conditions: { ready: true } }],
      ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
    });
  }

  private async reconcile(ingress: KnativeIngress): Promise<void> {
    this.forget(ingress);
    for (const rule of ingress.spec.rules ?? []) {
      const path = rule.http?.paths?.[0];
      if (!path) continue;
      for (const host of rule.hosts) {
        this.routes.set(host.toLowerCase(), { splits: path.splits, headers: path.appendHeaders ?? {} });
      }
    }
    const { namespace, name } = ingress.metadata;
    const condition = (type: string) => ({
      type,
      status: 'True',
      lastTransitionTime: new Date().toISOString(),
    });
    const balancer = { ingress: [{ domainInternal: this.domainInternal }] };
    await this.options.api
      .patch(
        `/apis/networking.internal.knative.dev/v1alpha1/namespaces/${namespace}/ingresses/${name}/status`,
        {
          status: {
            observedGeneration: ingress.metadata['generation'],
            conditions: [condition('LoadBalancerReady'), condition('NetworkConfigured'), condition('Ready')],
            publicLoadBalancer: balancer,
            privateLoadBalancer: balancer,
          },
        },
        'application/merge-patch+json',
      )
      .catch(() => {
        // A newer version follows; its event reconciles again.
      });
  }

  private forget(ingress: KnativeIngress): void {
    for (const rule of ingress.spec.rules ?? [])
      for (const host of rule.hosts) this.routes.delete(host.toLowerCase());
  }

  private route(req: IncomingMessage, res: ServerResponse): void {
    const host = (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
    const route = this.routes.get(host);
    const split = route && pick(route.splits);
    if (!route || !split) {
      sendError(res, 'NO_ROUTE', undefined, JSON.stringify(req.headers.host ?? ''));
      return;
    }
    const target = `${split.serviceName}.${split.serviceNamespace}.svc.${this.options.clusterDomain}`;
    const headers = { ...req.headers, ...route.headers, ...(split.appendHeaders ?? {}) };
    const upstream = request(
      { host: target, port: Number(split.servicePort) || 80, method: req.method, path: req.url, headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent)
        sendError(res, 'UPSTREAM_FAILED', zerogateErrorHeaders('ingress', 'UPSTREAM_FAILED'));
      else res.end();
    });
    req.pipe(upstream);
  }
}

/** One split, chosen with the weights of their percentages. */
function pick(splits: readonly Split[]): Split | undefined {
  const total = splits.reduce((n, s) => n + (s.percent ?? 100), 0);
  let roll = Math.random() * total;
  for (const split of splits) {
    roll -= split.percent ?? 100;
    if (roll < 0) return split;
  }
  return splits.at(-1);
}

/**
 * Services on this node, in place of kube-proxy and cluster DNS: each ClusterIP gets an address on the
 * node's loopback device and a userspace TCP forwarder per port to a ready endpoint of the Service's
 * EndpointSlices (round robin), and every Service's names (`<name>.<ns>.svc.cluster.local`,
 * `<name>.<ns>.svc`, `<name>.<ns>`) go into a hosts file; an ExternalName naming another Service resolves to
 * that Service's ClusterIP. Not done: UDP, NodePorts, session affinity, other ExternalNames, headless Services' per-Pod names, and a Pod's short names (`<name>`).
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { ApiClient, KubeObject } from '../api-client.js';

interface ServicePort {
  name?: string;
  port: number;
  protocol?: string;
}

interface Service extends KubeObject {
  spec: { type?: string; clusterIP?: string; externalName?: string; ports?: ServicePort[] };
}

interface EndpointSlice extends KubeObject {
  endpoints?: { addresses: string[]; conditions?: { ready?: boolean } }[];
  ports?: { name?: string; port?: number }[];
}

/** Where the forwarders bind and the names go. */
export interface ServiceProxyOptions {
  readonly api: ApiClient;
  /** The hosts file to keep (a bind mount over /etc/hosts in the tests' mount namespace), if any. */
  readonly hostsFile?: string;
  readonly clusterDomain?: string;
  readonly log: (message: string, fields?: Record<string, unknown>) => void;
}

/** The node's Service routing. */
export class ServiceProxy {
  private readonly services = new Map<string, Service>();
  private readonly slices = new Map<string, EndpointSlice>();
  private readonly listeners = new Map<string, Server>();
  private readonly addresses = new Set<string>();
  private readonly turns = new Map<string, number>();
  private readonly sockets = new Set<Socket>();
  private readonly stops: (() => void)[] = [];

  constructor(private readonly options: ServiceProxyOptions) {}

  /** Starts watching Services and EndpointSlices. */
  start(): void {
    const onError = (err: Error) =>
      this.options.log('service proxy watch failed; retrying', { err: err.message });
    this.stops.push(
      this.options.api.watch<Service>(
        '/api/v1/services',
        (e) => {
          const key = keyOf(e.object);
          if (e.type === 'DELETED') this.services.delete(key);
          else this.services.set(key, e.object);
          this.sync();
        },
        onError,
      ),
      this.options.api.watch<EndpointSlice>(
        '/apis/discovery.k8s.io/v1/endpointslices',
        (e) => {
          const key = keyOf(e.object);
          if (e.type === 'DELETED') this.slices.delete(key);
          else this.slices.set(key, e.object);
        },
        onError,
      ),
    );
  }

  /** Stops watching and forwarding. */
  async close(): Promise<void> {
    for (const stop of this.stops) stop();
    for (const s of this.sockets) s.destroy();
    await Promise.all([...this.listeners.values()].map((l) => new Promise((r) => l.close(r))));
    this.listeners.clear();
  }

  /** Opens a forwarder for every Service port, closes those of Services gone, rewrites the hosts file. */
  private sync(): void {
    const wanted = new Map<string, { service: Service; port: ServicePort }>();
    for (const service of this.services.values()) {
      const ip = service.spec.clusterIP;
      if (!ip || ip === 'None') continue;
      for (const port of service.spec.ports ?? []) {
        if ((port.protocol ?? 'TCP') === 'TCP') wanted.set(`${ip}:${port.port}`, { service, port });
      }
    }
    for (const [key, listener] of this.listeners) {
      if (!wanted.has(key)) {
        listener.close();
        this.listeners.delete(key);
      }
    }
    for (const [key, { service, port }] of wanted) {
      if (this.listeners.has(key)) continue;
      const ip = service.spec.clusterIP!;
      this.ensureAddress(ip);
      const server = createServer((socket) => this.forward(socket, keyOf(service), port));
      server.on('error', (err) =>
        this.options.log('service port not served', { service: key, err: err.message }),
      );
      server.listen(port.port, ip);
      this.listeners.set(key, server);
    }
    this.writeHosts();
  }

  private forward(client: Socket, serviceKey: string, port: ServicePort): void {
    const target = this.pick(serviceKey, port.name ?? '');
    if (!target) {
      client.destroy();
      return;
    }
    const upstream = connect(target.port, target.address);
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  }

  /** A ready endpoint of the Service for the port named `portName`, taken in turn. */
  private pick(serviceKey: string, portName: string): { address: string; port: number } | undefined {
    const [namespace, name] = serviceKey.split('/');
    const targets: { address: string; port: number }[] = [];
    for (const slice of this.slices.values()) {
      if (slice.metadata.namespace !== namespace) continue;
      if (slice.metadata.labels?.['kubernetes.io/service-name'] !== name) continue;
      const port = slice.ports?.find((p) => (p.name ?? '') === portName)?.port;
      if (port === undefined) continue;
      for (const endpoint of slice.endpoints ?? []) {
        if (endpoint.conditions?.ready === false) continue;
        for (const address of endpoint.addresses) targets.push({ address, port });
      }
    }
    if (targets.length === 0) return undefined;
    const turn = this.turns.get(serviceKey) ?? 0;
    this.turns.set(serviceKey, turn + 1);
    return targets[turn % targets.length];
  }

  private ensureAddress(ip: string): void {
    if (this.addresses.has(ip)) return;
    try {
      execFileSync('ip', ['addr', 'add', `${ip}/32`, 'dev', 'lo'], { stdio: 'pipe' });
    } catch {
      // Already there.
    }
    this.addresses.add(ip);
  }

  private writeHosts(): void {
    if (!this.options.hostsFile) return;
    const domain = this.options.clusterDomain ?? 'cluster.local';
    const lines = ['127.0.0.1 localhost', '::1 localhost'];
    const byName = new Map<string, string>();
    for (const service of this.services.values()) {
      const ip = service.spec.clusterIP;
      if (ip && ip !== 'None')
        byName.set(`${service.metadata.name}.${service.metadata.namespace}.svc.${domain}`, ip);
    }
    for (const service of this.services.values()) {
      // An ExternalName naming another Service of the cluster resolves to that one's ClusterIP, as a CNAME would.
      const ip =
        service.spec.type === 'ExternalName'
          ? byName.get(service.spec.externalName ?? '')
          : service.spec.clusterIP;
      if (!ip || ip === 'None') continue;
      const { name, namespace } = service.metadata;
      lines.push(`${ip} ${name}.${namespace}.svc.${domain} ${name}.${namespace}.svc ${name}.${namespace}`);
    }
    // Written in place: the file is bind-mounted, and a rename would leave the mount on the old file.
    writeFileSync(this.options.hostsFile, `${lines.join('\n')}\n`);
  }
}

function keyOf(o: KubeObject): string {
  return `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}

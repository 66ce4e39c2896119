/**
 * A real Kubernetes control plane on one loopback address: etcd, kube-apiserver (RBAC and Node
 * authorization, admission webhooks on), kube-controller-manager and kube-scheduler, as processes of
 * the binaries `build.sh` built. Certificates, the service-account key and kubeconfigs are made at start
 * in the state folder; every component binds the one address, so control planes on different addresses
 * never clash on ports.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { sleep } from '@zerogate/core';
import { ApiClient, identityFromFiles } from './api-client.js';
import { kubeBinary } from './binaries.js';
import { Daemon, stopPid } from './daemon.js';
import { writeKubeconfig } from './kubeconfig.js';
import { Pki } from './pki.js';

/** Where and how to run. */
export interface ControlPlaneOptions {
  /** The state folder: certificates, etcd's data, kubeconfigs, logs, the PID file. */
  readonly dir: string;
  /** The loopback address every component binds (default 127.42.0.1). */
  readonly address?: string;
  /** The Service ClusterIP range (default 127.96.0.0/16: loopback, so a node agent can serve it). */
  readonly serviceCidr?: string;
  /** How long the apiserver may take to answer `/readyz` (default 60 s). */
  readonly readyTimeoutMs?: number;
}

/** Ports of the components, on the control plane's address. */
export const PORTS = {
  etcdClient: 2379,
  etcdPeer: 2380,
  apiserver: 6443,
  controllerManager: 10257,
  scheduler: 10259,
};

/** The PID file's content: what `cluster:down` stops. */
export interface PidFile {
  readonly pids: Record<string, number>;
}

/** A running control plane. */
export class ControlPlane {
  /** The apiserver's URL. */
  readonly url: string;
  /** A kubeconfig with cluster-admin rights (system:masters). */
  readonly adminKubeconfig: string;
  /** Milliseconds from the first process start to the apiserver's `/readyz` answering 200. */
  readyAfterMs = 0;
  private readonly daemons = new Map<string, Daemon>();
  private readonly pki: Pki;
  private readonly admin: ApiClient;
  private readonly logs: string;

  private constructor(private readonly options: Required<ControlPlaneOptions>) {
    const { dir, address } = options;
    for (const sub of ['pki', 'logs', 'kubeconfig']) mkdirSync(join(dir, sub), { recursive: true });
    this.logs = join(dir, 'logs');
    this.url = `https://${address}:${PORTS.apiserver}`;
    this.pki = new Pki(join(dir, 'pki'));
    const admin = this.pki.client('admin', { user: 'zerogate-admin', groups: ['system:masters'] });
    this.adminKubeconfig = this.certificateKubeconfig('admin', admin);
    this.admin = new ApiClient(
      identityFromFiles(this.url, { ca: this.pki.ca.cert, cert: admin.cert, key: admin.key }),
    );
  }

  /** Starts etcd, the apiserver, the controller manager and the scheduler; resolves once all are healthy. */
  static async start(options: ControlPlaneOptions): Promise<ControlPlane> {
    const plane = new ControlPlane({
      address: '127.42.0.1',
      serviceCidr: '127.96.0.0/16',
      readyTimeoutMs: 60_000,
      ...options,
    });
    try {
      if (!plane.options.address.startsWith('127.')) addLoopbackAddress(plane.options.address);
      const started = Date.now();
      plane.startEtcd();
      plane.startApiserver();
      await plane.waitHealthy('apiserver', PORTS.apiserver, '/readyz');
      plane.readyAfterMs = Date.now() - started;
      plane.startControllerManager();
      plane.startScheduler();
      await Promise.all([
        plane.waitHealthy('controller-manager', PORTS.controllerManager, '/healthz'),
        plane.waitHealthy('scheduler', PORTS.scheduler, '/healthz'),
      ]);
      return plane;
    } catch (err) {
      await plane.stop();
      throw err;
    }
  }

  /** The CA certificate file clients trust. */
  get caFile(): string {
    return this.pki.ca.cert;
  }

  /** The PIDs of the running components. */
  pids(): Record<string, number> {
    return Object.fromEntries([...this.daemons].map(([name, d]) => [name, d.pid]));
  }

  /** Writes the PID file `cluster:down` reads. */
  writePidFile(): string {
    const path = join(this.options.dir, 'pids.json');
    writeFileSync(path, `${JSON.stringify({ pids: this.pids() } satisfies PidFile)}\n`);
    return path;
  }

  /** A kubeconfig authenticating with a new client certificate for `user` in `groups`. */
  userKubeconfig(name: string, user: string, groups: readonly string[] = []): string {
    return this.certificateKubeconfig(name, this.pki.client(name, { user, groups }));
  }

  /**
   * A kubeconfig authenticating as the ServiceAccount `namespace/name` with a token the apiserver issues
   * (TokenRequest), exactly what a Pod of that ServiceAccount would present.
   */
  async serviceAccountKubeconfig(
    namespace: string,
    name: string,
    expirationSeconds = 86_400,
  ): Promise<string> {
    const review = (await this.adminRequest(
      'POST',
      `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`,
      { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds } },
    )) as { status: { token: string } };
    const path = join(this.options.dir, 'kubeconfig', `sa-${namespace}-${name}.json`);
    return writeKubeconfig(path, this.url, this.caFile, { token: review.status.token });
  }

  /** One apiserver call as cluster admin; resolves with the parsed JSON, rejects on a non-2xx status. */
  adminRequest(method: string, path: string, body?: unknown): Promise<unknown> {
    return this.admin.call(method, path, body);
  }

  /** An API client authenticating with a new client certificate for `user` in `groups`. */
  client(name: string, user: string, groups: readonly string[] = []): ApiClient {
    const pair = this.pki.client(name, { user, groups });
    return new ApiClient(
      identityFromFiles(this.url, { ca: this.pki.ca.cert, cert: pair.cert, key: pair.key }),
    );
  }

  /** Stops the apiserver and starts it again on the same storage; resolves once it is ready. */
  async restartApiserver(): Promise<void> {
    await this.daemons.get('kube-apiserver')?.stop();
    this.startApiserver();
    await this.waitHealthy('apiserver', PORTS.apiserver, '/readyz');
  }

  /** Stops every component (scheduler and controller manager first, etcd last). */
  async stop(): Promise<void> {
    for (const name of ['kube-scheduler', 'kube-controller-manager', 'kube-apiserver', 'etcd']) {
      await this.daemons.get(name)?.stop();
    }
    this.admin.close();
  }

  private startEtcd(): void {
    const { address, dir } = this.options;
    const client = `http://${address}:${PORTS.etcdClient}`;
    const peer = `http://${address}:${PORTS.etcdPeer}`;
    this.run('etcd', kubeBinary('etcd'), [
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=${client}`,
      `--advertise-client-urls=${client}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=default=${peer}`,
      // A test cluster's data need not survive a power cut; fsync costs seconds on a busy disk.
      '--unsafe-no-fsync',
      '--log-level=warn',
    ]);
  }

  private startApiserver(): void {
    const { address, serviceCidr } = this.options;
    const serviceIp = firstAddress(serviceCidr);
    const serving = this.pki.server(
      'apiserver',
      [address, serviceIp],
      [
        'localhost',
        'kubernetes',
        'kubernetes.default',
        'kubernetes.default.svc',
        'kubernetes.default.svc.cluster.local',
      ],
    );
    this.run('kube-apiserver', kubeBinary('kube-apiserver'), [
      `--etcd-servers=http://${address}:${PORTS.etcdClient}`,
      `--bind-address=${address}`,
      `--advertise-address=${address}`,
      `--secure-port=${PORTS.apiserver}`,
      `--tls-cert-file=${serving.cert}`,
      `--tls-private-key-file=${serving.key}`,
      `--client-ca-file=${this.pki.ca.cert}`,
      `--service-account-key-file=${this.pki.serviceAccountPub}`,
      `--service-account-signing-key-file=${this.pki.serviceAccountKey}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-cluster-ip-range=${serviceCidr}`,
      '--authorization-mode=Node,RBAC',
      '--enable-admission-plugins=NodeRestriction',
      '--allow-privileged=true',
      '--profiling=false',
    ]);
  }

  private startControllerManager(): void {
    const { address } = this.options;
    const kubeconfig = this.userKubeconfig('controller-manager', 'system:kube-controller-manager');
    this.run('kube-controller-manager', kubeBinary('kube-controller-manager'), [
      `--kubeconfig=${kubeconfig}`,
      `--authentication-kubeconfig=${kubeconfig}`,
      `--authorization-kubeconfig=${kubeconfig}`,
      `--bind-address=${address}`,
      `--secure-port=${PORTS.controllerManager}`,
      `--service-account-private-key-file=${this.pki.serviceAccountKey}`,
      `--root-ca-file=${this.pki.ca.cert}`,
      `--cluster-signing-cert-file=${this.pki.ca.cert}`,
      `--cluster-signing-key-file=${this.pki.ca.key}`,
      '--use-service-account-credentials=true',
      '--leader-elect=false',
      '--profiling=false',
    ]);
  }

  private startScheduler(): void {
    const { address } = this.options;
    const kubeconfig = this.userKubeconfig('scheduler', 'system:kube-scheduler');
    this.run('kube-scheduler', kubeBinary('kube-scheduler'), [
      `--kubeconfig=${kubeconfig}`,
      `--authentication-kubeconfig=${kubeconfig}`,
      `--authorization-kubeconfig=${kubeconfig}`,
      `--bind-address=${address}`,
      `--secure-port=${PORTS.scheduler}`,
      '--leader-elect=false',
      '--profiling=false',
    ]);
  }

  private certificateKubeconfig(name: string, pair: { cert: string; key: string }): string {
    const path = join(this.options.dir, 'kubeconfig', `${name}.json`);
    return writeKubeconfig(path, this.url, this.pki.ca.cert, {
      clientCertificate: pair.cert,
      clientKey: pair.key,
    });
  }

  private run(name: string, program: string, args: readonly string[]): void {
    this.daemons.set(name, new Daemon(name, [program, ...args], join(this.logs, `${name}.log`)));
  }

  /** Polls `https://address:port/path` (as admin) until it answers 200. */
  private async waitHealthy(what: string, port: number, path: string): Promise<void> {
    const deadline = Date.now() + this.options.readyTimeoutMs;
    const daemon = [...this.daemons.values()].at(-1);
    for (;;) {
      if (await this.answers200(port, path)) return;
      for (const d of this.daemons.values()) {
        if (!d.running) throw new Error(`${d.name} exited while starting; see ${d.logFile}`);
      }
      if (Date.now() > deadline) {
        throw new Error(
          `${what} not healthy within ${this.options.readyTimeoutMs} ms; see ${daemon?.logFile}`,
        );
      }
      await sleep(100);
    }
  }

  private answers200(port: number, path: string): Promise<boolean> {
    return new Promise((resolve) => {
      const req = request(
        { host: this.options.address, port, path, rejectUnauthorized: false, timeout: 2000 },
        (res) => {
          res.resume();
          resolve(res.statusCode === 200);
        },
      );
      req.on('error', () => resolve(false));
      req.on('timeout', () => req.destroy());
      req.end();
    });
  }
}

/** Stops the components a PID file lists (what `cluster:down` does). */
export async function stopFromPidFile(path: string): Promise<string[]> {
  const { pids } = JSON.parse(readFileSync(path, 'utf8')) as PidFile;
  const order = ['kube-scheduler', 'kube-controller-manager', 'kube-apiserver', 'etcd'];
  const names = Object.keys(pids).sort((a, b) => order.indexOf(a) - order.indexOf(b));
  for (const name of names) await stopPid(pids[name]!, 5000);
  return names;
}

/** Puts `address` on the loopback device (inside the tests' own network namespace), if it is not there. */
export function addLoopbackAddress(address: string): void {
  try {
    execFileSync('ip', ['addr', 'add', `${address}/32`, 'dev', 'lo'], { stdio: 'pipe' });
  } catch {
    // Already there.
  }
}

/** The first host address of an IPv4 CIDR (the `kubernetes` Service's ClusterIP). */
export function firstAddress(cidr: string): string {
  const [base] = cidr.split('/');
  const octets = base!.split('.').map(Number);
  octets[3] = (octets[3] ?? 0) + 1;
  return octets.join('.');
}

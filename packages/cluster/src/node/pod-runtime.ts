/**
 * One Pod bound to this node, run as the kubelet runs it: a sandbox (network namespace, address), its
 * volumes, init containers in order (native sidecars — `restartPolicy: Always` — started and kept, the
 * others run to completion), then the app containers; status written back on every change; on deletion,
 * preStop hooks, SIGTERM, SIGKILL at the end of the grace period, sidecars last, then the Pod removed.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { sleep } from '@zerogate/core';
import { containerEnv, expand } from './container-env.js';
import { ContainerProcess, type Mount } from './container-process.js';
import { containerArgv, type ImageRow, lookupImage } from './image-table.js';
import { PodContainer } from './pod-container.js';
import type { Sandbox } from './pod-network.js';
import type { Container, KeyValues, LifecycleHandler, Pod } from './pod-spec.js';
import { materializeVolumes } from './pod-volumes.js';
import { httpGet } from './probe.js';

/** What a Pod needs from its node. */
export interface PodHost {
  readonly images: readonly ImageRow[];
  /** The node's folder for Pod files (volumes, logs). */
  readonly dir: string;
  readonly hostIp: string;
  readonly apiserverService: { readonly host: string; readonly port: number };
  readonly crashBackoff?: { initialMs: number; maxMs: number };
  createSandbox(): Promise<Sandbox>;
  removeSandbox(sandbox: Sandbox): Promise<void>;
  configMap(namespace: string, name: string): Promise<KeyValues | undefined>;
  secret(namespace: string, name: string): Promise<KeyValues | undefined>;
  serviceAccountToken(pod: Pod, audience: string | undefined, expirationSeconds: number): Promise<string>;
  writeStatus(pod: Pod, status: Record<string, unknown>): Promise<void>;
  /** Removes the Pod object once everything of it has stopped (the kubelet's delete with grace 0). */
  removePod(pod: Pod): Promise<void>;
  log(message: string, fields?: Record<string, unknown>): void;
}

type Kind = 'init' | 'sidecar' | 'app';

/** A Pod the node runs. */
export class PodRuntime {
  private pod: Pod;
  private sandbox: Sandbox | undefined;
  private readonly containers = new Map<string, { kind: Kind; container: PodContainer }>();
  private initialized = false;
  private terminating: Promise<void> | undefined;
  private readonly transitions = new Map<string, { status: string; at: string }>();
  private statusQueued = false;
  private statusChain: Promise<void> = Promise.resolve();
  private readonly podDir: string;
  /** Why the containers wait before they exist (volumes not ready yet, …). */
  private waitingReason: { reason: string; message?: string } = { reason: 'ContainerCreating' };
  private cache = {
    configMaps: new Map<string, KeyValues | undefined>(),
    secrets: new Map<string, KeyValues | undefined>(),
  };

  constructor(
    pod: Pod,
    private readonly host: PodHost,
  ) {
    this.pod = pod;
    this.podDir = join(
      host.dir,
      'pods',
      `${pod.metadata.namespace}_${pod.metadata.name}_${pod.metadata.uid}`,
    );
    mkdirSync(join(this.podDir, 'logs'), { recursive: true });
  }

  /** The process id of a running container of this Pod, by name. */
  containerPid(name: string): number | undefined {
    return this.containers.get(name)?.container.pid;
  }

  /** The Pod's folder: its volumes and its containers' logs (`logs/<container>.log`). */
  get dir(): string {
    return this.podDir;
  }

  /** Takes a newer version of the Pod; a deletion starts the termination. */
  update(pod: Pod): void {
    this.pod = pod;
    if (pod.metadata.deletionTimestamp) void this.terminate();
  }

  /** Runs the Pod until it is deleted. */
  async run(): Promise<void> {
    try {
      this.sandbox = await this.sandboxUntilMade();
      if (!this.sandbox) return;
      this.publish();
      const volumes = await this.volumesUntilReady();
      if (!volumes || this.terminating) return;
      const specs = this.pod.spec;
      for (const spec of specs.initContainers ?? []) {
        if (this.terminating) return;
        const kind: Kind = spec.restartPolicy === 'Always' ? 'sidecar' : 'init';
        const container = this.add(spec, kind, volumes);
        container.start();
        if (kind === 'sidecar') await container.whenStarted();
        else if ((await container.whenFinished()).code !== 0) return;
      }
      if (this.terminating) return;
      this.initialized = true;
      for (const spec of specs.containers) this.add(spec, 'app', volumes).start();
      this.publish();
    } catch (err) {
      this.host.log('pod failed to start', { pod: this.key, err: (err as Error).message });
    }
  }

  /** Terminates the Pod: preStop hooks, SIGTERM, SIGKILL at the end of the grace period, sidecars last. */
  terminate(): Promise<void> {
    this.terminating ??= (async () => {
      const graceSeconds =
        this.pod.metadata['deletionGracePeriodSeconds'] ?? this.pod.spec.terminationGracePeriodSeconds ?? 30;
      const deadline = Date.now() + Number(graceSeconds) * 1000;
      const remaining = () => Math.max(0, deadline - Date.now());
      const of = (kind: Kind) =>
        [...this.containers.values()].filter((c) => c.kind === kind).map((c) => c.container);
      await Promise.all(of('app').map((c) => this.stopContainer(c, remaining)));
      await Promise.all(of('init').map((c) => c.stop(0)));
      // Sidecars stop last, in reverse order, each with at least 2 s (the kubelet's minimum).
      for (const c of of('sidecar').reverse()) await this.stopContainer(c, () => Math.max(2000, remaining()));
      this.publish();
      await this.statusChain;
      if (this.sandbox) await this.host.removeSandbox(this.sandbox);
      await this.host
        .removePod(this.pod)
        .catch((err: Error) =>
          this.host.log('could not remove the Pod', { pod: this.key, err: err.message }),
        );
    })();
    return this.terminating;
  }

  /** Stops everything at once (the node agent shutting down); the Pod object stays. */
  async kill(): Promise<void> {
    this.terminating ??= Promise.resolve();
    await Promise.all([...this.containers.values()].map(({ container }) => container.stop(0)));
    if (this.sandbox) await this.host.removeSandbox(this.sandbox);
  }

  private get key(): string {
    return `${this.pod.metadata.namespace}/${this.pod.metadata.name}`;
  }

  private async stopContainer(container: PodContainer, remaining: () => number): Promise<void> {
    const spec = this.specOf(container.name);
    const preStop = spec?.lifecycle?.preStop;
    if (preStop && container.running) {
      await withTimeout(this.runHandler(preStop, spec!), remaining()).catch((err: Error) =>
        this.host.log('preStop hook failed', { pod: this.key, container: container.name, err: err.message }),
      );
    }
    await container.stop(remaining());
  }

  private runHandler(handler: LifecycleHandler, spec: Container): Promise<unknown> {
    if (handler.httpGet) return httpGet(handler.httpGet, spec, this.sandbox!.ip, 3_600_000);
    if (handler.sleep) return sleep(handler.sleep!.seconds * 1000);
    if (handler.exec) return this.execIn(spec, handler.exec.command, 3_600_000);
    return Promise.resolve();
  }

  private specOf(name: string): Container | undefined {
    return [...(this.pod.spec.initContainers ?? []), ...this.pod.spec.containers].find(
      (c) => c.name === name,
    );
  }

  private add(spec: Container, kind: Kind, volumes: ReadonlyMap<string, string>): PodContainer {
    const restartPolicy = this.pod.spec.restartPolicy ?? 'Always';
    const container = new PodContainer({
      spec,
      podIp: this.sandbox!.ip,
      process: () => this.processSpec(spec, volumes),
      exec: (command, timeoutMs) => this.execIn(spec, command, timeoutMs),
      restartAfter: (code) =>
        kind === 'sidecar' ||
        (restartPolicy === 'Always' && kind === 'app') ||
        (restartPolicy !== 'Never' && code !== 0),
      ...(this.host.crashBackoff ? { backoff: this.host.crashBackoff } : {}),
      changed: () => this.publish(),
    });
    this.containers.set(spec.name, { kind, container });
    return container;
  }

  /** The process of a container: image configuration, environment, command and mounts. */
  private processSpec(spec: Container, volumes: ReadonlyMap<string, string>) {
    const image = lookupImage(this.host.images, spec.image);
    const ns = this.pod.metadata.namespace ?? 'default';
    const env = containerEnv(this.pod, spec, {
      podIp: this.sandbox!.ip,
      hostIp: this.host.hostIp,
      configMap: (name) => this.cache.configMaps.get(`${ns}/${name}`),
      secret: (name) => this.cache.secrets.get(`${ns}/${name}`),
      apiserverService: this.host.apiserverService,
      imageEnv: image.env,
    });
    const mounts: Mount[] = [...image.mounts];
    for (const m of spec.volumeMounts ?? []) {
      const source = volumes.get(m.name);
      if (!source)
        throw new Error(`container ${spec.name} mounts volume ${m.name}, which the Pod does not have`);
      mounts.push({
        source: m.subPath ? join(source, m.subPath) : source,
        target: m.mountPath,
        readOnly: m.readOnly ?? false,
      });
    }
    mounts.sort((a, b) => a.target.split('/').length - b.target.split('/').length);
    return {
      argv: containerArgv(image, spec.command, spec.args).map((a) => expand(a, env)),
      env,
      workingDir: spec.workingDir ?? image.workingDir,
      mounts,
      netns: this.sandbox!.netns,
      logFile: join(this.podDir, 'logs', `${spec.name}.log`),
    };
  }

  /** Runs `command` in the container's context (namespaces, mounts, environment); resolves with its exit code. */
  private async execIn(spec: Container, command: readonly string[], timeoutMs: number): Promise<number> {
    const volumes = new Map(
      [...(this.pod.spec.volumes ?? [])].map((v) => [v.name, join(this.podDir, 'volumes', v.name)]),
    );
    const base = this.processSpec(spec, volumes);
    const proc = new ContainerProcess({
      ...base,
      argv: command,
      logFile: join(this.podDir, 'logs', `${spec.name}.exec.log`),
    });
    const exit = await withTimeout(proc.exited, timeoutMs).catch(async () => proc.stop(0));
    return exit.code ?? 1;
  }

  /** Makes the Pod's sandbox, retrying a failure (as the kubelet retries RunPodSandbox) until it works or the Pod goes. */
  private async sandboxUntilMade(): Promise<Sandbox | undefined> {
    for (;;) {
      if (this.terminating) return undefined;
      try {
        return await this.host.createSandbox();
      } catch (err) {
        this.host.log('sandbox not made; retrying', { pod: this.key, err: (err as Error).message });
        await sleep(1000);
      }
    }
  }

  /** Fetches what the Pod refers to and writes its volumes, retrying while something is missing. */
  private async volumesUntilReady(): Promise<ReadonlyMap<string, string> | undefined> {
    for (;;) {
      if (this.terminating) return undefined;
      try {
        await this.loadReferences();
        return await materializeVolumes(this.pod, this.podDir, {
          podIp: this.sandbox!.ip,
          hostIp: this.host.hostIp,
          configMap: async (name) => this.cache.configMaps.get(`${this.pod.metadata.namespace}/${name}`),
          secret: async (name) => this.cache.secrets.get(`${this.pod.metadata.namespace}/${name}`),
          serviceAccountToken: (audience, expiration) =>
            this.host.serviceAccountToken(this.pod, audience, expiration),
        });
      } catch (err) {
        this.host.log('volumes not ready; retrying', { pod: this.key, err: (err as Error).message });
        this.waitingReason = { reason: 'ContainerCreating', message: (err as Error).message };
        this.publish();
        await sleep(1000);
      }
    }
  }

  /** Reads every ConfigMap and Secret the Pod names (volumes, env, envFrom). */
  private async loadReferences(): Promise<void> {
    const ns = this.pod.metadata.namespace ?? 'default';
    const configMaps = new Set<string>();
    const secrets = new Set<string>();
    for (const v of this.pod.spec.volumes ?? []) {
      if (v.configMap) configMaps.add(v.configMap.name);
      if (v.secret) secrets.add(v.secret.secretName);
      for (const s of v.projected?.sources ?? []) {
        if (s.configMap) configMaps.add(s.configMap.name);
        if (s.secret) secrets.add(s.secret.name);
      }
    }
    for (const c of [...(this.pod.spec.initContainers ?? []), ...this.pod.spec.containers]) {
      for (const e of c.env ?? []) {
        if (e.valueFrom?.configMapKeyRef) configMaps.add(e.valueFrom.configMapKeyRef.name);
        if (e.valueFrom?.secretKeyRef) secrets.add(e.valueFrom.secretKeyRef.name);
      }
      for (const f of c.envFrom ?? []) {
        if (f.configMapRef) configMaps.add(f.configMapRef.name);
        if (f.secretRef) secrets.add(f.secretRef.name);
      }
    }
    for (const name of configMaps)
      this.cache.configMaps.set(`${ns}/${name}`, await this.host.configMap(ns, name));
    for (const name of secrets) this.cache.secrets.set(`${ns}/${name}`, await this.host.secret(ns, name));
  }

  /** Writes the status soon (changes in one turn are written once, in order). */
  private publish(): void {
    if (this.statusQueued) return;
    this.statusQueued = true;
    setImmediate(() => {
      this.statusQueued = false;
      const status = this.status();
      this.statusChain = this.statusChain
        .then(() => this.host.writeStatus(this.pod, status))
        .catch((err: Error) => this.host.log('status not written', { pod: this.key, err: err.message }));
    });
  }

  /** The Pod's status now. */
  private status(): Record<string, unknown> {
    const entries = [...this.containers.values()];
    const statusOf = (spec: Container) => {
      const c = this.containers.get(spec.name)?.container;
      return {
        name: spec.name,
        image: spec.image,
        imageID: spec.image,
        ...(c?.running ? { containerID: `process://${spec.name}` } : {}),
        ready: c?.ready ?? false,
        started: c?.started ?? false,
        restartCount: c?.restartCount ?? 0,
        state: c?.state ?? { waiting: this.waitingReason },
        ...(c?.lastState ? { lastState: c.lastState } : { lastState: {} }),
      };
    };
    const apps = this.pod.spec.containers.map(statusOf);
    const inits = (this.pod.spec.initContainers ?? []).map(statusOf);
    const sidecarsReady = entries.filter((e) => e.kind === 'sidecar').every((e) => e.container.ready);
    const containersReady =
      this.initialized && !this.terminating && sidecarsReady && apps.every((s) => s.ready);
    const running = apps.some((s) => 'running' in s.state);
    const phase =
      !this.initialized || !running
        ? this.initialized && apps.every((s) => 'terminated' in s.state)
          ? 'Failed'
          : 'Pending'
        : 'Running';
    const condition = (type: string, value: boolean) => {
      const status = value ? 'True' : 'False';
      const before = this.transitions.get(type);
      if (before?.status !== status) this.transitions.set(type, { status, at: new Date().toISOString() });
      return { type, status, lastProbeTime: null, lastTransitionTime: this.transitions.get(type)!.at };
    };
    return {
      phase,
      hostIP: this.host.hostIp,
      hostIPs: [{ ip: this.host.hostIp }],
      ...(this.sandbox ? { podIP: this.sandbox.ip, podIPs: [{ ip: this.sandbox.ip }] } : {}),
      startTime: this.pod.metadata['creationTimestamp'],
      conditions: [
        condition('PodReadyToStartContainers', this.sandbox !== undefined),
        condition('Initialized', this.initialized),
        condition('Ready', containersReady),
        condition('ContainersReady', containersReady),
        condition('PodScheduled', true),
      ],
      containerStatuses: apps,
      ...(inits.length > 0 ? { initContainerStatuses: inits } : {}),
    };
  }
}

/** `promise`, or a rejection once `ms` passed. */
function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

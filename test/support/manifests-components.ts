/**
 * The components the manifests run, as the tests know them: the script each image runs, where its
 * `loadConfig` is, and which configuration field holds each listener's port.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { V1Container, V1PodSpec, V1Probe } from '@kubernetes/client-node';
import {
  containerCommand,
  containerEnv,
  type EnvReading,
  type FieldValues,
  idOf,
  type KubeObject,
  type PodTemplate,
  podTemplates,
  readEnv,
  render,
} from './manifests.js';
import { dockerfileOf, imageCommand } from './manifests-dockerfile.js';
import { ROOT } from './processes.js';
import type { TestTls } from './tls.js';

/** A component's configuration loader: `loadConfig(env)` of its `config.ts`. */
export type ConfigLoader = (env: Record<string, string | undefined>) => unknown;

/** One component of Zerogate. */
export interface Component {
  readonly name: 'activator' | 'autoscaler' | 'injector' | 'queue-proxy';
  /** The built entry point, as images run it (`node <script>`). */
  readonly script: string;
  /** The built module exporting `loadConfig`. */
  readonly configModule: string;
  /** Each listener, by its key in the startup line's `ports`, to the configuration field of its port. */
  readonly listeners: Readonly<Record<string, string>>;
}

export const COMPONENTS: readonly Component[] = [
  {
    name: 'activator',
    script: 'packages/activator/dist/main.js',
    configModule: 'packages/activator/dist/config.js',
    listeners: { http: 'httpPort', h2c: 'h2cPort', metrics: 'metricsPort' },
  },
  {
    name: 'autoscaler',
    script: 'packages/autoscaler/dist/main.js',
    configModule: 'packages/autoscaler/dist/config.js',
    listeners: { stats: 'port', metrics: 'metricsPort' },
  },
  {
    name: 'injector',
    script: 'packages/injector/dist/main.js',
    configModule: 'packages/injector/dist/config.js',
    listeners: { https: 'port' },
  },
  {
    name: 'queue-proxy',
    script: 'packages/queue-proxy/dist/main.js',
    configModule: 'packages/queue-proxy/dist/config.js',
    listeners: { serving: 'servingPort', admin: 'adminPort', stats: 'statsPort', metrics: 'metricsPort' },
  },
];

/** The components the base runs in Deployments of their own (the queue-proxy runs in revisions' Pods). */
export const BASE_COMPONENTS: readonly Component[] = COMPONENTS.filter((c) => c.name !== 'queue-proxy');

/** The component a command runs (`node <script>`), if it is one of ours. */
export function componentOf(command: readonly string[]): Component | undefined {
  if (command[0] !== 'node') return undefined;
  // Node's own flags (`--max-semi-space-size=1`) come before the script.
  const script = command.slice(1).find((arg) => !arg.startsWith('-'));
  return COMPONENTS.find((c) => c.script === script);
}

/** Imports a built module of the repository by its path; a missing one is an error saying to build. */
export function importBuilt<T>(path: string): Promise<T> {
  const file = resolve(ROOT, path);
  if (!existsSync(file)) throw new Error(`${path} is not built: run \`npm run build\` first`);
  return import(pathToFileURL(file).href) as Promise<T>;
}

/**
 * The component's `loadConfig` (it must be built). The injector's also reads its TLS
 * files: they are served from `files` (path → content), as the Pod's Secret volume would.
 */
export async function configLoader(
  component: Component,
  files: ReadonlyMap<string, Buffer> = new Map(),
): Promise<ConfigLoader> {
  const mod = await importBuilt<{
    loadConfig: (env: Record<string, string | undefined>, readFile?: (path: string) => Buffer) => unknown;
  }>(component.configModule);
  if (component.name !== 'injector') return (env) => mod.loadConfig(env);
  return (env) =>
    mod.loadConfig(env, (path) => {
      const content = files.get(path);
      if (!content) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
      return content;
    });
}

/** The listener ports a loaded configuration names, by listener key. */
export function listenerPorts(component: Component, config: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [listener, field] of Object.entries(component.listeners)) {
    const port = (config as Record<string, unknown>)[field];
    if (typeof port !== 'number') throw new Error(`${component.name}: config field ${field} is not a port`);
    out[listener] = port;
  }
  return out;
}

/** Secret contents by Secret name, then by key. */
export type Secrets = Readonly<Record<string, Readonly<Record<string, Buffer>>>>;

/** The injector's Secret in the base, holding `tls` as `kubectl create secret tls` makes it. */
export function injectorSecrets(tls: TestTls): Secrets {
  return { 'zerogate-injector-tls': { 'tls.crt': tls.cert, 'tls.key': tls.key } };
}

/** The files a container sees from its Secret volumes: `<mountPath>/<key>` for each key given per Secret. */
export function secretFiles(pod: V1PodSpec, container: V1Container, secrets: Secrets): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const mount of container.volumeMounts ?? []) {
    const volume = pod.volumes?.find((v) => v.name === mount.name);
    const secretName = volume?.secret?.secretName;
    const data = secretName ? secrets[secretName] : undefined;
    if (!data) continue;
    for (const [key, content] of Object.entries(data)) files.set(`${mount.mountPath}/${key}`, content);
  }
  return files;
}

/** One of our containers in a rendered kustomization, with everything the checks need. */
export interface OurContainer {
  readonly where: string;
  readonly template: PodTemplate;
  readonly container: V1Container;
  readonly component: Component;
  readonly env: Record<string, string>;
}

/** Downward-API values for a Pod of `owner`, as the kubelet would fill them in. */
export function fieldsFor(owner: KubeObject): FieldValues {
  return {
    'metadata.name': `${owner.metadata.name}-7d9f8c6b5-x2x4z`,
    'metadata.namespace': owner.metadata.namespace ?? 'default',
    'status.podIP': '10.0.0.17',
  };
}

/** Our containers in a rendered kustomization. */
export function ourContainers(dir: string): OurContainer[] {
  const out: OurContainer[] = [];
  for (const template of podTemplates(render(dir))) {
    for (const container of template.spec.containers) {
      const dockerfile = dockerfileOf(container.image ?? '');
      if (!dockerfile) continue;
      const component = componentOf(containerCommand(container, imageCommand(dockerfile)));
      if (!component) throw new Error(`${idOf(template.owner)}: ${container.name} runs no component of ours`);
      out.push({
        where: `${idOf(template.owner)} ${container.name}`,
        template,
        container,
        component,
        env: containerEnv(container, fieldsFor(template.owner)),
      });
    }
  }
  return out;
}

/** The container of ours that runs `name` in a rendered kustomization (the first, if several do). */
export function ourContainer(dir: string, name: Component['name']): OurContainer {
  const c = ourContainers(dir).find((x) => x.component.name === name);
  if (!c) throw new Error(`${dir}: no container runs the ${name}`);
  return c;
}

/**
 * Loads a container's configuration from its manifest environment through its component's own loader,
 * the files of its Secret volumes taken from `secrets`.
 */
export async function readManifestConfig(c: OurContainer, secrets: Secrets = {}): Promise<EnvReading> {
  const load = await configLoader(c.component, secretFiles(c.template.spec, c.container, secrets));
  return readEnv(load, c.env);
}

/** A probe's or Service's port: a number, or the name of one of the container's ports. */
export function portNumber(port: number | string | undefined, container: V1Container): number | undefined {
  if (typeof port === 'number') return port;
  if (typeof port === 'string' && /^\d+$/.test(port)) return Number(port);
  return container.ports?.find((p) => p.name === port)?.containerPort;
}

export function probesOf(container: V1Container): [string, V1Probe][] {
  const all: [string, V1Probe | undefined][] = [
    ['readinessProbe', container.readinessProbe],
    ['livenessProbe', container.livenessProbe],
    ['startupProbe', container.startupProbe],
  ];
  return all.filter((p): p is [string, V1Probe] => p[1] !== undefined);
}

/**
 * A container's environment as the kubelet resolves it: `env` in order with `$(VAR)` references to
 * earlier variables expanded, `valueFrom` field, resource, ConfigMap and Secret references, `envFrom`,
 * and the `KUBERNETES_SERVICE_*` variables every container gets. Pure: what it reads comes in `sources`.
 */
import type { Container, EnvVar, KeyValues, Pod } from './pod-spec.js';

/** What the environment may refer to. */
export interface EnvSources {
  readonly podIp: string;
  readonly hostIp: string;
  /** ConfigMaps and Secrets of the Pod's namespace by name (missing: undefined). */
  readonly configMap: (name: string) => KeyValues | undefined;
  readonly secret: (name: string) => KeyValues | undefined;
  /** The `kubernetes` Service's ClusterIP and port. */
  readonly apiserverService: { readonly host: string; readonly port: number };
  /** The image's own variables (PATH, …), which the Pod's override. */
  readonly imageEnv: Readonly<Record<string, string>>;
}

/** A reference the Pod makes that cannot be resolved (the kubelet: CreateContainerConfigError). */
export class EnvError extends Error {
  constructor(container: string, reason: string) {
    super(`container ${container}: ${reason}`);
    this.name = 'EnvError';
  }
}

/** Resolves `container`'s environment in `pod`. */
export function containerEnv(pod: Pod, container: Container, sources: EnvSources): Record<string, string> {
  const env: Record<string, string> = { ...sources.imageEnv };
  const { host, port } = sources.apiserverService;
  Object.assign(env, {
    KUBERNETES_SERVICE_HOST: host,
    KUBERNETES_SERVICE_PORT: String(port),
    KUBERNETES_SERVICE_PORT_HTTPS: String(port),
    KUBERNETES_PORT: `tcp://${host}:${port}`,
    KUBERNETES_PORT_443_TCP: `tcp://${host}:${port}`,
    KUBERNETES_PORT_443_TCP_PROTO: 'tcp',
    KUBERNETES_PORT_443_TCP_PORT: String(port),
    KUBERNETES_PORT_443_TCP_ADDR: host,
    HOSTNAME: pod.spec.hostname ?? pod.metadata.name,
  });
  for (const from of container.envFrom ?? []) {
    const ref = from.configMapRef ?? from.secretRef;
    if (!ref) continue;
    const values = from.configMapRef ? sources.configMap(ref.name) : sources.secret(ref.name);
    if (!values) {
      if (ref.optional) continue;
      throw new EnvError(
        container.name,
        `${from.configMapRef ? 'configmap' : 'secret'} "${ref.name}" not found`,
      );
    }
    for (const [key, value] of values) env[`${from.prefix ?? ''}${key}`] = value.toString('utf8');
  }
  // Only the Pod's own `env` may refer to earlier variables; the image's and the service ones count.
  for (const v of container.env ?? []) {
    const value = resolve(pod, container, v, sources, env);
    if (value !== undefined) env[v.name] = value;
  }
  return env;
}

/** `$(VAR)` → the variable's value when defined, `$$` → `$`; unknown references stay as written. */
export function expand(text: string, env: Readonly<Record<string, string>>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (match, name: string | undefined) => {
    if (match === '$$') return '$';
    return name !== undefined && env[name] !== undefined ? env[name]! : match;
  });
}

function resolve(
  pod: Pod,
  container: Container,
  v: EnvVar,
  sources: EnvSources,
  env: Readonly<Record<string, string>>,
): string | undefined {
  if (!v.valueFrom) return expand(v.value ?? '', env);
  const { fieldRef, resourceFieldRef, configMapKeyRef, secretKeyRef } = v.valueFrom;
  if (fieldRef) return fieldValue(pod, fieldRef.fieldPath, sources);
  if (resourceFieldRef) {
    const target = resourceFieldRef.containerName
      ? [...(pod.spec.initContainers ?? []), ...pod.spec.containers].find(
          (c) => c.name === resourceFieldRef.containerName,
        )
      : container;
    return resourceValue(target ?? container, resourceFieldRef.resource, resourceFieldRef.divisor);
  }
  const ref = configMapKeyRef ?? secretKeyRef;
  if (!ref) return undefined;
  const kind = configMapKeyRef ? 'configmap' : 'secret';
  const values = configMapKeyRef ? sources.configMap(ref.name) : sources.secret(ref.name);
  const value = values?.get(ref.key);
  if (value === undefined) {
    if (ref.optional) return undefined;
    throw new EnvError(container.name, `${kind} "${ref.name}" has no key "${ref.key}" (for ${v.name})`);
  }
  return value.toString('utf8');
}

/** A downward-API field of the Pod (`metadata.name`, `status.podIP`, `metadata.labels['k']`, …). */
export function fieldValue(pod: Pod, path: string, ips: { podIp: string; hostIp: string }): string {
  const keyed = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
  if (keyed) {
    const map = keyed[1] === 'labels' ? pod.metadata.labels : pod.metadata.annotations;
    return map?.[keyed[2]!] ?? '';
  }
  switch (path) {
    case 'metadata.name':
      return pod.metadata.name;
    case 'metadata.namespace':
      return pod.metadata.namespace ?? 'default';
    case 'metadata.uid':
      return pod.metadata.uid ?? '';
    case 'metadata.labels':
    case 'metadata.annotations': {
      const map = path === 'metadata.labels' ? pod.metadata.labels : pod.metadata.annotations;
      return Object.entries(map ?? {})
        .map(([k, val]) => `${k}=${JSON.stringify(val)}`)
        .join('\n');
    }
    case 'spec.nodeName':
      return pod.spec.nodeName ?? '';
    case 'spec.serviceAccountName':
      return pod.spec.serviceAccountName ?? 'default';
    case 'status.podIP':
    case 'status.podIPs':
      return ips.podIp;
    case 'status.hostIP':
    case 'status.hostIPs':
      return ips.hostIp;
    default:
      throw new Error(`unsupported fieldRef ${path}`);
  }
}

/** `limits.cpu`, `requests.memory`, … of the container in units of `divisor`, rounded up as the kubelet does. */
export function resourceValue(container: Container, resource: string, divisor: string | number = 1): string {
  const [kind, name] = resource.split('.') as ['limits' | 'requests', string];
  const quantity = container.resources?.[kind]?.[name] ?? (kind === 'limits' ? NODE_ALLOCATABLE[name] : '0');
  return String(Math.ceil(parseQuantity(quantity ?? '0') / parseQuantity(String(divisor))));
}

/** What a container without a limit may use: this node's allocatable resources. */
const NODE_ALLOCATABLE: Readonly<Record<string, string>> = {
  cpu: '2',
  memory: '24Gi',
  'ephemeral-storage': '100Gi',
};

const SUFFIXES: Readonly<Record<string, number>> = {
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
};

/** A Kubernetes resource quantity (`50m`, `1.5`, `64Mi`, `1e3`) as a number. */
export function parseQuantity(text: string): number {
  const match = /^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(text.trim());
  if (!match) throw new Error(`bad quantity ${JSON.stringify(text)}`);
  return Number(match[1]) * (match[2] ? SUFFIXES[match[2]]! : 1);
}

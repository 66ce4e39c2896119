/**
 * Reading the Kubernetes manifests under `deploy/` as the cluster would get them: every kustomization
 * rendered with `kubectl kustomize`, Pod environments resolved as the kubelet resolves them, and the
 * RBAC a service account ends up with.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import type {
  KubernetesObject,
  V1ClusterRoleBinding,
  V1Container,
  V1Deployment,
  V1ObjectMeta,
  V1PodSpec,
  V1PolicyRule,
  V1Role,
  V1RoleBinding,
} from '@kubernetes/client-node';
import { parse, parseAllDocuments } from 'yaml';
import { ROOT } from './processes.js';
import { KUBECTL as BUILT_KUBECTL, gate } from './tools.js';

/** The folder of the manifests. */
export const DEPLOY = resolve(ROOT, 'deploy');

/**
 * The `kubectl` that renders `deploy/` (`kubectl kustomize` needs no cluster): the project's own build,
 * see `tools.ts`. Without it the tests that render skip, or fail in CI.
 */
export const KUBECTL: string | undefined = gate(
  'kubectl',
  BUILT_KUBECTL,
  'the tests that render deploy/ (manifests, RBAC, consistency, docs, image commands)',
)
  ? BUILT_KUBECTL
  : undefined;

/** A rendered object: any Kubernetes object with its type and name. */
export interface KubeObject extends KubernetesObject {
  apiVersion: string;
  kind: string;
  metadata: V1ObjectMeta & { name: string };
  [field: string]: unknown;
}

/** A kustomization under `deploy/`: its folder (relative to the repository) and kind. */
export interface KustomizationDir {
  readonly dir: string;
  readonly kind: 'Kustomization' | 'Component';
}

const KUSTOMIZATION_FILES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'];

/** Every kustomization under `deploy/`, sorted by folder. */
export function kustomizations(root = DEPLOY): KustomizationDir[] {
  const found: KustomizationDir[] = [];
  const walk = (dir: string) => {
    const entries = readdirSync(dir, { withFileTypes: true });
    const file = entries.find((e) => e.isFile() && KUSTOMIZATION_FILES.includes(e.name));
    if (file) {
      const doc = parse(readFileSync(join(dir, file.name), 'utf8')) as { kind?: string } | null;
      found.push({
        dir: relative(ROOT, dir),
        kind: doc?.kind === 'Component' ? 'Component' : 'Kustomization',
      });
    }
    for (const e of entries) if (e.isDirectory()) walk(join(dir, e.name));
  };
  walk(root);
  return found.sort((a, b) => a.dir.localeCompare(b.dir));
}

const rendered = new Map<string, KubeObject[]>();

/** `kubectl kustomize <dir>` parsed into objects; `dir` is relative to the repository. Cached. */
export function render(dir: string): KubeObject[] {
  const cached = rendered.get(dir);
  if (cached) return structuredClone(cached);
  if (!KUBECTL) throw new Error('kubectl is not available');
  let text: string;
  try {
    text = execFileSync(KUBECTL, ['kustomize', resolve(ROOT, dir)], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? '').trim();
    throw new Error(`kubectl kustomize ${dir} failed: ${stderr || (err as Error).message}`, { cause: err });
  }
  const objects = parseYamlObjects(text, dir);
  rendered.set(dir, objects);
  return structuredClone(objects);
}

/** Parses a multi-document YAML stream, rejecting YAML errors and documents that are not named objects. */
export function parseYamlObjects(text: string, source: string): KubeObject[] {
  const objects: KubeObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`${source}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value = doc.toJS() as unknown;
    if (value === null || value === undefined) continue;
    const obj = value as Partial<KubeObject>;
    if (typeof obj.apiVersion !== 'string' || typeof obj.kind !== 'string' || !obj.metadata?.name) {
      throw new Error(`${source}: a document is not a named Kubernetes object: ${JSON.stringify(value)}`);
    }
    objects.push(obj as KubeObject);
  }
  return objects;
}

/** `Kind namespace/name` (or `Kind name` when cluster-scoped), for messages. */
export function idOf(obj: KubeObject): string {
  const ns = obj.metadata.namespace;
  return `${obj.kind} ${ns ? `${ns}/` : ''}${obj.metadata.name}`;
}

/** The objects of a kind, optionally of one name and namespace. */
export function select<T = KubeObject>(
  objects: readonly KubeObject[],
  kind: string,
  name?: string,
  namespace?: string,
): (T & KubeObject)[] {
  return objects.filter(
    (o) =>
      o.kind === kind &&
      (name === undefined || o.metadata.name === name) &&
      (namespace === undefined || o.metadata.namespace === namespace),
  ) as (T & KubeObject)[];
}

/** The one object of that kind and name; throws when there is none or several. */
export function only<T = KubeObject>(
  objects: readonly KubeObject[],
  kind: string,
  name: string,
  namespace?: string,
): T & KubeObject {
  const found = select<T>(objects, kind, name, namespace);
  if (found.length !== 1)
    throw new Error(`expected one ${kind} ${namespace ?? ''}/${name}, found ${found.length}`);
  return found[0]!;
}

/** A Pod template found in a rendered object: where it is, its labels and its spec. */
export interface PodTemplate {
  readonly owner: KubeObject;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly spec: V1PodSpec;
}

/** The Pod templates of Deployments (and of Knative Services, whose template is a Revision's). */
export function podTemplates(objects: readonly KubeObject[]): PodTemplate[] {
  const out: PodTemplate[] = [];
  for (const o of objects) {
    if (o.kind === 'Deployment' || (o.kind === 'Service' && o.apiVersion === 'serving.knative.dev/v1')) {
      const template = (o as V1Deployment).spec?.template;
      if (!template?.spec) continue;
      out.push({
        owner: o,
        labels: template.metadata?.labels ?? {},
        annotations: template.metadata?.annotations ?? {},
        spec: template.spec,
      });
    }
  }
  return out;
}

/** Values the downward API gives a Pod, by `fieldPath`. */
export type FieldValues = Readonly<Record<string, string>>;

/**
 * A container's environment as the kubelet resolves it: literal values, downward-API fields from
 * `fields`, and `$(VAR)` references to variables defined earlier in the list (`$$` escapes; an unknown
 * reference stays as written). Any other source (Secrets, ConfigMaps, resource fields) throws, so a
 * test never runs with a value it guessed.
 */
export function containerEnv(container: V1Container, fields: FieldValues): Record<string, string> {
  const env: Record<string, string> = {};
  for (const v of container.env ?? []) {
    let value: string;
    if (v.valueFrom) {
      const path = v.valueFrom.fieldRef?.fieldPath;
      if (path === undefined || fields[path] === undefined) {
        throw new Error(
          `${container.name}: ${v.name} comes from ${JSON.stringify(v.valueFrom)}, not a known field`,
        );
      }
      value = fields[path]!;
    } else {
      value = expandVars(v.value ?? '', env);
    }
    env[v.name] = value;
  }
  if (container.envFrom?.length) throw new Error(`${container.name}: envFrom is not resolved by the tests`);
  return env;
}

/** Kubernetes' `$(VAR)` expansion of a value against the variables defined before it. */
export function expandVars(value: string, defined: Readonly<Record<string, string>>): string {
  return value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (whole, name: string | undefined) => {
    if (name === undefined) return '$';
    return defined[name] ?? whole;
  });
}

/** The command a container runs: its `command` and `args`, else the image's entry point. */
export function containerCommand(container: V1Container, imageEntrypoint: readonly string[]): string[] {
  return [...(container.command ?? imageEntrypoint), ...(container.args ?? [])];
}

/** One request a component made to the Kubernetes API, in the terms RBAC uses. */
export interface ApiCall {
  readonly verb: string;
  /** '' for the core group. */
  readonly group: string;
  readonly resource: string;
  readonly subresource: string | undefined;
  /** Undefined for a request across all namespaces (or of a cluster-scoped resource). */
  readonly namespace: string | undefined;
  readonly name: string | undefined;
}

/** `verb group/resource[/subresource] in namespace`, for messages. */
export function describeCall(c: ApiCall): string {
  const resource = `${c.group === '' ? 'core' : c.group}/${c.resource}${c.subresource ? `/${c.subresource}` : ''}`;
  return `${c.verb} ${resource} ${c.namespace === undefined ? '(all namespaces)' : `in ${c.namespace}`}`;
}

/** Reads an API path (`/apis/apps/v1/namespaces/ns/deployments/name/scale`) into RBAC terms. */
export function apiCallOf(verb: string, path: string): ApiCall {
  const parts = path.split('/').filter((p) => p !== '');
  let rest: string[];
  let group: string;
  if (parts[0] === 'api') {
    group = '';
    rest = parts.slice(2);
  } else if (parts[0] === 'apis') {
    group = parts[1] ?? '';
    rest = parts.slice(3);
  } else {
    throw new Error(`not a resource path: ${path}`);
  }
  if (rest[0] === 'watch') rest = rest.slice(1);
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [resource, name, subresource] = rest;
  if (resource === undefined) throw new Error(`no resource in ${path}`);
  return { verb, group, resource, subresource, namespace, name };
}

/** A service account, by namespace and name. */
export interface AccountRef {
  readonly namespace: string;
  readonly name: string;
}

/** One RBAC rule granted to an account: where it applies (a namespace, or the whole cluster) and what from. */
export interface Grant {
  readonly scope: 'cluster' | { readonly namespace: string };
  readonly rule: V1PolicyRule;
  /** `ClusterRoleBinding x → ClusterRole y`, for messages. */
  readonly via: string;
}

function bindsAccount(
  subjects: V1RoleBinding['subjects'],
  sa: AccountRef,
  bindingNamespace?: string,
): boolean {
  return (subjects ?? []).some(
    (s) =>
      s.kind === 'ServiceAccount' && s.name === sa.name && (s.namespace ?? bindingNamespace) === sa.namespace,
  );
}

/**
 * Every rule the objects grant `sa`: ClusterRoleBindings apply their ClusterRole everywhere, RoleBindings
 * their Role or ClusterRole in the binding's namespace. A binding to a role that is not among the objects
 * throws (the manifests would reference nothing).
 */
export function grantsOf(objects: readonly KubeObject[], sa: AccountRef): Grant[] {
  const grants: Grant[] = [];
  const roleRules = (kind: string, name: string, namespace?: string): V1PolicyRule[] => {
    const role = select<V1Role>(objects, kind, name, kind === 'Role' ? namespace : undefined)[0];
    if (!role) throw new Error(`a binding refers to ${kind} ${name}, which is not in the manifests`);
    return role.rules ?? [];
  };
  for (const b of select<V1ClusterRoleBinding>(objects, 'ClusterRoleBinding')) {
    if (!bindsAccount(b.subjects, sa)) continue;
    for (const rule of roleRules(b.roleRef.kind, b.roleRef.name)) {
      grants.push({
        scope: 'cluster',
        rule,
        via: `ClusterRoleBinding ${b.metadata.name} → ${b.roleRef.kind} ${b.roleRef.name}`,
      });
    }
  }
  for (const b of select<V1RoleBinding>(objects, 'RoleBinding')) {
    const namespace = b.metadata.namespace ?? 'default';
    if (!bindsAccount(b.subjects, sa, namespace)) continue;
    for (const rule of roleRules(b.roleRef.kind, b.roleRef.name, namespace)) {
      grants.push({
        scope: { namespace },
        rule,
        via: `RoleBinding ${namespace}/${b.metadata.name} → ${b.roleRef.kind} ${b.roleRef.name}`,
      });
    }
  }
  return grants;
}

const has = (list: readonly string[] | undefined, value: string) =>
  (list ?? []).includes(value) || (list ?? []).includes('*');

/** Whether `grant` allows `call`, by Kubernetes' RBAC rules (resourceNames only match calls naming one). */
export function allows(grant: Grant, call: ApiCall): boolean {
  if (grant.scope !== 'cluster' && grant.scope.namespace !== call.namespace) return false;
  const { rule } = grant;
  const resource = call.subresource ? `${call.resource}/${call.subresource}` : call.resource;
  if (!has(rule.apiGroups, call.group) || !has(rule.verbs, call.verb) || !has(rule.resources, resource))
    return false;
  if (rule.resourceNames?.length) return call.name !== undefined && rule.resourceNames.includes(call.name);
  return true;
}

/** Every (group, resource, verb) a list of grants spells out, each with the grant it comes from. */
export function grantedPermissions(
  grants: readonly Grant[],
): { group: string; resource: string; verb: string; grant: Grant }[] {
  const out: { group: string; resource: string; verb: string; grant: Grant }[] = [];
  for (const grant of grants) {
    for (const group of grant.rule.apiGroups ?? []) {
      for (const resource of grant.rule.resources ?? []) {
        for (const verb of grant.rule.verbs) out.push({ group, resource, verb, grant });
      }
    }
  }
  return out;
}

/** What a component's `loadConfig` made of an environment: the variables it looked at, and its verdict. */
export interface EnvReading {
  /** Every variable read, in order of first read. */
  readonly read: string[];
  /** The ConfigError's problems, one per bad or missing variable; empty when the configuration loaded. */
  readonly problems: readonly string[];
  readonly config: unknown;
}

/**
 * Calls `load` with `env` behind a Proxy that records every variable read, so the tests learn which
 * variables a component looks at from the component itself. Enumerating the environment throws: a
 * loader that did so could read anything, and the list would mean nothing.
 */
export function readEnv(
  load: (env: Record<string, string | undefined>) => unknown,
  env: Record<string, string>,
): EnvReading {
  const read: string[] = [];
  const proxy = new Proxy(env as Record<string, string | undefined>, {
    get(target, key) {
      if (typeof key === 'string' && !read.includes(key)) read.push(key);
      return typeof key === 'string' ? target[key] : undefined;
    },
    has(target, key) {
      if (typeof key === 'string' && !read.includes(key)) read.push(key);
      return key in target;
    },
    ownKeys() {
      throw new Error('the configuration loader enumerated the environment');
    },
  });
  try {
    return { read, problems: [], config: load(proxy) };
  } catch (err) {
    const problems = (err as { problems?: unknown }).problems;
    if (!Array.isArray(problems)) throw err;
    return { read, problems: problems as string[], config: undefined };
  }
}

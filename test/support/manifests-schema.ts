/**
 * Schema checks of rendered manifests: kubernetes-models' own validation (types, enums, required fields)
 * plus a strict pass that rejects every property the schema does not define, which kubernetes-models
 * alone lets through (`containers[0].bogus` passes its `validate()`).
 *
 * kubernetes-models ships its JSON schemas compiled into validators, one per definition. A compiled
 * validator reads each property its schema defines (`data.image`, `data.ports`, …) and iterates the keys
 * of map-typed objects (labels, resource limits). The strict pass runs it over a recording view of the
 * object and flags every key that was never read: exactly the properties outside the schema. Values the
 * schema leaves opaque (free-form JSON) are not looked into, by the validator or by the walk.
 */
import type { V1JSONSchemaProps } from '@kubernetes/client-node';
import { validate as objectMetaSchema } from '@kubernetes-models/apimachinery/_schemas/IoK8sApimachineryPkgApisMetaV1ObjectMeta';
import { validate as httpRouteSchema } from '@kubernetes-models/gateway-api/_schemas/IoK8sSigsGatewayApiApisV1HTTPRoute';
import { HTTPRoute } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute';
import { validate as mutatingWebhookConfigurationSchema } from 'kubernetes-models/_schemas/IoK8sApiAdmissionregistrationV1MutatingWebhookConfiguration';
import { validate as deploymentSchema } from 'kubernetes-models/_schemas/IoK8sApiAppsV1Deployment';
import { validate as horizontalPodAutoscalerSchema } from 'kubernetes-models/_schemas/IoK8sApiAutoscalingV2HorizontalPodAutoscaler';
import { validate as configMapSchema } from 'kubernetes-models/_schemas/IoK8sApiCoreV1ConfigMap';
import { validate as namespaceSchema } from 'kubernetes-models/_schemas/IoK8sApiCoreV1Namespace';
import { validate as podSchema } from 'kubernetes-models/_schemas/IoK8sApiCoreV1Pod';
import { validate as podSpecSchema } from 'kubernetes-models/_schemas/IoK8sApiCoreV1PodSpec';
import { validate as serviceSchema } from 'kubernetes-models/_schemas/IoK8sApiCoreV1Service';
import { validate as serviceAccountSchema } from 'kubernetes-models/_schemas/IoK8sApiCoreV1ServiceAccount';
import { validate as customResourceDefinitionSchema } from 'kubernetes-models/_schemas/IoK8sApiextensionsApiserverPkgApisApiextensionsV1CustomResourceDefinition';
import { validate as podDisruptionBudgetSchema } from 'kubernetes-models/_schemas/IoK8sApiPolicyV1PodDisruptionBudget';
import { validate as clusterRoleSchema } from 'kubernetes-models/_schemas/IoK8sApiRbacV1ClusterRole';
import { validate as clusterRoleBindingSchema } from 'kubernetes-models/_schemas/IoK8sApiRbacV1ClusterRoleBinding';
import { validate as roleSchema } from 'kubernetes-models/_schemas/IoK8sApiRbacV1Role';
import { validate as roleBindingSchema } from 'kubernetes-models/_schemas/IoK8sApiRbacV1RoleBinding';
import { MutatingWebhookConfiguration } from 'kubernetes-models/admissionregistration.k8s.io/v1/MutatingWebhookConfiguration';
import { CustomResourceDefinition } from 'kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import { Role } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import { RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Pod } from 'kubernetes-models/v1/Pod';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import type { KubeObject } from './manifests.js';

/** A compiled schema validator as kubernetes-models ships it (Ajv standalone code). */
type SchemaValidator = (data: unknown) => boolean;

interface AjvError {
  instancePath: string;
  keyword: string;
  params: unknown;
}

/**
 * A kubernetes-models class: its `apiVersion` and `kind`, constructed from plain data, `validate()`
 * throws on a schema violation.
 */
interface ModelClass {
  readonly apiVersion: string;
  readonly kind: string;
  new (data: never): { validate(): void };
}

/** The schema of each kind the manifests use, by `apiVersion/kind`. */
const KINDS: ReadonlyMap<string, { model: ModelClass; schema: SchemaValidator }> = new Map(
  (
    [
      [Namespace, namespaceSchema],
      [ServiceAccount, serviceAccountSchema],
      [Service, serviceSchema],
      [ConfigMap, configMapSchema],
      [Pod, podSchema],
      [Deployment, deploymentSchema],
      [ClusterRole, clusterRoleSchema],
      [ClusterRoleBinding, clusterRoleBindingSchema],
      [Role, roleSchema],
      [RoleBinding, roleBindingSchema],
      [PodDisruptionBudget, podDisruptionBudgetSchema],
      [HorizontalPodAutoscaler, horizontalPodAutoscalerSchema],
      [MutatingWebhookConfiguration, mutatingWebhookConfigurationSchema],
      [CustomResourceDefinition, customResourceDefinitionSchema],
      [HTTPRoute, httpRouteSchema],
    ] as [ModelClass, SchemaValidator][]
  ).map(([model, schema]) => [`${model.apiVersion}/${model.kind}`, { model, schema }]),
);

/**
 * Properties of `JSONSchemaProps` (a CRD's schema) that the upstream definition has but kubernetes-models'
 * generated schema lost: its generator drops `description` fields and `x-kubernetes-*` extensions of the
 * OpenAPI document, and here they are property names. Their values are checked by {@link checkSchemaExtras}.
 */
const JSON_SCHEMA_PROPS_EXTRAS: Readonly<Record<string, 'string' | 'boolean' | 'string[]' | 'array'>> = {
  description: 'string',
  'x-kubernetes-preserve-unknown-fields': 'boolean',
  'x-kubernetes-int-or-string': 'boolean',
  'x-kubernetes-embedded-resource': 'boolean',
  'x-kubernetes-list-type': 'string',
  'x-kubernetes-list-map-keys': 'string[]',
  'x-kubernetes-map-type': 'string',
  'x-kubernetes-validations': 'array',
};

/** What a strict check found: schema violations, and properties the schema does not define. */
export interface StrictResult {
  readonly errors: string[];
  readonly unknown: string[];
}

/**
 * Runs `validate` over `value` and lists, besides its errors, every property it never read (see the
 * module comment). `allowExtra` may accept a key the schema does not define at a given path.
 */
export function strictCheck(
  value: unknown,
  validate: SchemaValidator,
  path = '',
  allowExtra: (path: string, key: string) => boolean = () => false,
): StrictResult {
  const reads = new WeakMap<object, Set<string>>();
  const view = (v: unknown): unknown => {
    if (v === null || typeof v !== 'object') return v;
    let keys = reads.get(v);
    if (!keys) {
      keys = new Set();
      reads.set(v, keys);
    }
    const seen = keys;
    return new Proxy(v, {
      get(target, key, receiver) {
        if (typeof key === 'string') seen.add(key);
        return view(Reflect.get(target, key, receiver));
      },
    });
  };
  const ok = validate(view(value));
  const errors = ok
    ? []
    : ((validate as { errors?: AjvError[] | null }).errors ?? []).map(
        (e) => `${path}${e.instancePath} ${e.keyword} ${JSON.stringify(e.params)}`,
      );
  const unknown: string[] = [];
  const walk = (v: unknown, at: string) => {
    if (v === null || typeof v !== 'object') return;
    if (Array.isArray(v)) {
      for (const [i, item] of v.entries()) walk(item, `${at}[${i}]`);
      return;
    }
    const seen = reads.get(v);
    // Never looked into: a free-form value (a CRD's `default`, say), not ours to judge.
    if (!seen || seen.size === 0) return;
    for (const [key, child] of Object.entries(v)) {
      if (seen.has(key)) walk(child, `${at}.${key}`);
      else if (!allowExtra(at, key)) unknown.push(`${at}.${key}`);
    }
  };
  walk(value, path);
  return { errors, unknown };
}

/** Type checks of the JSONSchemaProps properties kubernetes-models' schema lost, anywhere in a CRD schema. */
function checkSchemaExtras(value: unknown, path: string, errors: string[]): void {
  if (value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) checkSchemaExtras(v, `${path}[${i}]`, errors);
    return;
  }
  for (const [key, child] of Object.entries(value)) {
    const type = JSON_SCHEMA_PROPS_EXTRAS[key];
    const bad =
      (type === 'string' && typeof child !== 'string') ||
      (type === 'boolean' && typeof child !== 'boolean') ||
      (type === 'array' && !Array.isArray(child)) ||
      (type === 'string[]' && !(Array.isArray(child) && child.every((c) => typeof c === 'string')));
    if (bad) errors.push(`${path}.${key} must be a ${type}`);
    checkSchemaExtras(child, `${path}.${key}`, errors);
  }
}

/** The fields of a Knative RevisionSpec beyond the Pod spec, with their bounds. */
const REVISION_SPEC_FIELDS = [
  'containerConcurrency',
  'timeoutSeconds',
  'responseStartTimeoutSeconds',
  'idleTimeoutSeconds',
];

/** The fields of a Knative traffic target (`serving.knative.dev/v1` TrafficTarget). */
const TRAFFIC_TARGET_FIELDS: Readonly<Record<string, 'string' | 'boolean' | 'percent'>> = {
  tag: 'string',
  revisionName: 'string',
  configurationName: 'string',
  latestRevision: 'boolean',
  percent: 'percent',
  url: 'string',
};

function onlyKeys(
  value: unknown,
  allowed: readonly string[],
  path: string,
  result: StrictResult,
): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    result.errors.push(`${path} must be an object`);
    return {};
  }
  for (const key of Object.keys(value)) if (!allowed.includes(key)) result.unknown.push(`${path}.${key}`);
  return value as Record<string, unknown>;
}

function merge(into: StrictResult, from: StrictResult): void {
  into.errors.push(...from.errors);
  into.unknown.push(...from.unknown);
}

/**
 * A Knative Service (`serving.knative.dev/v1`), which kubernetes-models has no schema for: its metadata
 * and its template's metadata as ObjectMeta, its template's spec as a Pod spec plus Knative's four
 * revision fields, its traffic targets field by field.
 */
function knativeService(obj: KubeObject): StrictResult {
  const result: StrictResult = { errors: [], unknown: [] };
  const top = onlyKeys(obj, ['apiVersion', 'kind', 'metadata', 'spec'], '', result);
  merge(result, strictCheck(top['metadata'], objectMetaSchema, '.metadata'));
  const spec = onlyKeys(top['spec'], ['template', 'traffic'], '.spec', result);
  const template = onlyKeys(spec['template'], ['metadata', 'spec'], '.spec.template', result);
  if (template['metadata'] !== undefined) {
    merge(result, strictCheck(template['metadata'], objectMetaSchema, '.spec.template.metadata'));
  }
  const rawSpec = template['spec'];
  if (rawSpec === null || typeof rawSpec !== 'object' || Array.isArray(rawSpec)) {
    result.errors.push('.spec.template.spec must be an object');
    return result;
  }
  const revisionSpec: Record<string, unknown> = { ...rawSpec };
  for (const field of REVISION_SPEC_FIELDS) {
    const v = revisionSpec[field];
    if (v !== undefined && !(typeof v === 'number' && Number.isSafeInteger(v) && v >= 0)) {
      result.errors.push(`.spec.template.spec.${field} must be a non-negative integer`);
    }
    delete revisionSpec[field];
  }
  merge(result, strictCheck(revisionSpec, podSpecSchema, '.spec.template.spec'));
  const traffic = spec['traffic'] ?? [];
  if (!Array.isArray(traffic)) result.errors.push('.spec.traffic must be an array');
  else {
    traffic.forEach((t: unknown, i) => {
      const path = `.spec.traffic[${i}]`;
      const target = onlyKeys(t, Object.keys(TRAFFIC_TARGET_FIELDS), path, result);
      for (const [key, v] of Object.entries(target)) {
        const type = TRAFFIC_TARGET_FIELDS[key];
        const ok =
          (type === 'string' && typeof v === 'string') ||
          (type === 'boolean' && typeof v === 'boolean') ||
          (type === 'percent' && typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 100);
        if (type && !ok) result.errors.push(`${path}.${key} must be a ${type}`);
      }
    });
  }
  return result;
}

/**
 * Validates one rendered object against its Kubernetes schema: kubernetes-models' `validate()`, then the
 * strict pass. Returns one line per problem (an unknown kind is one).
 */
export function validateObject(obj: KubeObject): string[] {
  const key = `${obj.apiVersion}/${obj.kind}`;
  const problems: string[] = [];
  if (key === 'serving.knative.dev/v1/Service') {
    const r = knativeService(obj);
    problems.push(...r.errors, ...r.unknown.map((u) => `${u}: not in the schema`));
    return problems;
  }
  const entry = KINDS.get(key);
  if (!entry) return [`no schema for ${key}`];
  try {
    new entry.model(structuredClone(obj) as never).validate();
  } catch (err) {
    problems.push((err as Error).message);
  }
  const isCrd = obj.kind === 'CustomResourceDefinition';
  const r = strictCheck(
    obj,
    entry.schema,
    '',
    (path, k) => isCrd && path.includes('.openAPIV3Schema') && k in JSON_SCHEMA_PROPS_EXTRAS,
  );
  if (isCrd) checkSchemaExtras((obj['spec'] as { versions?: unknown })?.versions, '.spec.versions', r.errors);
  problems.push(...r.errors, ...r.unknown.map((u) => `${u}: not in the schema`));
  return problems;
}

/**
 * Why a CRD version's schema is not structural (Kubernetes' rules, as far as this CRD uses schema
 * features): every node has a type unless it preserves unknown fields or is int-or-string, `metadata`
 * is a bare object, and no node mixes `properties` with `additionalProperties`.
 */
export function structuralProblems(schema: V1JSONSchemaProps | undefined, path = '', top = true): string[] {
  if (!schema) return [`${path || 'schema'}: missing`];
  const s = schema as V1JSONSchemaProps & Record<string, unknown>;
  const problems: string[] = [];
  const preserves = s['x-kubernetes-preserve-unknown-fields'] === true;
  if (!s.type && !preserves && s['x-kubernetes-int-or-string'] !== true)
    problems.push(`${path || '.'}: no type`);
  if (s.properties && s.additionalProperties !== undefined) {
    problems.push(`${path}: properties and additionalProperties together`);
  }
  for (const [name, child] of Object.entries(s.properties ?? {})) {
    if (top && name === 'metadata') {
      const keys = Object.keys(child).filter((k) => k !== 'type');
      if (child.type !== 'object' || keys.length > 0) problems.push('.metadata: must be only {type: object}');
      continue;
    }
    problems.push(...structuralProblems(child, `${path}.${name}`, false));
  }
  if (s.items && !Array.isArray(s.items))
    problems.push(...structuralProblems(s.items as V1JSONSchemaProps, `${path}[]`, false));
  return problems;
}

/**
 * Validates a value against a structural schema as the API server would for the features used here:
 * types, integer bounds, known properties, and unknown fields only where they are preserved.
 */
export function validateAgainst(value: unknown, schema: V1JSONSchemaProps, path = ''): string[] {
  const s = schema as V1JSONSchemaProps & Record<string, unknown>;
  const problems: string[] = [];
  switch (s.type) {
    case 'object': {
      if (value === null || typeof value !== 'object' || Array.isArray(value))
        return [`${path}: must be an object`];
      const record = value as Record<string, unknown>;
      for (const name of s.required ?? []) if (!(name in record)) problems.push(`${path}.${name}: required`);
      for (const [key, child] of Object.entries(record)) {
        // The API server checks an object's metadata as ObjectMeta, whatever the schema says.
        if (path === '' && key === 'metadata') continue;
        const sub = s.properties?.[key];
        if (sub) problems.push(...validateAgainst(child, sub, `${path}.${key}`));
        else if (s['x-kubernetes-preserve-unknown-fields'] !== true)
          problems.push(`${path}.${key}: unknown field`);
      }
      return problems;
    }
    case 'integer': {
      if (typeof value !== 'number' || !Number.isInteger(value)) return [`${path}: must be an integer`];
      if (s.minimum !== undefined && value < s.minimum)
        problems.push(`${path}: must be at least ${s.minimum}`);
      if (s.maximum !== undefined && value > s.maximum)
        problems.push(`${path}: must be at most ${s.maximum}`);
      return problems;
    }
    case 'string':
      return typeof value === 'string' ? [] : [`${path}: must be a string`];
    case 'boolean':
      return typeof value === 'boolean' ? [] : [`${path}: must be a boolean`];
    default:
      return s['x-kubernetes-preserve-unknown-fields'] === true ? [] : [`${path}: no type in the schema`];
  }
}

/**
 * Strategic merge patch (`application/strategic-merge-patch+json`) as the API server applies it
 * (`k8s.io/apimachinery/pkg/util/strategicpatch`), for the in-process test API server: lists whose Go
 * field carries `patchStrategy:"merge"` merge by their `patchMergeKey`, every other list is replaced
 * whole (EndpointSlice `endpoints` and `ports` are `+listType=atomic`). The directives `$patch`
 * (`replace`, `delete`, `merge`), `$retainKeys`, `$deleteFromPrimitiveList/<field>` and
 * `$setElementOrder/<field>` are understood.
 */
import { cloneJson, PatchError } from './test-apiserver-patch.js';

/** The patch metadata of one field, from its Go struct tags. */
export interface PatchMeta {
  /** The fields of an object value. */
  readonly fields?: Readonly<Record<string, PatchMeta>>;
  /** The elements of a list value. */
  readonly items?: PatchMeta;
  /** `patchStrategy:"merge"`: a list merges (by `mergeKey` for objects, as a set for primitives). */
  readonly merge?: boolean;
  readonly mergeKey?: string;
}

type JsonObject = Record<string, unknown>;

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const mergeBy = (mergeKey: string, items?: PatchMeta): PatchMeta => ({
  merge: true,
  mergeKey,
  ...(items ? { items } : {}),
});

/** `metav1.ObjectMeta`: ownerReferences merge by uid, finalizers as a set. */
const OBJECT_META: PatchMeta = {
  fields: { ownerReferences: mergeBy('uid'), finalizers: { merge: true } },
};

/** `core/v1.Container` (and `EphemeralContainer`). */
const CONTAINER: PatchMeta = {
  fields: {
    ports: mergeBy('containerPort'),
    env: mergeBy('name'),
    volumeMounts: mergeBy('mountPath'),
    volumeDevices: mergeBy('devicePath'),
  },
};

/** `core/v1.PodSpec`. */
const POD_SPEC: PatchMeta = {
  fields: {
    containers: mergeBy('name', CONTAINER),
    initContainers: mergeBy('name', CONTAINER),
    ephemeralContainers: mergeBy('name', CONTAINER),
    volumes: mergeBy('name'),
    imagePullSecrets: mergeBy('name'),
    hostAliases: mergeBy('ip'),
    topologySpreadConstraints: mergeBy('topologyKey'),
    resourceClaims: mergeBy('name'),
    schedulingGates: mergeBy('name'),
  },
};

const CONDITIONS = mergeBy('type');

/** The patch metadata of each built-in kind the server serves, by `apiVersion/kind`. */
export const STRATEGIC_PATCH_META: Readonly<Record<string, PatchMeta>> = {
  'v1/Pod': {
    fields: {
      metadata: OBJECT_META,
      spec: POD_SPEC,
      status: { fields: { conditions: CONDITIONS } },
    },
  },
  'v1/Service': {
    fields: { metadata: OBJECT_META, spec: { fields: { ports: mergeBy('port') } } },
  },
  // `subsets` has no patch strategy: replaced whole.
  'v1/Endpoints': { fields: { metadata: OBJECT_META } },
  'v1/ConfigMap': { fields: { metadata: OBJECT_META } },
  // `endpoints` and `ports` are `+listType=atomic`: replaced whole.
  'discovery.k8s.io/v1/EndpointSlice': { fields: { metadata: OBJECT_META } },
  'apps/v1/Deployment': {
    fields: {
      metadata: OBJECT_META,
      spec: { fields: { template: { fields: { metadata: OBJECT_META, spec: POD_SPEC } } } },
      status: { fields: { conditions: CONDITIONS } },
    },
  },
  'autoscaling/v1/Scale': { fields: { metadata: OBJECT_META } },
};

const DIRECTIVE = '$patch';
const RETAIN_KEYS = '$retainKeys';
const DELETE_FROM = '$deleteFromPrimitiveList/';
const ELEMENT_ORDER = '$setElementOrder/';

/** Applies a strategic merge patch to a copy of `original`, by the patch metadata of its type. */
export function strategicMergePatch(original: unknown, patch: unknown, meta: PatchMeta): unknown {
  if (!isObject(patch)) throw new PatchError(400, 'a strategic merge patch must be a JSON object');
  const merged = mergeMap(isObject(original) ? cloneJson(original) : {}, patch, meta);
  if (merged === undefined) throw new PatchError(422, 'the patch deleted the whole object');
  return merged;
}

/** Merges `patch` into `original` (a copy, changed in place); undefined when the patch deletes the map. */
function mergeMap(
  original: JsonObject,
  patch: JsonObject,
  meta: PatchMeta | undefined,
): JsonObject | undefined {
  const directive = patch[DIRECTIVE];
  if (directive === 'delete') return undefined;
  if (directive === 'replace') {
    const replaced = cloneJson(patch);
    delete replaced[DIRECTIVE];
    return replaced;
  }
  if (directive !== undefined && directive !== 'merge') {
    throw new PatchError(400, `Unknown patch type: ${String(directive)} in map: ${JSON.stringify(patch)}`);
  }
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith(DELETE_FROM)) {
      const field = key.slice(DELETE_FROM.length);
      const list = original[field];
      if (Array.isArray(value) && Array.isArray(list)) {
        original[field] = list.filter((item) => !value.includes(item));
      }
    }
  }
  for (const [key, value] of Object.entries(patch)) {
    if (
      key === DIRECTIVE ||
      key === RETAIN_KEYS ||
      key.startsWith(DELETE_FROM) ||
      key.startsWith(ELEMENT_ORDER)
    ) {
      continue;
    }
    const fieldMeta = meta?.fields?.[key];
    if (value === null) {
      delete original[key];
    } else if (isObject(value)) {
      const merged = mergeMap(isObject(original[key]) ? original[key] : {}, value, fieldMeta);
      if (merged === undefined) delete original[key];
      else original[key] = merged;
    } else if (Array.isArray(value) && fieldMeta?.merge && Array.isArray(original[key])) {
      original[key] = mergeList(original[key], value, fieldMeta);
    } else if (Array.isArray(value)) {
      original[key] = stripDirectives(value);
    } else {
      original[key] = value;
    }
  }
  const retain = patch[RETAIN_KEYS];
  if (retain !== undefined) {
    if (!Array.isArray(retain)) throw new PatchError(400, `${RETAIN_KEYS} must be a list`);
    for (const key of Object.keys(original)) if (!retain.includes(key)) delete original[key];
  }
  return original;
}

/** A list taken as it is (a new one, or one replaced whole), with `$patch` elements dropped. */
function stripDirectives(list: unknown[]): unknown[] {
  return list.filter((item) => !(isObject(item) && item[DIRECTIVE] !== undefined));
}

/** Merges a `patchStrategy:"merge"` list: objects by `mergeKey`, primitives as a set. */
function mergeList(original: unknown[], patch: unknown[], meta: PatchMeta): unknown[] {
  if (patch.some((item) => isObject(item) && item[DIRECTIVE] === 'replace')) {
    return stripDirectives(patch);
  }
  const key = meta.mergeKey;
  if (key === undefined) {
    const out = [...original];
    for (const item of patch) if (!out.includes(item)) out.push(item);
    return out;
  }
  const out = [...original];
  for (const item of patch) {
    if (!isObject(item)) throw new PatchError(400, `a list merged by ${key} holds a non-object`);
    if (!(key in item))
      throw new PatchError(400, `map: ${JSON.stringify(item)} does not contain declared merge key: ${key}`);
    const at = out.findIndex((o) => isObject(o) && o[key] === item[key]);
    if (item[DIRECTIVE] === 'delete') {
      if (at >= 0) out.splice(at, 1);
      continue;
    }
    if (at < 0) {
      const added = mergeMap({}, item, meta.items);
      if (added !== undefined) out.push(added);
      continue;
    }
    const merged = mergeMap(out[at] as JsonObject, item, meta.items);
    if (merged === undefined) out.splice(at, 1);
    else out[at] = merged;
  }
  return out;
}

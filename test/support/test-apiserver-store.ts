/**
 * The object store behind the in-process test API server: typed buckets of JSON objects, one global
 * resourceVersion, a bounded change history for resuming watches, and the API server's write rules
 * (optimistic concurrency, AlreadyExists, NotFound, subresources) answered as `kind: Status` errors.
 */
import { randomUUID } from 'node:crypto';
import { cloneJson, jsonPatch, mergePatch } from './test-apiserver-patch.js';
import {
  type FieldRequirement,
  type LabelRequirement,
  matchesFields,
  matchesLabels,
} from './test-apiserver-selectors.js';
import { STRATEGIC_PATCH_META, strategicMergePatch } from './test-apiserver-strategic.js';

/** A namespaced resource the server serves. */
export interface ResourceType {
  /** API group; `''` for core/v1. */
  readonly group: string;
  readonly version: string;
  /** The path segment, e.g. `endpointslices`. */
  readonly plural: string;
  readonly kind: string;
  /** Serves the `scale` subresource as an autoscaling/v1 Scale over `spec.replicas`. */
  readonly scalable?: boolean;
  /**
   * A custom resource (served from a CRD): an update must carry a resourceVersion, and strategic merge
   * patch is not accepted, as with the real API server's CRD handler.
   */
  readonly custom?: boolean;
}

/** The resources every server serves. */
export const DEFAULT_RESOURCES: readonly ResourceType[] = [
  { group: '', version: 'v1', plural: 'pods', kind: 'Pod' },
  { group: '', version: 'v1', plural: 'services', kind: 'Service' },
  { group: '', version: 'v1', plural: 'endpoints', kind: 'Endpoints' },
  { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap' },
  { group: 'discovery.k8s.io', version: 'v1', plural: 'endpointslices', kind: 'EndpointSlice' },
  { group: 'apps', version: 'v1', plural: 'deployments', kind: 'Deployment', scalable: true },
  { group: 'serving.knative.dev', version: 'v1', plural: 'revisions', kind: 'Revision', custom: true },
  {
    group: 'autoscaling.internal.knative.dev',
    version: 'v1alpha1',
    plural: 'podautoscalers',
    kind: 'PodAutoscaler',
    custom: true,
  },
  {
    group: 'autoscaling.internal.knative.dev',
    version: 'v1alpha1',
    plural: 'metrics',
    kind: 'Metric',
    custom: true,
  },
  {
    group: 'networking.internal.knative.dev',
    version: 'v1alpha1',
    plural: 'serverlessservices',
    kind: 'ServerlessService',
    custom: true,
  },
];

/** A `kind: Status` body, as the API server sends for errors and 410 watch events. */
export interface StatusBody {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure';
  message: string;
  reason: string;
  details?: StatusDetails;
  code: number;
}

/** The `details` of a Status: the object concerned and, for 422 Invalid, one cause per bad field. */
export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  causes?: StatusCause[];
}

/** One problem with one field, as `field.Error` becomes a `StatusCause`. */
export interface StatusCause {
  /** `FieldValueRequired`, `FieldValueInvalid`, `FieldValueNotSupported`, … */
  reason: string;
  /** The error without the field: `Invalid value: "x": must be …`. */
  message: string;
  /** `metadata.name`, `endpoints[0].addresses`. */
  field: string;
}

/** Object metadata as stored. */
export interface Metadata {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  labels?: Record<string, string>;
  [key: string]: unknown;
}

/** A stored object, in JSON form. */
export interface Obj {
  apiVersion?: string;
  kind?: string;
  metadata: Metadata;
  [key: string]: unknown;
}

/** The type of a watch event carrying an object. */
export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** One change, as kept in the history. */
export interface ChangeEvent {
  readonly rv: number;
  readonly type: ResourceType;
  readonly eventType: EventType;
  readonly object: Obj;
  /** The object before the change, so a selector watch can turn a label change into ADDED or DELETED. */
  readonly previous: Obj | undefined;
}

/** An error answered as a Status body. */
export class StatusError extends Error {
  readonly body: StatusBody;

  constructor(body: StatusBody) {
    super(body.message);
    this.name = 'StatusError';
    this.body = body;
  }
}

const REASONS: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  409: 'Conflict',
  410: 'Expired',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

/** Builds a `kind: Status` failure body; the reason defaults to the API server's for the code. */
export function statusBody(
  code: number,
  message: string,
  reason?: string,
  details?: StatusDetails,
): StatusBody {
  const body: StatusBody = {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason: reason ?? REASONS[code] ?? 'Unknown',
    code,
  };
  if (details) body.details = details;
  return body;
}

/** `group/version/plural`. */
export function typeKey(type: ResourceType): string {
  return `${type.group}/${type.version}/${type.plural}`;
}

/** `v1`, `apps/v1`. */
export function apiVersionOf(type: ResourceType): string {
  return type.group === '' ? type.version : `${type.group}/${type.version}`;
}

/** `pods`, `deployments.apps`: how the API server names a resource in messages. */
export function qualified(type: ResourceType): string {
  return type.group === '' ? type.plural : `${type.plural}.${type.group}`;
}

function details(type: ResourceType, name: string): StatusDetails {
  return { name, group: type.group, kind: type.plural };
}

/** A 404 NotFound for a named object. */
export function notFound(type: ResourceType, name: string): StatusError {
  return new StatusError(
    statusBody(404, `${qualified(type)} "${name}" not found`, 'NotFound', details(type, name)),
  );
}

/** A 409 Conflict: the write was based on an old resourceVersion. */
export function conflict(type: ResourceType, name: string): StatusError {
  const message = `Operation cannot be fulfilled on ${qualified(type)} "${name}": the object has been modified; please apply your changes to the latest version and try again`;
  return new StatusError(statusBody(409, message, 'Conflict', details(type, name)));
}

/**
 * A 422 Invalid listing every bad field, worded as `apierrors.NewInvalid` words it:
 * `EndpointSlice.discovery.k8s.io "s" is invalid: [endpoints[0].addresses: Required value, …]`. `kind`
 * is the Kind for validation errors, the plural where the generic store reports them (resourceVersion).
 */
export function invalid(
  type: ResourceType,
  name: string,
  causes: readonly StatusCause[],
  kind: string = type.kind,
): StatusError {
  const qualifiedKind = type.group === '' ? kind : `${kind}.${type.group}`;
  const lines = causes.map((c) => `${c.field}: ${c.message}`);
  const aggregate = lines.length === 1 ? lines[0] : `[${lines.join(', ')}]`;
  return new StatusError(
    statusBody(422, `${qualifiedKind} "${name}" is invalid: ${aggregate}`, 'Invalid', {
      name,
      group: type.group,
      kind,
      causes: [...causes],
    }),
  );
}

/** A 400 BadRequest. */
export function badRequest(message: string): StatusError {
  return new StatusError(statusBody(400, message));
}

/** A plain JSON object (not null, not an array). */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The optimistic concurrency of an update (PUT): a resourceVersion other than the stored one is a 409
 * Conflict; none at all is an unconditional update for the built-in types that allow it and a 422 for
 * custom resources, whose strategy has `AllowUnconditionalUpdate` false (`registry/store.go` Update).
 */
function checkUpdateVersion(
  type: ResourceType,
  name: string,
  resourceVersion: string | undefined,
  stored: Obj,
): void {
  if (!resourceVersion) {
    if (!type.custom) return;
    const cause = {
      reason: 'FieldValueInvalid',
      message: 'Invalid value: 0x0: must be specified for an update',
      field: 'metadata.resourceVersion',
    };
    throw invalid(type, name, [cause], type.plural);
  }
  if (resourceVersion !== stored.metadata.resourceVersion) throw conflict(type, name);
}

/** Kubernetes timestamps have second precision. */
function timestamp(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

/** Whether an object is in a namespace (any when undefined) and matches the selectors. */
export function matches(
  obj: Obj,
  namespace: string | undefined,
  labels: readonly LabelRequirement[],
  fields: readonly FieldRequirement[],
): boolean {
  return (
    (namespace === undefined || obj.metadata.namespace === namespace) &&
    matchesLabels(labels, obj.metadata.labels) &&
    matchesFields(fields, obj.metadata)
  );
}

/** An autoscaling/v1 Scale view of an object with `spec.replicas`. */
export function scaleOf(obj: Obj): Obj {
  const spec = isObject(obj['spec']) ? obj['spec'] : {};
  const status = isObject(obj['status']) ? obj['status'] : {};
  const selector = isObject(spec['selector']) ? spec['selector'] : {};
  const matchLabels = isObject(selector['matchLabels']) ? selector['matchLabels'] : {};
  const { name, namespace, uid, resourceVersion, creationTimestamp } = obj.metadata;
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: { name, namespace, uid, resourceVersion, creationTimestamp },
    spec: { replicas: typeof spec['replicas'] === 'number' ? spec['replicas'] : 1 },
    status: {
      replicas: typeof status['replicas'] === 'number' ? status['replicas'] : 0,
      selector: Object.entries(matchLabels)
        .map(([k, v]) => `${k}=${String(v)}`)
        .join(','),
    },
  };
}

/**
 * Applies a patch body of the given content type to a copy of `current`, an object of `type` (or its
 * Scale). Strategic merge patch merges lists by the type's patch metadata; custom resources do not
 * accept it (415), as the CRD handler does not.
 */
export function applyPatch(type: ResourceType, current: Obj, contentType: string, patch: unknown): Obj {
  const media = contentType.split(';')[0]!.trim().toLowerCase();
  const accepted = [
    'application/json-patch+json',
    'application/merge-patch+json',
    'application/apply-patch+yaml',
    ...(type.custom ? [] : ['application/strategic-merge-patch+json']),
  ];
  let patched: unknown;
  if (media === 'application/merge-patch+json') patched = mergePatch(current, patch);
  else if (media === 'application/json-patch+json') patched = jsonPatch(current, patch);
  else if (media === 'application/strategic-merge-patch+json' && !type.custom) {
    const meta = STRATEGIC_PATCH_META[`${current.apiVersion}/${current.kind}`] ?? {};
    patched = strategicMergePatch(current, patch, meta);
  } else {
    throw new StatusError(
      statusBody(
        415,
        `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`,
      ),
    );
  }
  if (!isObject(patched) || !isObject(patched['metadata'])) {
    throw new StatusError(statusBody(422, 'metadata: Required value: the patch removed metadata'));
  }
  return patched as Obj;
}

/** The objects of a bucket (keyed `namespace/name`) matching, sorted by key as etcd lists them. */
function sortedMatching(
  bucket: ReadonlyMap<string, Obj>,
  namespace: string | undefined,
  labels: readonly LabelRequirement[],
  fields: readonly FieldRequirement[],
): Obj[] {
  return [...bucket.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, o]) => o)
    .filter((o) => matches(o, namespace, labels, fields));
}

/**
 * Stored objects by type, one global resourceVersion and the recent changes. Every change goes to
 * `onChange` synchronously, so a watch that replays the history and then subscribes misses nothing.
 */
export class ObjectStore {
  /** Types served, by {@link typeKey}. */
  readonly types = new Map<string, ResourceType>();
  private readonly objects = new Map<string, Map<string, Obj>>();
  private events: ChangeEvent[] = [];
  private lastRv = 0;
  /** Changes up to this resourceVersion are no longer in the history. */
  private compactedRv = 0;

  constructor(
    types: readonly ResourceType[],
    private readonly historyLimit: number,
    private readonly onChange: (event: ChangeEvent) => void,
  ) {
    for (const type of types) {
      this.types.set(typeKey(type), type);
      this.objects.set(typeKey(type), new Map());
    }
  }

  /** The resourceVersion of the latest change. */
  get resourceVersion(): number {
    return this.lastRv;
  }

  /** The type with this kind (`EndpointSlice`) or plural (`endpointslices`). */
  typeOfKind(kind: string): ResourceType {
    for (const type of this.types.values()) {
      if (type.kind === kind || type.plural === kind.toLowerCase()) return type;
    }
    throw new Error(`TestApiServer does not serve ${kind}`);
  }

  /** The type with this apiVersion and kind. */
  typeOf(apiVersion: string | undefined, kind: string | undefined): ResourceType {
    for (const type of this.types.values()) {
      if (type.kind === kind && apiVersionOf(type) === apiVersion) return type;
    }
    throw new Error(`TestApiServer does not serve ${apiVersion} ${kind}`);
  }

  /** The stored object itself (not a copy), or undefined. */
  get(type: ResourceType, namespace: string, name: string): Obj | undefined {
    return this.objects.get(typeKey(type))!.get(`${namespace}/${name}`);
  }

  /** Stored objects matching, sorted by namespace and name. */
  select(
    type: ResourceType,
    namespace: string | undefined,
    labels: readonly LabelRequirement[],
    fields: readonly FieldRequirement[],
  ): Obj[] {
    return sortedMatching(this.objects.get(typeKey(type))!, namespace, labels, fields);
  }

  /**
   * Like {@link select}, as the objects were at resourceVersion `rv` (rebuilt by undoing the later
   * changes), or undefined when the history no longer reaches back to it: the consistent snapshot a
   * paginated list continues from, as etcd serves a continue token's revision until it is compacted.
   */
  selectAt(
    type: ResourceType,
    rv: number,
    namespace: string | undefined,
    labels: readonly LabelRequirement[],
    fields: readonly FieldRequirement[],
  ): Obj[] | undefined {
    if (rv < this.compactedRv || rv > this.lastRv) return undefined;
    const bucket = new Map(this.objects.get(typeKey(type))!);
    for (let i = this.events.length - 1; i >= 0 && this.events[i]!.rv > rv; i--) {
      const e = this.events[i]!;
      if (typeKey(e.type) !== typeKey(type)) continue;
      const key = `${e.object.metadata.namespace}/${e.object.metadata.name}`;
      if (e.eventType === 'ADDED') bucket.delete(key);
      else bucket.set(key, e.previous!);
    }
    return sortedMatching(bucket, namespace, labels, fields);
  }

  /** The retained changes after `rv`, or undefined when some of them were dropped (410 Expired). */
  changesSince(rv: number): ChangeEvent[] | undefined {
    if (rv < this.compactedRv) return undefined;
    return this.events.filter((e) => e.rv > rv);
  }

  /** The oldest resourceVersion a watch can still resume from. */
  get oldestResumable(): number {
    return this.compactedRv;
  }

  /** Drops the retained history. */
  compact(): void {
    this.events = [];
    this.compactedRv = this.lastRv;
  }

  /** Creates an object; 409 AlreadyExists when the name is taken. */
  create(type: ResourceType, namespace: string, body: unknown): Obj {
    if (!isObject(body)) throw badRequest('the request body must be a JSON object');
    const obj = cloneJson(body) as Obj;
    if (!isObject(obj.metadata)) obj.metadata = {};
    const meta = obj.metadata;
    if (meta.namespace !== undefined && meta.namespace !== namespace) {
      throw badRequest(
        'the namespace of the provided object does not match the namespace sent on the request',
      );
    }
    if (!meta.name && meta.generateName) meta.name = `${meta.generateName}${randomUUID().slice(0, 5)}`;
    if (!meta.name) {
      throw new StatusError(
        statusBody(422, 'metadata.name: Required value: name or generateName is required'),
      );
    }
    if (this.get(type, namespace, meta.name)) {
      const message = `${qualified(type)} "${meta.name}" already exists`;
      throw new StatusError(statusBody(409, message, 'AlreadyExists', details(type, meta.name)));
    }
    obj.apiVersion = apiVersionOf(type);
    obj.kind = type.kind;
    meta.namespace = namespace;
    meta.uid = randomUUID();
    meta.creationTimestamp = timestamp();
    meta.generation = 1;
    return this.commit(type, 'ADDED', obj, undefined);
  }

  /**
   * Replaces a stored object. With `checkVersion` (an update from a client) the body's resourceVersion
   * is checked as the API server checks it (see `checkUpdateVersion`).
   */
  replace(type: ResourceType, namespace: string, name: string, body: unknown, checkVersion: boolean): Obj {
    if (!isObject(body)) throw badRequest('the request body must be a JSON object');
    const previous = this.get(type, namespace, name);
    if (!previous) throw notFound(type, name);
    const next = cloneJson(body) as Obj;
    if (!isObject(next.metadata)) next.metadata = {};
    const meta = next.metadata;
    if (meta.name !== undefined && meta.name !== name) {
      throw badRequest(`the name of the object (${meta.name}) does not match the name on the URL (${name})`);
    }
    if (meta.namespace !== undefined && meta.namespace !== namespace) {
      throw badRequest(
        'the namespace of the provided object does not match the namespace sent on the request',
      );
    }
    if (checkVersion) checkUpdateVersion(type, name, meta.resourceVersion, previous);
    next.apiVersion = apiVersionOf(type);
    next.kind = type.kind;
    meta.name = name;
    meta.namespace = namespace;
    meta.uid = previous.metadata.uid;
    meta.creationTimestamp = previous.metadata.creationTimestamp;
    meta.resourceVersion = previous.metadata.resourceVersion;
    meta.generation = previous.metadata.generation;
    // A write that changes nothing keeps the resourceVersion and sends no event, as the API server does.
    if (JSON.stringify(next) === JSON.stringify(previous)) return cloneJson(previous);
    if (JSON.stringify(next['spec']) !== JSON.stringify(previous['spec'])) {
      meta.generation = (meta.generation ?? 0) + 1;
    }
    return this.commit(type, 'MODIFIED', next, previous);
  }

  /**
   * Writes the `status` or `scale` subresource of `current` from `body`: only `.status`, or only
   * `spec.replicas`. Returns the object, or its Scale.
   */
  writeSubresource(
    type: ResourceType,
    current: Obj,
    sub: 'status' | 'scale',
    body: unknown,
    checkVersion: boolean,
  ): Obj {
    const { name, namespace } = current.metadata as { name: string; namespace: string };
    if (!isObject(body)) throw badRequest('the request body must be a JSON object');
    const meta = isObject(body['metadata']) ? (body['metadata'] as Metadata) : {};
    if (checkVersion) checkUpdateVersion(type, name, meta.resourceVersion, current);
    const next = cloneJson(current);
    if (sub === 'status') {
      next['status'] = body['status'];
      return this.replace(type, namespace, name, next, false);
    }
    const replicas = isObject(body['spec']) ? body['spec']['replicas'] : undefined;
    if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) {
      throw new StatusError(statusBody(422, 'spec.replicas: Invalid value: must be a non-negative integer'));
    }
    next['spec'] = { ...(isObject(next['spec']) ? next['spec'] : {}), replicas };
    return scaleOf(this.replace(type, namespace, name, next, false));
  }

  /** Deletes an object, honouring `preconditions` of a DeleteOptions body; returns its final state. */
  remove(type: ResourceType, current: Obj, options?: unknown): Obj {
    const pre = isObject(options) && isObject(options['preconditions']) ? options['preconditions'] : {};
    if (
      (pre['resourceVersion'] !== undefined && pre['resourceVersion'] !== current.metadata.resourceVersion) ||
      (pre['uid'] !== undefined && pre['uid'] !== current.metadata.uid)
    ) {
      throw conflict(type, current.metadata.name!);
    }
    return this.commit(type, 'DELETED', cloneJson(current), current);
  }

  /** Stamps the next resourceVersion, stores the change, records it and reports it. */
  private commit(type: ResourceType, eventType: EventType, object: Obj, previous: Obj | undefined): Obj {
    this.lastRv++;
    object.metadata.resourceVersion = String(this.lastRv);
    const bucket = this.objects.get(typeKey(type))!;
    const key = `${object.metadata.namespace}/${object.metadata.name}`;
    if (eventType === 'DELETED') bucket.delete(key);
    else bucket.set(key, object);
    const event: ChangeEvent = { rv: this.lastRv, type, eventType, object, previous };
    this.events.push(event);
    while (this.events.length > this.historyLimit) this.compactedRv = this.events.shift()!.rv;
    this.onChange(event);
    return cloneJson(object);
  }
}

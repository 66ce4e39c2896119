/**
 * The `admission.k8s.io/v1` AdmissionReview exchange: checking what the API server sent and writing the
 * answer. Anything that is not a well-formed review is refused with a 400 and a one-line text body, from
 * core's table of coded errors.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { ZerogateError } from '@zerogate/core';
import type { JsonPatchOperation } from './json-patch.js';

/**
 * The API server refuses request bodies over 3 MiB; a review of a Pod is far smaller. Core's
 * `BODY_TOO_LARGE` answer names this number.
 */
export const MAX_BODY_BYTES = 3 * 1024 * 1024;

const API_VERSION = 'admission.k8s.io/v1';
const KIND = 'AdmissionReview';

/** What the injector needs from one admission request. */
export interface AdmissionRequest {
  readonly uid: string;
  /** The namespace the object is created in (the object's own field may be empty at admission). */
  readonly namespace: string;
  readonly operation: string;
  /** No side effects may follow: the API server will not persist the object. */
  readonly dryRun: boolean;
  /** A Pod creation, the only request the injector acts on; others are admitted unchanged. */
  readonly podCreate: boolean;
  /** `group/version/resource`, for the log. */
  readonly resource: string;
  /** The Pod, when {@link podCreate}. */
  readonly pod: V1Pod | undefined;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** True when the media type of a Content-Type header is `application/json` (parameters allowed). */
export function isJsonContentType(header: string | undefined): boolean {
  return (header ?? '').split(';')[0]!.trim().toLowerCase() === 'application/json';
}

/** Checks that `value` has the shape of a Pod as far as the injector reads it. */
function podProblem(value: unknown): string | undefined {
  if (!isObject(value)) return 'not an object';
  if (value['metadata'] !== undefined && !isObject(value['metadata'])) return 'metadata is not an object';
  const meta = (value['metadata'] ?? {}) as Json;
  for (const key of ['labels', 'annotations'] as const) {
    if (meta[key] !== undefined && meta[key] !== null && !isObject(meta[key]))
      return `metadata.${key} is not an object`;
  }
  const spec = value['spec'];
  if (!isObject(spec)) return 'spec is not an object';
  for (const key of ['containers', 'initContainers'] as const) {
    const list = spec[key];
    if ((list === undefined || list === null) && key === 'initContainers') continue;
    if (!Array.isArray(list)) return `spec.${key} is not a list`;
    for (const c of list) {
      if (!isObject(c) || typeof c['name'] !== 'string') return `spec.${key} has an entry without a name`;
      if (c['ports'] !== undefined && !Array.isArray(c['ports']))
        return `spec.${key}[${c['name']}].ports is not a list`;
      if (c['env'] !== undefined && !Array.isArray(c['env']))
        return `spec.${key}[${c['name']}].env is not a list`;
    }
  }
  return undefined;
}

/**
 * Parses a request body as an AdmissionReview. Throws a {@link ZerogateError}: MALFORMED_JSON, NOT_A_REVIEW
 * (another apiVersion or kind; v1beta1 is not served), NO_REQUEST, or NOT_A_POD for a Pod creation whose
 * object is not shaped like a Pod.
 */
export function parseAdmissionReview(text: string): AdmissionRequest {
  let review: unknown;
  try {
    review = JSON.parse(text);
  } catch (err) {
    throw new ZerogateError('MALFORMED_JSON', undefined, { cause: err });
  }
  if (!isObject(review) || review['apiVersion'] !== API_VERSION || review['kind'] !== KIND) {
    const got = isObject(review)
      ? `${JSON.stringify(review['apiVersion'] ?? null)}, ${JSON.stringify(review['kind'] ?? null)}`
      : 'no object';
    throw new ZerogateError('NOT_A_REVIEW', got);
  }
  const request = review['request'];
  if (!isObject(request) || typeof request['uid'] !== 'string' || request['uid'] === '') {
    throw new ZerogateError('NO_REQUEST');
  }
  const resource = isObject(request['resource']) ? request['resource'] : {};
  const operation = typeof request['operation'] === 'string' ? request['operation'] : '';
  const podCreate =
    (resource['group'] ?? '') === '' &&
    resource['resource'] === 'pods' &&
    (request['subResource'] ?? '') === '' &&
    operation === 'CREATE';
  const object = request['object'];
  let pod: V1Pod | undefined;
  if (podCreate) {
    const problem = podProblem(object);
    if (problem) throw new ZerogateError('NOT_A_POD', problem);
    pod = object as V1Pod;
  }
  const objectNamespace =
    isObject(object) && isObject(object['metadata']) ? object['metadata']['namespace'] : '';
  const namespace =
    typeof request['namespace'] === 'string' && request['namespace'] !== ''
      ? request['namespace']
      : typeof objectNamespace === 'string'
        ? objectNamespace
        : '';
  return {
    uid: request['uid'],
    namespace,
    operation,
    dryRun: request['dryRun'] === true,
    podCreate,
    resource: `${String(resource['group'] ?? '')}/${String(resource['version'] ?? '')}/${String(resource['resource'] ?? '')}`,
    pod,
  };
}

/** The decision to send back. */
export type AdmissionAnswer =
  | {
      readonly allowed: true;
      readonly patch?: readonly JsonPatchOperation[];
      readonly warnings?: readonly string[];
    }
  | { readonly allowed: false; readonly message: string; readonly warnings?: readonly string[] };

/** The status code of a denial: the Pod as written is not acceptable. */
const DENIED_CODE = 422;

/**
 * The AdmissionReview answering `uid`: a base64 JSONPatch when there is something to change, warnings
 * when there are any, and for a denial a status whose message the API server shows to the client.
 */
export function admissionResponse(uid: string, answer: AdmissionAnswer): string {
  const response: Json = { uid, allowed: answer.allowed };
  if (answer.allowed) {
    if (answer.patch && answer.patch.length > 0) {
      response['patchType'] = 'JSONPatch';
      response['patch'] = Buffer.from(JSON.stringify(answer.patch)).toString('base64');
    }
  } else {
    response['status'] = { code: DENIED_CODE, reason: 'Invalid', message: answer.message };
  }
  if (answer.warnings && answer.warnings.length > 0) response['warnings'] = [...answer.warnings];
  return JSON.stringify({ apiVersion: API_VERSION, kind: KIND, response });
}

/**
 * What the API server does to an object a client writes before storing it, for the in-process test API
 * server: decoding (unknown fields dropped with a warning, or a 400 under `fieldValidation=Strict`; a
 * wrong type a 400), defaulting, and validation (a 422 Invalid naming every bad field). Built-in kinds
 * follow `pkg/apis/<group>/validation` and `v1/defaults.go` of Kubernetes for the fields the components
 * write: ObjectMeta (name format, labels, annotations) for every kind, EndpointSlices, Services.
 */
import { isIP } from 'node:net';
import { validate as deploymentSchema } from 'kubernetes-models/_schemas/IoK8sApiAppsV1Deployment';
import { validate as configMapSchema } from 'kubernetes-models/_schemas/IoK8sApiCoreV1ConfigMap';
import { validate as endpointsSchema } from 'kubernetes-models/_schemas/IoK8sApiCoreV1Endpoints';
import { validate as podSchema } from 'kubernetes-models/_schemas/IoK8sApiCoreV1Pod';
import { validate as serviceSchema } from 'kubernetes-models/_schemas/IoK8sApiCoreV1Service';
import { validate as endpointSliceSchema } from 'kubernetes-models/_schemas/IoK8sApiDiscoveryV1EndpointSlice';
import { strictCheck } from './manifests-schema.js';
import {
  apiVersionOf,
  badRequest,
  invalid,
  isObject,
  type Obj,
  type ResourceType,
  type StatusCause,
} from './test-apiserver-store.js';

/** Options of {@link admit}. */
export interface AdmitOptions {
  /** The `fieldValidation` query parameter: `Strict`, `Warn` (the default) or `Ignore`. */
  readonly fieldValidation: string | undefined;
  /**
   * Accept loopback endpoint addresses (127.0.0.0/8, ::1), which the real API server refuses: on one
   * machine every Pod and activator lives on loopback.
   */
  readonly loopbackEndpoints: boolean;
}

/** The OpenAPI schema of each built-in kind, for the decoding step: unknown fields and wrong types. */
const SCHEMAS: Readonly<Record<string, (data: unknown) => boolean>> = {
  'v1/ConfigMap': configMapSchema,
  'v1/Endpoints': endpointsSchema,
  'v1/Pod': podSchema,
  'v1/Service': serviceSchema,
  'discovery.k8s.io/v1/EndpointSlice': endpointSliceSchema,
  'apps/v1/Deployment': deploymentSchema,
};

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** `k8s.io/apimachinery/pkg/util/validation` messages, examples and all. */
const MESSAGES = {
  dns1123Label:
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
  dns1123Subdomain:
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
  dns1035Label:
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
  qualifiedNamePart:
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
  qualifiedName:
    "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
  labelValue:
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
};

/** Collects `field.Error`s as Status causes, each worded as its `ErrorBody`. */
class FieldErrors {
  readonly causes: StatusCause[] = [];

  required(field: string, detail = ''): void {
    this.causes.push({
      reason: 'FieldValueRequired',
      message: detail ? `Required value: ${detail}` : 'Required value',
      field,
    });
  }

  invalid(field: string, value: unknown, detail: string): void {
    this.causes.push({
      reason: 'FieldValueInvalid',
      message: `Invalid value: ${JSON.stringify(value)}: ${detail}`,
      field,
    });
  }

  notSupported(field: string, value: unknown, supported: readonly string[]): void {
    const values = supported.map((s) => JSON.stringify(s)).join(', ');
    this.causes.push({
      reason: 'FieldValueNotSupported',
      message: `Unsupported value: ${JSON.stringify(value)}: supported values: ${values}`,
      field,
    });
  }

  duplicate(field: string, value: unknown): void {
    this.causes.push({
      reason: 'FieldValueDuplicate',
      message: `Duplicate value: ${JSON.stringify(value)}`,
      field,
    });
  }

  tooMany(field: string, actual: number, max: number): void {
    this.causes.push({
      reason: 'FieldValueTooMany',
      message: `Too many: ${actual}: must have at most ${max} items`,
      field,
    });
  }
}

function checkLength(value: string, max: number): string[] {
  return value.length > max ? [`must be no more than ${max} characters`] : [];
}

function isDns1123Label(value: string): string[] {
  return [...checkLength(value, 63), ...(DNS1123_LABEL.test(value) ? [] : [MESSAGES.dns1123Label])];
}

function isDns1123Subdomain(value: string): string[] {
  return [...checkLength(value, 253), ...(DNS1123_SUBDOMAIN.test(value) ? [] : [MESSAGES.dns1123Subdomain])];
}

function isDns1035Label(value: string): string[] {
  return [...checkLength(value, 63), ...(DNS1035_LABEL.test(value) ? [] : [MESSAGES.dns1035Label])];
}

/** `IsQualifiedName`: `[prefix/]name`, the prefix a DNS subdomain. */
function isQualifiedName(value: string): string[] {
  const parts = value.split('/');
  if (parts.length > 2) return [MESSAGES.qualifiedName];
  const name = parts.at(-1)!;
  const errors: string[] = [];
  if (parts.length === 2) {
    const prefix = parts[0]!;
    if (prefix === '') errors.push('prefix part must be non-empty');
    else errors.push(...isDns1123Subdomain(prefix).map((m) => `prefix part ${m}`));
  }
  if (name === '') errors.push('name part must be non-empty');
  else if (name.length > 63) errors.push('name part must be no more than 63 characters');
  if (name !== '' && !QUALIFIED_NAME.test(name)) errors.push(MESSAGES.qualifiedNamePart);
  return errors;
}

function isLabelValue(value: string): string[] {
  return [...checkLength(value, 63), ...(LABEL_VALUE.test(value) ? [] : [MESSAGES.labelValue])];
}

/** `ValidateLabels`. */
function validateLabels(labels: unknown, field: string, errs: FieldErrors): void {
  if (!isObject(labels)) return;
  for (const [key, value] of Object.entries(labels)) {
    for (const m of isQualifiedName(key)) errs.invalid(field, key, m);
    for (const m of isLabelValue(String(value))) errs.invalid(field, value, m);
  }
}

/** `ValidateObjectMeta` for a namespaced object: the name (by the kind's rule), labels, annotations. */
function validateObjectMeta(obj: Obj, nameRule: (name: string) => string[], errs: FieldErrors): void {
  const meta = obj.metadata;
  if (meta.name !== undefined) {
    for (const m of nameRule(meta.name)) errs.invalid('metadata.name', meta.name, m);
  }
  if (meta.generateName !== undefined && meta.name === undefined) {
    // A prefix may end with a dash: the random suffix follows.
    const masked = meta.generateName.endsWith('-') ? `${meta.generateName.slice(0, -1)}a` : meta.generateName;
    for (const m of nameRule(masked)) errs.invalid('metadata.generateName', meta.generateName, m);
  }
  validateLabels(meta.labels, 'metadata.labels', errs);
  const annotations = meta['annotations'];
  if (isObject(annotations)) {
    let size = 0;
    for (const [key, value] of Object.entries(annotations)) {
      for (const m of isQualifiedName(key.toLowerCase())) errs.invalid('metadata.annotations', key, m);
      size += key.length + String(value).length;
    }
    if (size > 256 * 1024) {
      errs.causes.push({
        reason: 'FieldValueTooLong',
        message: `Too long: may not be more than ${256 * 1024} bytes`,
        field: 'metadata.annotations',
      });
    }
  }
}

const PROTOCOLS = ['SCTP', 'TCP', 'UDP'];
const ADDRESS_TYPES = ['FQDN', 'IPv4', 'IPv6'];

/** `ValidateEndpointIP`: no unspecified, loopback or link-local address. */
function validateEndpointIp(address: string, field: string, loopback: boolean, errs: FieldErrors): void {
  const v4 = isIP(address) === 4 ? address.split('.').map(Number) : undefined;
  const lower = address.toLowerCase();
  if (address === '0.0.0.0' || lower === '::')
    errs.invalid(field, address, `may not be unspecified (${address})`);
  if (!loopback && (v4?.[0] === 127 || lower === '::1')) {
    errs.invalid(field, address, 'may not be in the loopback range (127.0.0.0/8, ::1/128)');
  }
  if ((v4?.[0] === 169 && v4[1] === 254) || /^fe[89ab]/.test(lower)) {
    errs.invalid(field, address, 'may not be in the link-local range (169.254.0.0/16, fe80::/10)');
  }
  if ((v4?.[0] === 224 && v4[1] === 0 && v4[2] === 0) || lower.startsWith('ff02:')) {
    errs.invalid(field, address, 'may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)');
  }
}

/** `SetDefaults_EndpointPort`, then `ValidateEndpointSlice` (`pkg/apis/discovery/validation`). */
function endpointSlice(obj: Obj, previous: Obj | undefined, options: AdmitOptions, errs: FieldErrors): void {
  const ports = Array.isArray(obj['ports']) ? (obj['ports'] as unknown[]) : [];
  for (const p of ports) {
    if (!isObject(p)) continue;
    p['name'] ??= '';
    p['protocol'] ??= 'TCP';
  }
  const addressType = obj['addressType'];
  if (addressType === undefined || addressType === '') errs.required('addressType');
  else if (!ADDRESS_TYPES.includes(String(addressType))) {
    errs.notSupported('addressType', addressType, ADDRESS_TYPES);
  }
  if (previous !== undefined && previous['addressType'] !== addressType) {
    errs.invalid('addressType', addressType, 'field is immutable');
  }
  const names: string[] = [];
  ports.forEach((p, i) => {
    if (!isObject(p)) return;
    const name = String(p['name']);
    if (name !== '') for (const m of isDns1123Label(name)) errs.invalid(`ports[${i}].name`, name, m);
    if (names.includes(name)) errs.duplicate(`ports[${i}].name`, name);
    else names.push(name);
    if (!PROTOCOLS.includes(String(p['protocol']))) {
      errs.notSupported(`ports[${i}].protocol`, p['protocol'], PROTOCOLS);
    }
  });
  const endpoints = Array.isArray(obj['endpoints']) ? (obj['endpoints'] as unknown[]) : [];
  // Endpoints an update leaves as they were are not checked again (older servers may have taken them).
  if (
    previous !== undefined &&
    JSON.stringify(previous['endpoints'] ?? null) === JSON.stringify(obj['endpoints'] ?? null)
  ) {
    return;
  }
  if (endpoints.length > 1000) {
    errs.tooMany('endpoints', endpoints.length, 1000);
    return;
  }
  endpoints.forEach((e, i) => {
    const field = `endpoints[${i}].addresses`;
    const addresses = isObject(e) && Array.isArray(e['addresses']) ? (e['addresses'] as unknown[]) : [];
    if (addresses.length === 0) errs.required(field, 'must contain at least 1 address');
    else if (addresses.length > 100) errs.tooMany(field, addresses.length, 100);
    addresses.forEach((a, j) => {
      const address = String(a);
      if (addressType === 'IPv4' || addressType === 'IPv6') {
        const family = isIP(address);
        if (family === 0) {
          errs.invalid(
            `${field}[${j}]`,
            address,
            'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
          );
          return;
        }
        if (addressType === 'IPv4' && family !== 4) errs.invalid(field, address, 'must be an IPv4 address');
        if (addressType === 'IPv6' && family !== 6) errs.invalid(field, address, 'must be an IPv6 address');
        validateEndpointIp(address, `${field}[${j}]`, options.loopbackEndpoints, errs);
      }
    });
    if (isObject(e) && typeof e['hostname'] === 'string') {
      for (const m of isDns1123Label(e['hostname']))
        errs.invalid(`endpoints[${i}].hostname`, e['hostname'], m);
    }
  });
}

const SERVICE_TYPES = ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort'];

/** `SetDefaults_Service` (the fields a client leaves out), then `ValidateService` for spec and ports. */
function service(obj: Obj, errs: FieldErrors): void {
  if (!isObject(obj['spec'])) obj['spec'] = {};
  const spec = obj['spec'] as Record<string, unknown>;
  spec['type'] ??= 'ClusterIP';
  spec['sessionAffinity'] ??= 'None';
  const ports = Array.isArray(spec['ports']) ? (spec['ports'] as unknown[]) : [];
  for (const p of ports) {
    if (!isObject(p)) continue;
    p['protocol'] ??= 'TCP';
    p['targetPort'] ??= p['port'];
  }
  const headless = spec['clusterIP'] === 'None';
  if (ports.length === 0 && !headless && spec['type'] !== 'ExternalName') errs.required('spec.ports');
  if (!SERVICE_TYPES.includes(String(spec['type'])))
    errs.notSupported('spec.type', spec['type'], SERVICE_TYPES);
  const names: string[] = [];
  ports.forEach((p, i) => {
    if (!isObject(p)) return;
    const at = `spec.ports[${i}]`;
    const name = typeof p['name'] === 'string' ? p['name'] : '';
    if (ports.length > 1 && name === '') errs.required(`${at}.name`);
    else if (name !== '') {
      for (const m of isDns1123Label(name)) errs.invalid(`${at}.name`, name, m);
      if (names.includes(name)) errs.duplicate(`${at}.name`, name);
      else names.push(name);
    }
    const port = p['port'];
    if (!(typeof port === 'number' && port >= 1 && port <= 65535)) {
      errs.invalid(`${at}.port`, port ?? 0, 'must be between 1 and 65535, inclusive');
    }
    if (!PROTOCOLS.includes(String(p['protocol'])))
      errs.notSupported(`${at}.protocol`, p['protocol'], PROTOCOLS);
    const target = p['targetPort'];
    if (typeof target === 'number' && !(target >= 1 && target <= 65535)) {
      errs.invalid(`${at}.targetPort`, target, 'must be between 1 and 65535, inclusive');
    }
  });
  validateLabels(spec['selector'], 'spec.selector', errs);
}

/** Splits a strict-check path (`.spec.ports[0].foo`) into keys and indexes. */
function pathTokens(path: string): (string | number)[] {
  return [...path.matchAll(/\.([^.[]+)|\[(\d+)\]/g)].map((m) => (m[2] === undefined ? m[1]! : Number(m[2])));
}

/**
 * Decodes a written object as the API server's JSON decoder does: a wrong type is a 400, an unknown
 * field a 400 under `Strict` and otherwise dropped, with a warning under `Warn`. Returns the warnings.
 */
function decode(type: ResourceType, obj: Obj, fieldValidation: string | undefined): string[] {
  const schema = SCHEMAS[`${apiVersionOf(type)}/${type.kind}`];
  if (!schema) return [];
  const unknown: [string, string][] = [];
  const { errors } = strictCheck(obj, schema, '', (at, key) => {
    unknown.push([at, key]);
    return true;
  });
  const typeError = errors.find((e) => / type \{/.test(e));
  if (typeError) {
    const [where] = typeError.split(' ');
    throw badRequest(
      `${type.kind} in version "${type.version}" cannot be handled as a ${type.kind}: json: cannot unmarshal the value at ${where} into its Go type`,
    );
  }
  const paths = unknown.map(([at, key]) => `${at}.${key}`.slice(1));
  if (fieldValidation === 'Strict' && paths.length > 0) {
    throw badRequest(`strict decoding error: ${paths.map((p) => `unknown field "${p}"`).join(', ')}`);
  }
  for (const [at, key] of unknown) {
    let node: unknown = obj;
    for (const t of pathTokens(at)) node = (node as Record<string | number, unknown>)[t];
    if (isObject(node)) delete node[key];
  }
  return fieldValidation === 'Ignore' ? [] : paths.map((p) => `unknown field "${p}"`);
}

/**
 * Decodes, defaults and validates an object a client creates or updates (`previous` set), changing it
 * in place; a 400 or 422 StatusError when the real API server would refuse it. Returns the warnings
 * to answer with (`Warning: 299 - "unknown field \"spec.foo\""`).
 */
export function admit(
  type: ResourceType,
  obj: Obj,
  previous: Obj | undefined,
  options: AdmitOptions,
): string[] {
  if (!['Strict', 'Warn', 'Ignore', undefined].includes(options.fieldValidation)) {
    throw badRequest(
      `fieldValidation must be one of "Ignore", "Warn", or "Strict", got "${options.fieldValidation}"`,
    );
  }
  const warnings = decode(type, obj, options.fieldValidation);
  const errs = new FieldErrors();
  validateObjectMeta(obj, type.kind === 'Service' ? isDns1035Label : isDns1123Subdomain, errs);
  if (type.kind === 'EndpointSlice') endpointSlice(obj, previous, options, errs);
  if (type.kind === 'Service' && type.group === '') service(obj, errs);
  if (errs.causes.length > 0) {
    throw invalid(type, obj.metadata.name ?? obj.metadata.generateName ?? '', errs.causes);
  }
  return warnings;
}

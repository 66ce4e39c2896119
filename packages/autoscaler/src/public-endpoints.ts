/**
 * The arithmetic of a revision's public EndpointSlices, with no I/O: which endpoints they get in Proxy
 * mode (activator Pod IPs) and in Serve mode (the revision's ready Pod IPs), with which ports and
 * conditions, and which creates, replaces and deletes turn the slices that exist into those. Mirrors
 * Knative's `pkg/reconciler/serverlessservice` (`serverlessservice.go` reconcilePublicEndpoints,
 * `resources/services.go` MakePublicEndpoints, `subsetter.go`), writing EndpointSlices where Knative
 * writes Endpoints. The Kubernetes actuator reads the slices, calls these, and makes the API calls.
 */
import { createHash } from 'node:crypto';
import type { DiscoveryV1EndpointPort, V1Endpoint, V1EndpointSlice } from '@kubernetes/client-node';
import { REVISION_LABEL, SERVICE_TYPE_LABEL } from '@zerogate/core/kubernetes';
import type { Mode, RevisionRef } from './actuator.js';

/** The label tying an EndpointSlice to its Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
/** The label naming the controller that owns an EndpointSlice. */
export const MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by';
/**
 * Our value of {@link MANAGED_BY_LABEL}: Kubernetes' own controllers leave such slices alone. Shaped like
 * Kubernetes' own `endpointslice-controller.k8s.io`, since a label value may not contain `/`.
 */
export const MANAGED_BY = 'autoscaler.zerogate.dev';

/**
 * The ports of a public Service (`pkg/reconciler/serverlessservice/resources/services.go`): `http` (80)
 * or `http2` (81, h2c revisions) and `https` (443). Only these are copied into the public slices; the
 * private Service's metrics ports and the activator's profiling port have no public counterpart.
 */
export const PUBLIC_PORT_NAMES: ReadonlySet<string> = new Set(['http', 'http2', 'https']);

/** An endpoint copied into a public slice, in a canonical form that compares by JSON. */
export interface PublicEndpoint {
  addresses: string[];
  conditions: { ready?: boolean; serving?: boolean; terminating?: boolean };
  nodeName?: string;
  zone?: string;
  targetRef?: { kind?: string; namespace?: string; name?: string; uid?: string };
}

/** One public slice to write: endpoints of one address type sharing one port list. */
export interface DesiredSlice {
  name: string;
  addressType: string;
  ports: DiscoveryV1EndpointPort[];
  endpoints: PublicEndpoint[];
}

/**
 * The public ports of a slice (`http`, `http2`, `https`), sorted by name with the protocol spelled out,
 * so two port lists compare by JSON.
 */
export function canonicalPorts(
  ports: readonly DiscoveryV1EndpointPort[] | undefined,
): DiscoveryV1EndpointPort[] {
  return (ports ?? [])
    .filter((p) => p.name !== undefined && PUBLIC_PORT_NAMES.has(p.name))
    .map((p) => ({
      name: p.name,
      port: p.port,
      protocol: p.protocol ?? 'TCP',
      ...(p.appProtocol !== undefined ? { appProtocol: p.appProtocol } : {}),
    }))
    .sort((a, b) => (a.name ?? '').localeCompare(b.name ?? ''));
}

const READY = { ready: true, serving: true, terminating: false } as const;

/** An endpoint in canonical form; `conditions` default to ready, as copied endpoints always are. */
function canonicalEndpoint(e: V1Endpoint, conditions: PublicEndpoint['conditions'] = READY): PublicEndpoint {
  const out: PublicEndpoint = { addresses: [...(e.addresses ?? [])].sort(), conditions: { ...conditions } };
  if (e.nodeName) out.nodeName = e.nodeName;
  if (e.zone) out.zone = e.zone;
  if (e.targetRef) {
    const { kind, namespace, name, uid } = e.targetRef;
    out.targetRef = {
      ...(kind ? { kind } : {}),
      ...(namespace ? { namespace } : {}),
      ...(name ? { name } : {}),
      ...(uid ? { uid } : {}),
    };
  }
  return out;
}

/** A ready endpoint of a source slice, with its slice's address type and public ports. */
export interface ReadyEndpoint {
  addressType: string;
  ports: DiscoveryV1EndpointPort[];
  endpoint: PublicEndpoint;
}

/**
 * The ready endpoints of `slices` (a revision's private slices, or the activator Service's), each once, in
 * canonical form: what a public slice may copy. FQDN slices and slices this autoscaler wrote are skipped.
 */
export function readyEndpoints(slices: Iterable<V1EndpointSlice>): ReadyEndpoint[] {
  const out: ReadyEndpoint[] = [];
  const seen = new Set<string>();
  for (const slice of slices) {
    // FQDN slices name hosts, not addresses a public Service can point at.
    if (slice.addressType !== 'IPv4' && slice.addressType !== 'IPv6') continue;
    // Our own slices are never a source, whatever their labels say.
    if (slice.metadata?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY) continue;
    const ports = canonicalPorts(slice.ports);
    for (const e of slice.endpoints ?? []) {
      if (e.conditions?.ready !== true || (e.addresses ?? []).length === 0) continue;
      const endpoint = canonicalEndpoint(e);
      // A Pod briefly listed in two slices is copied once.
      const key = `${slice.addressType}/${endpoint.addresses.join(',')}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ addressType: slice.addressType, ports, endpoint });
    }
  }
  return out;
}

/**
 * What a public slice copies from `slices`, as one string that changes exactly when that does: the
 * activator watch compares it to notice a change worth re-running every revision for.
 */
export function readyEndpointsKey(slices: Iterable<V1EndpointSlice>): string {
  return readyEndpoints(slices)
    .map((e) => JSON.stringify([e.addressType, e.ports, e.endpoint]))
    .sort()
    .join('\n');
}

/** A 64-bit weight of `item` for `key`, for rendezvous hashing. */
function weight(key: string, item: string): bigint {
  return createHash('sha256').update(key).update('\0').update(item).digest().readBigUInt64BE(0);
}

/**
 * The `n` activators serving a revision, chosen by consistent hashing keyed on the revision name, as
 * `pkg:hash/chooser.go` ChooseSubset does for the SKS: every autoscaler picks the same subset, and adding
 * or removing an activator moves few revisions. This uses rendezvous (highest random weight) hashing, so
 * the chosen activators differ from Knative's own choice but keep those properties. `n` of 0 or at least
 * the number of activators means all of them.
 */
export function chooseActivatorSubset<T extends { endpoint: { addresses: string[] } }>(
  activators: readonly T[],
  n: number,
  key: string,
): T[] {
  if (n <= 0 || n >= activators.length) return [...activators];
  return activators
    .map((a) => ({ a, w: weight(key, a.endpoint.addresses[0]!) }))
    .sort((x, y) => (x.w > y.w ? -1 : x.w < y.w ? 1 : 0))
    .slice(0, n)
    .map((x) => x.a);
}

/**
 * Groups endpoints into slices by address type and ports. The first group of an address type is named
 * `<revision>-ipv4` (or `-ipv6`) whatever its ports, so a mode switch updates that slice in place (one
 * write, never a moment without endpoints); further groups, rare, get a name derived from their ports.
 */
export function desiredSlices(rev: RevisionRef, endpoints: readonly ReadyEndpoint[]): DesiredSlice[] {
  const groups = new Map<string, DesiredSlice>();
  const families = new Set<string>();
  for (const { addressType, ports, endpoint } of endpoints) {
    const key = `${addressType}|${JSON.stringify(ports)}`;
    let group = groups.get(key);
    if (!group) {
      const family = addressType.toLowerCase();
      const name = families.has(family)
        ? `${rev.name}-${family}-${createHash('sha256').update(key).digest('hex').slice(0, 8)}`
        : `${rev.name}-${family}`;
      families.add(family);
      group = { name, addressType, ports, endpoints: [] };
      groups.set(key, group);
    }
    group.endpoints.push(endpoint);
  }
  for (const g of groups.values()) {
    g.endpoints.sort((a, b) => a.addresses[0]!.localeCompare(b.addresses[0]!));
  }
  return [...groups.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** The labels of a public slice: its Service, the revision, and ours as the owner. */
export function publicLabels(rev: RevisionRef): Record<string, string> {
  return {
    [SERVICE_NAME_LABEL]: rev.name,
    [SERVICE_TYPE_LABEL]: 'Public',
    [REVISION_LABEL]: rev.name,
    [MANAGED_BY_LABEL]: MANAGED_BY,
  };
}

/** True when `existing` already says what `desired` says (labels we own, address type, ports, endpoints). */
export function sameSlice(rev: RevisionRef, existing: V1EndpointSlice, desired: DesiredSlice): boolean {
  const labels = existing.metadata?.labels ?? {};
  for (const [k, v] of Object.entries(publicLabels(rev))) if (labels[k] !== v) return false;
  if (existing.addressType !== desired.addressType) return false;
  // Ports outside the public set make the lists differ in length.
  const ports = canonicalPorts(existing.ports);
  if (ports.length !== (existing.ports ?? []).length) return false;
  if (JSON.stringify(ports) !== JSON.stringify(desired.ports)) return false;
  const endpoints = (existing.endpoints ?? [])
    .map((e) => {
      const c = e.conditions ?? {};
      return canonicalEndpoint(e, { ready: c.ready, serving: c.serving, terminating: c.terminating });
    })
    .sort((a, b) => (a.addresses[0] ?? '').localeCompare(b.addresses[0] ?? ''));
  return JSON.stringify(endpoints) === JSON.stringify(desired.endpoints);
}

/** The public slices a mode asks for, and the mode they actually serve. */
export interface PublicEndpoints {
  /** `mode`, or the other one when the asked-for mode has no endpoint to point at. */
  readonly effective: Mode;
  /** The slices to write, by name; empty when neither Pods nor activators are ready. */
  readonly slices: DesiredSlice[];
}

/**
 * The public slices of a revision (`serverlessservice.go` reconcilePublicEndpoints): Serve copies the
 * ready endpoints of its private slices, Proxy points at `numActivators` ready activators chosen by
 * {@link chooseActivatorSubset}. With no ready Pod, Serve falls back to Proxy; with no ready activator,
 * Proxy falls back to Serve, so the public Service points wherever something can answer.
 */
export function publicEndpoints(
  rev: RevisionRef,
  mode: Mode,
  numActivators: number,
  privateSlices: Iterable<V1EndpointSlice>,
  activatorSlices: Iterable<V1EndpointSlice>,
): PublicEndpoints {
  const pods = readyEndpoints(privateSlices);
  const activators = readyEndpoints(activatorSlices);
  let effective: Mode = mode;
  if (effective === 'Serve' && pods.length === 0) effective = 'Proxy';
  if (effective === 'Proxy' && activators.length === 0) effective = 'Serve';
  const source = effective === 'Serve' ? pods : chooseActivatorSubset(activators, numActivators, rev.name);
  return { effective, slices: desiredSlices(rev, source) };
}

/** A public slice to create or replace; `body` carries the read resourceVersion when replacing. */
export interface SliceWrite {
  readonly op: 'create' | 'replace';
  readonly body: V1EndpointSlice;
}

/** An owned slice no longer wanted, deleted on the condition it is still the version read. */
export interface SliceDeletion {
  readonly name: string;
  readonly resourceVersion: string | undefined;
}

/** The API writes that turn the owned slices into the desired ones, in the order to make them. */
export interface SlicePlan {
  /** Creates and replaces, by slice name; a slice that already says what is wanted has none. */
  readonly writes: SliceWrite[];
  /** Deletions, after the writes, so the Service never has fewer endpoints than both sets. */
  readonly deletions: SliceDeletion[];
}

/**
 * The diff between the public slices this autoscaler owns and `desired`: each desired slice is created,
 * replaced (keeping labels others added) or left alone when it already matches, and owned slices not
 * desired are deleted. With nothing desired, one slice with no endpoint is kept (an owned one if any), so
 * the public Service's endpoints are explicitly empty rather than missing.
 */
export function planPublicSlices(
  rev: RevisionRef,
  desired: readonly DesiredSlice[],
  owned: readonly V1EndpointSlice[],
): SlicePlan {
  const { namespace } = rev;
  const byName = new Map(owned.map((s) => [s.metadata?.name ?? '', s]));
  if (desired.length === 0) {
    // No endpoint anywhere: keep one slice with none, reusing an owned one when there is one.
    const keep = [...owned].sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''))[0];
    desired = [
      keep
        ? {
            name: keep.metadata!.name!,
            addressType: keep.addressType,
            ports: canonicalPorts(keep.ports),
            endpoints: [],
          }
        : { name: `${rev.name}-ipv4`, addressType: 'IPv4', ports: [], endpoints: [] },
    ];
  }
  const writes: SliceWrite[] = [];
  for (const d of desired) {
    const existing = byName.get(d.name);
    byName.delete(d.name);
    if (existing && sameSlice(rev, existing, d)) continue;
    const body: V1EndpointSlice = {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        name: d.name,
        namespace,
        labels: { ...(existing?.metadata?.labels ?? {}), ...publicLabels(rev) },
        ...(existing?.metadata?.resourceVersion
          ? { resourceVersion: existing.metadata.resourceVersion }
          : {}),
      },
      addressType: d.addressType,
      ports: d.ports,
      endpoints: d.endpoints,
    };
    writes.push({ op: existing ? 'replace' : 'create', body });
  }
  const deletions = [...byName].map(([name, stale]) => ({
    name,
    resourceVersion: stale.metadata?.resourceVersion,
  }));
  return { writes, deletions };
}

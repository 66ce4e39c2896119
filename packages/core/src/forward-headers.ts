import { connectionTokens, forwardedFromXForwarded, HOP_BY_HOP } from './headers.js';

/** How one hop rewrites request headers; the policies below are the only ones, built once. */
export interface ForwardPolicy {
  /** Lower-case names removed outright. */
  readonly dropped: ReadonlySet<string>;
  /**
   * `restore`: Host becomes `K-Original-Host` when that is set (the queue-proxy, docs/wire.md §2.1);
   * `preserve`: Host stays, and is copied to `K-Original-Host` unless that is set (the activator,
   * docs/wire.md §2.2).
   */
  readonly host: 'restore' | 'preserve';
  /** Synthesise `Forwarded` from `X-Forwarded-*` when absent (`pkg/queue/forwarded_shim.go`). */
  readonly forwardedShim: boolean;
  /** Pairs appended to every request, e.g. `K-Proxy-Request: activator`. */
  readonly added: readonly string[];
}

const HOP_BY_HOP_NAMES = [...HOP_BY_HOP];
/** An upgrade is tunnelled as bytes after its head, so its framing and upgrade headers stay. */
const TUNNEL_KEEPS = new Set(['connection', 'upgrade', 'transfer-encoding', 'expect']);
const ROUTING = ['knative-serving-revision', 'knative-serving-namespace'];

function policy(
  dropped: readonly string[],
  host: ForwardPolicy['host'],
  forwardedShim: boolean,
  added: readonly string[],
): ForwardPolicy {
  return Object.freeze({ dropped: new Set(dropped), host, forwardedShim, added });
}

/** The queue-proxy → user container hop. */
export const QUEUE_PROXY = policy([...ROUTING, ...HOP_BY_HOP_NAMES], 'restore', true, []);
/** The queue-proxy → user container hop of an upgrade. */
export const QUEUE_PROXY_TUNNEL = policy(
  [...ROUTING, ...HOP_BY_HOP_NAMES.filter((n) => !TUNNEL_KEEPS.has(n))],
  'restore',
  true,
  [],
);
/** The activator → queue-proxy hop: the routing headers are consumed, the request marked as proxied. */
export const ACTIVATOR = policy(
  [...ROUTING, ...HOP_BY_HOP_NAMES, 'k-network-hash', 'k-proxy-request'],
  'preserve',
  false,
  ['k-proxy-request', 'activator'],
);
/** The activator → queue-proxy hop of an upgrade. */
export const ACTIVATOR_TUNNEL = policy(
  [...ROUTING, ...HOP_BY_HOP_NAMES.filter((n) => !TUNNEL_KEEPS.has(n)), 'k-network-hash', 'k-proxy-request'],
  'preserve',
  false,
  ['k-proxy-request', 'activator'],
);

/**
 * The one-machine platform's ingress → activator or queue-proxy hop: routing headers a client sent are
 * dropped (the ingress sets its own), as is a forged `K-Proxy-Request`.
 */
export const INGRESS = policy([...ROUTING, ...HOP_BY_HOP_NAMES, 'k-proxy-request'], 'preserve', false, []);
/** The ingress hop of an upgrade. */
export const INGRESS_TUNNEL = policy(
  [...ROUTING, ...HOP_BY_HOP_NAMES.filter((n) => !TUNNEL_KEEPS.has(n)), 'k-proxy-request'],
  'preserve',
  false,
  [],
);

/**
 * Rewrites a request's headers for the next hop, as a flat `[name, value, …]` list, in one pass over
 * Node's `rawHeaders`: routing and hop-by-hop headers removed (those named by `Connection` too), Host
 * handled per policy, the peer's address appended to `X-Forwarded-For`. For HTTP/2 requests
 * pseudo-headers are dropped (`:authority` is the Host) and `te: trailers` is kept, as gRPC needs.
 */
export function forwardHeaders(
  raw: readonly string[],
  peer: string,
  policy: ForwardPolicy,
  http2 = false,
): string[] {
  const { dropped } = policy;
  const out: string[] = [];
  let host: string | undefined;
  let originalHost: string | undefined;
  let xff: string | undefined;
  let xfh: string | undefined;
  let xfp: string | undefined;
  let hasForwarded = false;
  let connection: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    const lower = name.toLowerCase();
    if (lower.charCodeAt(0) === 0x3a) {
      // HTTP/2 pseudo-headers: the upstream client writes its own; only the authority becomes Host.
      if (lower === ':authority') host ??= value;
      continue;
    }
    switch (lower) {
      case 'host':
        host = value;
        continue;
      case 'te':
        if (http2 && value.trim().toLowerCase() === 'trailers') out.push('te', 'trailers');
        continue;
      case 'k-original-host':
        // Knative acts only on a non-empty K-Original-Host.
        if (value !== '') originalHost = value;
        continue;
      case 'x-forwarded-for':
        // Several lines join into one list, as Go's ReverseProxy does before appending the peer.
        xff = xff === undefined ? value : `${xff}, ${value}`;
        continue;
      case 'x-forwarded-host':
        xfh ??= value;
        break;
      case 'x-forwarded-proto':
        xfp ??= value;
        break;
      case 'forwarded':
        if (value.trim() !== '') hasForwarded = true;
        break;
      case 'connection':
        connection = connection === undefined ? value : `${connection}, ${value}`;
        break;
    }
    if (dropped.has(lower)) continue;
    out.push(name, value);
  }
  // Headers named by Connection go first, as in Go's ReverseProxy, so they never remove what is added
  // below: a listed X-Forwarded-For only drops the incoming list, and Host is never a header to drop.
  const listed = connectionTokens(connection);
  const kept = listed.length === 0 ? out : withoutNames(out, listed);
  const forwardedFor = listed.includes('x-forwarded-for') ? undefined : xff;
  if (policy.host === 'restore') {
    const target = originalHost ?? host;
    if (target !== undefined) kept.push('host', target);
  } else {
    if (host !== undefined) kept.push('host', host);
    const original = originalHost ?? host;
    if (original !== undefined) kept.push('k-original-host', original);
  }
  if (policy.forwardedShim && !hasForwarded) {
    const forwarded = forwardedFromXForwarded(xff, xfh, xfp);
    if (forwarded !== undefined) kept.push('forwarded', forwarded);
  }
  if (peer !== '')
    kept.push('x-forwarded-for', forwardedFor === undefined ? peer : `${forwardedFor}, ${peer}`);
  else if (forwardedFor !== undefined) kept.push('x-forwarded-for', forwardedFor);
  for (const item of policy.added) kept.push(item);
  return kept;
}

function withoutNames(list: string[], names: readonly string[]): string[] {
  const drop = new Set(names);
  const out: string[] = [];
  for (let i = 0; i < list.length; i += 2) {
    if (!drop.has(list[i]!.toLowerCase())) out.push(list[i]!, list[i + 1]!);
  }
  return out;
}

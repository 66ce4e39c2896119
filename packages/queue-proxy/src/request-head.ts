import { connectionTokens, forwardedFromXForwarded } from '@zerogate/core';

/** What the queue-proxy needs to know of a request before deciding how to handle it, read in one pass. */
export interface RequestFacts {
  userAgent: string;
  /** Value of `K-Network-Probe`, if any. */
  networkProbe: string | undefined;
  networkHash: string;
  /** `K-Kubelet-Probe` present: proxied to the app, but outside stats and the breaker (spec §1.2 step 9). */
  kubeletProbeHeader: boolean;
  /** Came through the activator (`K-Proxy-Request: activator`): counted in the proxied stats too. */
  proxied: boolean;
  /** Has a request body (`Content-Length` > 0 or `Transfer-Encoding`). */
  hasBody: boolean;
}

/** Reads the facts of a request from Node's flat `rawHeaders` list without building `req.headers`. */
export function readFacts(raw: readonly string[]): RequestFacts {
  const facts: RequestFacts = {
    userAgent: '',
    networkProbe: undefined,
    networkHash: '',
    kubeletProbeHeader: false,
    proxied: false,
    hasBody: false,
  };
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    // Only names starting with k/K, u/U, c/C or t/T matter: skip the rest without lower-casing.
    const c = name.charCodeAt(0) | 0x20;
    if (c !== 0x6b && c !== 0x75 && c !== 0x63 && c !== 0x74) continue;
    switch (name.toLowerCase()) {
      case 'user-agent':
        facts.userAgent = raw[i + 1]!;
        break;
      case 'k-network-probe':
        facts.networkProbe = raw[i + 1]!;
        break;
      case 'k-network-hash':
        facts.networkHash = raw[i + 1]!;
        break;
      case 'k-kubelet-probe':
        facts.kubeletProbeHeader = true;
        break;
      case 'k-proxy-request':
        facts.proxied = raw[i + 1] === 'activator';
        break;
      case 'content-length':
        if (raw[i + 1] !== '0') facts.hasBody = true;
        break;
      case 'transfer-encoding':
        facts.hasBody = true;
        break;
    }
  }
  return facts;
}

/** Headers dropped on the way to the app: Knative's routing headers and hop-by-hop ones (spec §1.7). */
const DROPPED = new Set([
  'knative-serving-revision',
  'knative-serving-namespace',
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
]);

/** For a tunnelled upgrade the bytes after the head pass through untouched, so framing headers stay. */
const DROPPED_FOR_TUNNEL = new Set([
  'knative-serving-revision',
  'knative-serving-namespace',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
]);

/**
 * Rewrites a request's headers for the user container, as a flat `[name, value, …]` list:
 * Host restored from `K-Original-Host`, Knative routing and hop-by-hop headers removed (those named by
 * `Connection` too), `Forwarded` synthesised from the incoming `X-Forwarded-*` when absent, and the
 * peer's address appended to `X-Forwarded-For`. `tunnel` keeps the framing and upgrade headers;
 * `http2` drops pseudo-headers (`:authority` becomes Host) and keeps `te: trailers`.
 */
export function upstreamHeaders(
  raw: readonly string[],
  peer: string,
  tunnel = false,
  http2 = false,
): string[] {
  const dropped = tunnel ? DROPPED_FOR_TUNNEL : DROPPED;
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
        // gRPC needs `te: trailers` end to end over HTTP/2, as Go's ReverseProxy keeps it.
        if (http2 && value.trim().toLowerCase() === 'trailers') out.push('te', 'trailers');
        continue;
      case 'k-original-host':
        // Knative restores Host only from a non-empty K-Original-Host.
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
  const targetHost = originalHost ?? host;
  if (targetHost !== undefined) kept.push('host', targetHost);
  if (!hasForwarded) {
    const forwarded = forwardedFromXForwarded(xff, xfh, xfp);
    if (forwarded !== undefined) kept.push('forwarded', forwarded);
  }
  if (peer !== '')
    kept.push('x-forwarded-for', forwardedFor === undefined ? peer : `${forwardedFor}, ${peer}`);
  else if (forwardedFor !== undefined) kept.push('x-forwarded-for', forwardedFor);
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

/**
 * Header names and rewrites shared by both proxies (docs/wire.md §2): hop-by-hop stripping as Go's
 * ReverseProxy does, the `Forwarded` shim of `pkg/queue/forwarded_shim.go`, and Knative's header names.
 */

/** Knative's header names, lower-cased as Node presents them. */
export const H = {
  originalHost: 'k-original-host',
  proxyRequest: 'k-proxy-request',
  networkProbe: 'k-network-probe',
  networkHash: 'k-network-hash',
  kubeletProbe: 'k-kubelet-probe',
  revision: 'knative-serving-revision',
  namespace: 'knative-serving-namespace',
  forwarded: 'forwarded',
  xForwardedFor: 'x-forwarded-for',
  xForwardedHost: 'x-forwarded-host',
  xForwardedProto: 'x-forwarded-proto',
  userAgent: 'user-agent',
  /**
   * Zerogate's addition (docs/wire.md §1): on a queue-proxy's 503, the request never reached the app, so
   * the activator or the ingress may send it to another Pod. Knative's components ignore it.
   */
  requestNotSent: 'k-request-not-sent',
} as const;

/**
 * Hop-by-hop headers (RFC 9110 §7.6.1 and Go's `httputil` list), plus `expect`, which the proxy answers
 * itself and undici refuses to forward. `te` is handled apart: `te: trailers` is kept over HTTP/2 for gRPC.
 */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
]);

/** The first value of the field `lowerName` in node-style `rawHeaders` (name, value, …); undefined when absent. */
export function rawHeader(rawHeaders: readonly string[], lowerName: string): string | undefined {
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (name.length === lowerName.length && name.toLowerCase() === lowerName) return rawHeaders[i + 1];
  }
  return undefined;
}

/** Returns the lower-cased header names listed in a `Connection` header value (also hop-by-hop). */
export function connectionTokens(value: string | undefined): string[] {
  if (!value) return [];
  const out: string[] = [];
  for (const part of value.split(',')) {
    const token = part.trim().toLowerCase();
    if (token !== '' && token !== 'close' && token !== 'keep-alive' && token !== 'upgrade') out.push(token);
  }
  return out;
}

/**
 * Builds a `Forwarded` value from the `X-Forwarded-*` headers (docs/wire.md §2.1): the first element carries
 * `for`, `host` and `proto` as present, each further X-Forwarded-For node its own `for`; an address with
 * a colon is IPv6 and written `"[addr]"`. Returns undefined when nothing can be built.
 */
export function forwardedFromXForwarded(
  xff: string | undefined,
  xfh: string | undefined,
  xfp: string | undefined,
): string | undefined {
  const nodes = (xff ?? '').split(',').map((n) => {
    const node = n.trim();
    return node.includes(':') ? `"[${node}]"` : node;
  });
  const first: string[] = [];
  if (nodes[0]) first.push(`for=${nodes[0]}`);
  const host = xfh?.trim();
  if (host) first.push(`host=${host}`);
  const proto = xfp?.trim();
  if (proto) first.push(`proto=${proto}`);
  const elements = [first.join(';')];
  for (const node of nodes.slice(1)) elements.push(`for=${node}`);
  const value = elements.join(', ');
  return value === '' ? undefined : value;
}

/** Strips the IPv4-mapped prefix Node puts on addresses of dual-stack sockets. */
export function plainAddress(address: string | undefined): string {
  if (!address) return '';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

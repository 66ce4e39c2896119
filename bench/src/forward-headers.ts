/**
 * Hop-by-hop header stripping for the bare proxy, in the cheapest form that is still correct.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

/**
 * Hop-by-hop headers, the same list as `HOP_BY_HOP` in @zerogate/core (a test keeps them equal).
 * Kept local so the floor does not load core's logger and metrics and its memory stays a floor.
 */
export const BARE_HOP_BY_HOP: ReadonlySet<string> = new Set([
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

/** Lower-cased header names a `Connection` value declares hop-by-hop. */
function connectionTokens(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return String(value)
    .split(',')
    .map((token) => token.trim().toLowerCase())
    .filter((token) => token !== '');
}

/**
 * Copies request headers from Node's flat `rawHeaders` into the flat array undici accepts, minus
 * hop-by-hop ones. `Host` is kept, as Go's ReverseProxy and Knative's queue-proxy keep it.
 */
export function forwardRequestHeaders(raw: readonly string[]): string[] {
  const out: string[] = [];
  let declared: string[] | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (BARE_HOP_BY_HOP.has(lower)) {
      if (lower === 'connection') declared = connectionTokens(raw[i + 1]);
      continue;
    }
    out.push(name, raw[i + 1]!);
  }
  if (declared === undefined || declared.length === 0) return out;
  const kept: string[] = [];
  for (let i = 0; i < out.length; i += 2) {
    if (!declared.includes(out[i]!.toLowerCase())) kept.push(out[i]!, out[i + 1]!);
  }
  return kept;
}

/** Copies response headers (undici gives them lower-cased) minus hop-by-hop ones. */
export function forwardResponseHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) {
    if (!BARE_HOP_BY_HOP.has(name)) out[name] = headers[name];
  }
  if (headers['connection'] !== undefined) {
    for (const token of connectionTokens(headers['connection'])) delete out[token];
  }
  return out;
}

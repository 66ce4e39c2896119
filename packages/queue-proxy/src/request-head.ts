import { forwardHeaders, QUEUE_PROXY, QUEUE_PROXY_TUNNEL } from '@zerogate/core';

/**
 * Rewrites a request's headers for the user container (see {@link forwardHeaders}): `tunnel` keeps the
 * framing and upgrade headers of an upgrade; `http2` for requests that arrived over HTTP/2.
 */
export function upstreamHeaders(
  raw: readonly string[],
  peer: string,
  tunnel = false,
  http2 = false,
): string[] {
  return forwardHeaders(raw, peer, tunnel ? QUEUE_PROXY_TUNNEL : QUEUE_PROXY, http2);
}

import { forwardHeaders, QUEUE_PROXY, QUEUE_PROXY_TUNNEL } from '@zerogate/core';

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

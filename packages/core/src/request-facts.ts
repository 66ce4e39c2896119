/** What a proxy needs to know of a request before deciding how to handle it, read in one pass. */
export interface RequestFacts {
  userAgent: string;
  /** Value of `K-Network-Probe`, if any. */
  networkProbe: string | undefined;
  networkHash: string;
  /**
   * `K-Kubelet-Probe` present: proxied to the app, but outside stats and the breaker
   * (docs/queue-proxy.md §3.1).
   */
  kubeletProbeHeader: boolean;
  /** Came through the activator (`K-Proxy-Request: activator`): counted in the proxied stats too. */
  proxied: boolean;
  /** Has a request body (`Content-Length` > 0 or `Transfer-Encoding`). */
  hasBody: boolean;
  /** Declared `Content-Length`; -1 when absent (chunked or no body). */
  contentLength: number;
  /** `Knative-Serving-Revision` and `-Namespace`, set by the ingress per traffic split. */
  revision: string | undefined;
  namespace: string | undefined;
  /** `Host` (HTTP/1.1) or `:authority` (HTTP/2). */
  host: string | undefined;
  /** `Content-Type`, if any. */
  contentType: string | undefined;
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
    contentLength: -1,
    revision: undefined,
    namespace: undefined,
    host: undefined,
    contentType: undefined,
  };
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    // Only names starting with k, u, c, t, h or ':' matter: skip the rest without lower-casing.
    const c = name.charCodeAt(0) | 0x20;
    if (c !== 0x6b && c !== 0x75 && c !== 0x63 && c !== 0x74 && c !== 0x68 && c !== 0x3a) continue;
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
        facts.contentLength = Number(raw[i + 1]);
        if (raw[i + 1] !== '0') facts.hasBody = true;
        break;
      case 'knative-serving-revision':
        facts.revision = raw[i + 1];
        break;
      case 'knative-serving-namespace':
        facts.namespace = raw[i + 1];
        break;
      case 'host':
      case ':authority':
        facts.host ??= raw[i + 1];
        break;
      case 'transfer-encoding':
        facts.hasBody = true;
        break;
      case 'content-type':
        facts.contentType ??= raw[i + 1];
        break;
    }
  }
  return facts;
}

/**
 * What one attempt of a probe is, and what every transport (TCP, HTTP, h2c, gRPC) shares: the
 * User-Agent Knative sends, the body cap and the authority form. Mirrors the option structs of
 * `pkg/queue/health/probe.go`.
 */

import net from 'node:net';

/** One attempt of one probe: resolves on success, rejects saying why not; must honour `signal`. */
export type ProbeAttempt = (signal: AbortSignal) => Promise<void>;

/** The User-Agent Knative sends; the Kubernetes major/minor versions are never filled in. */
export const PROBE_USER_AGENT = 'kube-probe//';

/** Response body bytes an HTTP probe drains before closing; the kubelet reads at most 10 KiB too. */
export const MAX_DRAINED_BODY_BYTES = 10 * 1024;

/** `host:port`, with an IPv6 host in brackets, as an HTTP/2 `:authority` or a URL needs it. */
export function probeAuthority(host: string, port: number): string {
  return net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Returns `err` if it is an Error, else an Error carrying its text, so failures always have a message. */
export function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * What one attempt of a probe is, and what every transport (TCP, HTTP, h2c, gRPC) shares: the
 * User-Agent Knative sends, the body cap and the authority form. Mirrors the option structs of
 * `pkg/queue/health/probe.go`.
 */

/** One attempt of one probe: resolves on success, rejects saying why not; must honour `signal`. */
export type ProbeAttempt = (signal: AbortSignal) => Promise<void>;

/** The User-Agent Knative sends; the Kubernetes major/minor versions are never filled in. */
export const PROBE_USER_AGENT = 'kube-probe//';

/** Response body bytes an HTTP probe drains before closing; the kubelet reads at most 10 KiB too. */
export const MAX_DRAINED_BODY_BYTES = 10 * 1024;

/** Returns `err` if it is an Error, else an Error carrying its text, so failures always have a message. */
export function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

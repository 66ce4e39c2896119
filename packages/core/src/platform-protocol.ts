/**
 * The control protocol between the one-machine platform (server) and the autoscaler's `local`
 * actuator (client), over HTTP on 127.0.0.1. It plays the part the Kubernetes API plays in a cluster:
 * the platform publishes revisions and their ready Pods, the autoscaler sets scale and mode.
 *
 * - `GET /v1/revisions`: a stream of {@link PlatformEvent}s, one JSON object a line: every revision
 *   (`upsert`), then `synced`, then each change as it happens.
 * - `PUT /v1/revisions/<namespace>/<name>/scale` with `{"desiredPods": n}` → 204.
 * - `PUT /v1/revisions/<namespace>/<name>/mode` with `{"mode": "Proxy" | "Serve"}` → 204.
 * - `GET /v1/revisions/<namespace>/<name>/public/<path>`: sent wherever the revision's public traffic
 *   goes now (the activator or a Pod), for the probe before scaling to zero.
 */

/** A revision as the autoscaler needs it. */
export interface PlatformRevision {
  readonly namespace: string;
  readonly name: string;
  /** The revision's annotations (`autoscaling.knative.dev/*`). */
  readonly annotations: Readonly<Record<string, string>>;
  readonly containerConcurrency: number;
  /** `host:port` of each ready Pod's queue-proxy stats endpoint. */
  readonly readyPods: readonly string[];
}

/** One line of the revisions stream. */
export type PlatformEvent =
  | ({ readonly type: 'upsert' } & PlatformRevision)
  | { readonly type: 'remove'; readonly namespace: string; readonly name: string }
  /** Every revision existing when the stream opened was sent. */
  | { readonly type: 'synced' };

/** Paths of the protocol. */
export const PLATFORM_PATHS = {
  revisions: '/v1/revisions',
  revision: (namespace: string, name: string) =>
    `/v1/revisions/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`,
} as const;

/**
 * The parsed form of one user-container readiness probe: what `parseReadinessProbes` makes of a
 * corev1.Probe, with Knative's defaults filled in and durations in milliseconds.
 */

/** When and how often a probe runs; shared by every kind of probe. */
export interface ProbeTiming {
  /** Timeout of one attempt when the probe has a period (at least one second, as Knative enforces). */
  readonly timeoutMs: number;
  /** `periodSeconds` in ms; 0 means aggressive probing (poll every 50 ms within one check). */
  readonly periodMs: number;
  /** Consecutive successes an aggressive probe needs (at least 1). */
  readonly successThreshold: number;
}

/** A `tcpSocket` probe: passes when a connection is accepted. */
export interface TcpProbeSpec extends ProbeTiming {
  readonly kind: 'tcp';
  readonly host: string;
  readonly port: number;
}

/** An `httpGet` probe: passes on a 2xx or 3xx answer to a GET of `path`. */
export interface HttpProbeSpec extends ProbeTiming {
  readonly kind: 'http';
  readonly scheme: 'http' | 'https';
  readonly host: string;
  readonly port: number;
  /** The request target, starting with `/`, already escaped for a request line. */
  readonly path: string;
  /** The probe's `httpHeaders`, in order, names as written. */
  readonly headers: [string, string][];
}

/** A `grpc` probe: passes when `grpc.health.v1.Health/Check` of `service` says SERVING. */
export interface GrpcProbeSpec extends ProbeTiming {
  readonly kind: 'grpc';
  readonly host: string;
  readonly port: number;
  /** The service asked about; '' asks about the server as a whole. */
  readonly service: string;
}

/** One parsed user-container probe, of one of the kinds the queue-proxy can run. */
export type ProbeSpec = TcpProbeSpec | HttpProbeSpec | GrpcProbeSpec;

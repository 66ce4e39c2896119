/**
 * Hands the serving container's readiness probe over to the queue-proxy, as Knative's revision
 * reconciler does (`pkg/reconciler/revision/resources/queue.go`): the probe goes into
 * `SERVING_READINESS_PROBE` pointed at 127.0.0.1, the kubelet probes the queue-proxy instead, and the
 * queue-proxy runs the app's probe itself (every 50 ms while starting), so the activator learns of a
 * ready Pod without waiting for the kubelet's period.
 */
import type { V1Container, V1Probe } from '@kubernetes/client-node';

/** Where the probes of the queue-proxy and of the app point: the Pod's own loopback. */
const LOCAL_ADDRESS = '127.0.0.1';
/** The header the queue-proxy's health check requires (`pkg:network` ProbeKey) and its value. */
const PROBE_HEADER = { name: 'K-Network-Probe', value: 'queue' } as const;
/** Kubernetes' probe defaults, written out so the sidecar's probe reads the same before and after defaulting. */
const KUBELET_DEFAULTS = { timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 3 };

/** The outcome of {@link handOverReadinessProbe}. */
export interface ReadinessHandover {
  /** The value of the queue-proxy's `SERVING_READINESS_PROBE`: corev1.Probe JSON as Go encodes it. */
  readonly servingProbeJson: string;
  /** The kubelet's readiness probe of the queue-proxy. */
  readonly queueProxyProbe: V1Probe;
  /**
   * Whether the app container keeps its own readiness probe: only exec probes stay with the kubelet
   * (the queue-proxy cannot run them and probes the port instead), as in Knative's `makeContainer`.
   */
  readonly keepOnApp: boolean;
}

type PortValue = number | string | undefined;

/** A probe's port as a number: a name is looked up among the container's ports; unset or unknown means the user port. */
function resolvePort(port: PortValue, container: V1Container, userPort: number): number {
  if (typeof port === 'number' && Number.isInteger(port) && port > 0) return port;
  if (typeof port === 'string' && port !== '') {
    if (/^\d+$/.test(port) && Number(port) > 0) return Number(port);
    const named = container.ports?.find((p) => p.name === port)?.containerPort;
    if (typeof named === 'number' && named > 0) return named;
  }
  return userPort;
}

/** Adds `key: value` unless it is Go's zero value, as `encoding/json` does with `omitempty`. */
function put(out: Record<string, unknown>, key: string, value: unknown): void {
  if (value === undefined || value === null || value === 0 || value === '' || value === false) return;
  if (Array.isArray(value) && value.length === 0) return;
  out[key] = value;
}

/**
 * The probe the queue-proxy runs against the app, in corev1.Probe's field order with zero values
 * left out, which is what `readiness.EncodeSingleProbe` produces (`queue.go` applyReadinessProbeDefaults):
 * host 127.0.0.1, a numeric port, scheme HTTP by default, and an exec probe replaced by a TCP one.
 */
function servingProbe(probe: V1Probe, container: V1Container, userPort: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (probe.httpGet) {
    const h = probe.httpGet;
    const action: Record<string, unknown> = {};
    put(action, 'path', h.path);
    action['port'] = resolvePort(h.port as PortValue, container, userPort);
    action['host'] = LOCAL_ADDRESS;
    action['scheme'] = h.scheme || 'HTTP';
    put(
      action,
      'httpHeaders',
      (h.httpHeaders ?? []).map((x) => ({ name: x.name, value: x.value })),
    );
    out['httpGet'] = action;
  } else if (probe.grpc) {
    const g = probe.grpc;
    // A gRPC port is always a number; Knative defaults an unset service to "" (and keeps it).
    out['grpc'] = { port: g.port > 0 ? g.port : userPort, service: g.service ?? '' };
  } else {
    const port = probe.tcpSocket
      ? resolvePort(probe.tcpSocket.port as PortValue, container, userPort)
      : userPort;
    out['tcpSocket'] = { port, host: LOCAL_ADDRESS };
  }
  put(out, 'initialDelaySeconds', probe.initialDelaySeconds);
  // A periodic probe gets at least a second per attempt (queue.go).
  const period = probe.periodSeconds ?? 0;
  put(out, 'timeoutSeconds', period > 0 ? Math.max(probe.timeoutSeconds ?? 0, 1) : probe.timeoutSeconds);
  put(out, 'periodSeconds', period);
  put(out, 'successThreshold', probe.successThreshold ?? 1);
  put(out, 'failureThreshold', probe.failureThreshold);
  return out;
}

/**
 * Takes `container`'s readiness probe over for the queue-proxy listening on `servingPort`. With no
 * probe the app gets Knative's default: a TCP probe of the user port, polled aggressively (no period).
 * The queue-proxy's own kubelet probe keeps the app probe's timing, as Knative's does.
 */
export function handOverReadinessProbe(
  container: V1Container,
  userPort: number,
  servingPort: number,
): ReadinessHandover {
  const probe: V1Probe = container.readinessProbe ?? { successThreshold: 1 };
  const timing = (key: keyof typeof KUBELET_DEFAULTS): number => {
    const v = probe[key];
    return typeof v === 'number' && v > 0 ? v : KUBELET_DEFAULTS[key];
  };
  const queueProxyProbe: V1Probe = {
    httpGet: {
      path: '/',
      port: servingPort,
      scheme: 'HTTP',
      httpHeaders: [{ ...PROBE_HEADER }],
    },
    ...(probe.initialDelaySeconds ? { initialDelaySeconds: probe.initialDelaySeconds } : {}),
    timeoutSeconds: timing('timeoutSeconds'),
    periodSeconds: timing('periodSeconds'),
    successThreshold: timing('successThreshold'),
    failureThreshold: timing('failureThreshold'),
  };
  return {
    servingProbeJson: JSON.stringify(servingProbe(probe, container, userPort)),
    queueProxyProbe,
    keepOnApp: container.readinessProbe?.exec !== undefined && container.readinessProbe.exec !== null,
  };
}

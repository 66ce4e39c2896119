import type { V1Container } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { handOverReadinessProbe } from './readiness-handover.js';

const app = (extra: Partial<V1Container> = {}): V1Container => ({
  name: 'app',
  image: 'example.com/app',
  ports: [{ name: 'web', containerPort: 8080 }],
  ...extra,
});

/** A probe as the API server hands it over: Kubernetes' defaults filled in. */
const timing = { timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 3 };

describe('readiness probe handover', () => {
  it("gives an app without a probe Knative's default: TCP on the user port, polled aggressively", () => {
    const h = handOverReadinessProbe(app(), 8080, 8012);
    expect(h.servingProbeJson).toBe('{"tcpSocket":{"port":8080,"host":"127.0.0.1"},"successThreshold":1}');
    expect(h.keepOnApp).toBe(false);
    expect(h.queueProxyProbe).toEqual({
      httpGet: {
        path: '/',
        port: 8012,
        scheme: 'HTTP',
        httpHeaders: [{ name: 'K-Network-Probe', value: 'queue' }],
      },
      ...timing,
    });
  });

  it('encodes an HTTP probe as Go does, at 127.0.0.1, resolving a named port', () => {
    const h = handOverReadinessProbe(
      app({
        readinessProbe: {
          httpGet: {
            path: '/ready',
            port: 'web',
            host: '10.0.0.1',
            httpHeaders: [{ name: 'X-A', value: 'b' }],
          },
          initialDelaySeconds: 2,
          ...timing,
          periodSeconds: 5,
        },
      }),
      8080,
      8012,
    );
    expect(h.servingProbeJson).toBe(
      '{"httpGet":{"path":"/ready","port":8080,"host":"127.0.0.1","scheme":"HTTP","httpHeaders":[{"name":"X-A","value":"b"}]},' +
        '"initialDelaySeconds":2,"timeoutSeconds":1,"periodSeconds":5,"successThreshold":1,"failureThreshold":3}',
    );
    // The kubelet probes the queue-proxy with the app probe's timing.
    expect(h.queueProxyProbe).toMatchObject({ initialDelaySeconds: 2, periodSeconds: 5, timeoutSeconds: 1 });
    expect(h.keepOnApp).toBe(false);
  });

  it('keeps a probe port other than the user port, and a scheme', () => {
    const h = handOverReadinessProbe(
      app({ readinessProbe: { httpGet: { path: '/h', port: 9000, scheme: 'HTTPS' }, ...timing } }),
      8080,
      8012,
    );
    expect(JSON.parse(h.servingProbeJson).httpGet).toEqual({
      path: '/h',
      port: 9000,
      host: '127.0.0.1',
      scheme: 'HTTPS',
    });
  });

  it('falls back to the user port for an unknown port name, and gives periodic probes a second at least', () => {
    const h = handOverReadinessProbe(
      app({ readinessProbe: { tcpSocket: { port: 'nope' }, periodSeconds: 3, timeoutSeconds: 0 } }),
      8080,
      8013,
    );
    expect(JSON.parse(h.servingProbeJson)).toEqual({
      tcpSocket: { port: 8080, host: '127.0.0.1' },
      timeoutSeconds: 1,
      periodSeconds: 3,
      successThreshold: 1,
    });
    expect(h.queueProxyProbe.httpGet?.port).toBe(8013);
  });

  it('runs an exec probe in the app (the kubelet keeps it) and a TCP probe in the queue-proxy', () => {
    const h = handOverReadinessProbe(
      app({ readinessProbe: { exec: { command: ['true'] }, ...timing } }),
      8080,
      8012,
    );
    expect(h.keepOnApp).toBe(true);
    expect(JSON.parse(h.servingProbeJson)).toMatchObject({ tcpSocket: { port: 8080, host: '127.0.0.1' } });
  });

  it('keeps a gRPC probe with its service, "" when unset', () => {
    const h = handOverReadinessProbe(
      app({ readinessProbe: { grpc: { port: 9090 }, ...timing } }),
      8080,
      8012,
    );
    expect(h.servingProbeJson).toMatch(/^\{"grpc":\{"port":9090,"service":""\},/);
    const named = handOverReadinessProbe(
      app({ readinessProbe: { grpc: { port: 0, service: 'svc' }, ...timing } }),
      8080,
      8012,
    );
    expect(JSON.parse(named.servingProbeJson).grpc).toEqual({ port: 8080, service: 'svc' });
  });
});

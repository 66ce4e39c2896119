/**
 * The node agent under the real control plane: the scheduler binds Pods to it, it runs them as
 * processes in network namespaces of their own, writes their status, and the real Deployment, ReplicaSet
 * and EndpointSlice controllers do the rest; Services answer on their ClusterIP and by name.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { send } from '../support/http.js';
import { NODE, startCluster, type TestCluster, waitFor } from './support/cluster.js';

let cluster: TestCluster;

beforeAll(async () => {
  // A short crash back-off, so a crash loop shows in seconds.
  cluster = await startCluster({ crashBackoff: { initialMs: 500, maxMs: 2000 } });
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
}, 60_000);

/** A Deployment of the Node.js image running `script`, with a readiness probe on port 8080. */
function deployment(name: string, script: string, replicas = 1) {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: 'default' },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          terminationGracePeriodSeconds: 5,
          containers: [
            {
              name: 'web',
              image: 'node:24.21.0-bookworm-slim',
              command: ['node', '-e', script],
              env: [
                { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
              ],
              ports: [{ name: 'http', containerPort: 8080 }],
              readinessProbe: { httpGet: { path: '/', port: 'http' }, periodSeconds: 1 },
            },
          ],
        },
      },
    },
  };
}

const WEB = `require('node:http').createServer((q, s) => s.end(process.env.POD_NAME + ' ' + process.env.POD_IP)).listen(8080)`;

interface PodList {
  items: {
    metadata: { name: string; deletionTimestamp?: string };
    spec: { nodeName?: string };
    status: {
      phase?: string;
      podIP?: string;
      conditions?: { type: string; status: string }[];
      containerStatuses?: {
        ready: boolean;
        restartCount: number;
        state: Record<string, { reason?: string }>;
      }[];
    };
  }[];
}

const pods = async (selector: string) =>
  (await cluster.getJson<PodList>(['pods', '-n', 'default', '-l', selector])).items;
const isReady = (p: PodList['items'][number]) =>
  p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

describe('the node agent under the real controllers', () => {
  it('runs a Deployment’s Pods as processes with addresses of their own, Ready by their probe, served by a Service by name', async () => {
    await cluster.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: [
          deployment('web', WEB, 2),
          {
            apiVersion: 'v1',
            kind: 'Service',
            metadata: { name: 'web', namespace: 'default' },
            spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
          },
        ],
      }),
    });
    expect(await waitFor(async () => (await pods('app=web')).filter(isReady).length === 2, 60_000)).toBe(
      true,
    );
    const running = await pods('app=web');
    expect(running.map((p) => p.spec.nodeName)).toEqual([NODE, NODE]);
    const ips = running.map((p) => p.status.podIP!);
    expect(new Set(ips).size).toBe(2);
    for (const ip of ips) expect(ip).toMatch(/^10\.244\.0\.\d+$/);
    // Each Pod answers on its own address, on the same port, with the downward API's values.
    for (const p of running) {
      const res = await send(`http://${p.status.podIP}:8080/`);
      expect(res.body).toBe(`${p.metadata.name} ${p.status.podIP}`);
    }
    // The EndpointSlice controller published both; the Service answers by name, from both Pods in turn.
    const answers = new Set<string>();
    expect(
      await waitFor(async () => {
        const res = await send('http://web.default.svc.cluster.local/').catch(() => undefined);
        if (res?.status === 200) answers.add(res.body);
        return answers.size === 2;
      }, 30_000),
    ).toBe(true);
  }, 120_000);

  it('terminates a deleted Pod and the ReplicaSet replaces it', async () => {
    const [victim] = await pods('app=web');
    await cluster.kubectl([
      'delete',
      'pod',
      victim!.metadata.name,
      '-n',
      'default',
      '--wait=true',
      '--timeout=30s',
    ]);
    expect((await pods('app=web')).map((p) => p.metadata.name)).not.toContain(victim!.metadata.name);
    expect(await waitFor(async () => (await pods('app=web')).filter(isReady).length === 2, 60_000)).toBe(
      true,
    );
  }, 120_000);

  it('runs an init container to completion first, sharing an emptyDir with the app', async () => {
    const spec = deployment(
      'init',
      "require('node:http').createServer((q, s) => s.end(require('node:fs').readFileSync('/work/message'))).listen(8080)",
    );
    const pod = spec.spec.template.spec as Record<string, unknown> & {
      containers: Record<string, unknown>[];
    };
    pod['volumes'] = [{ name: 'work', emptyDir: {} }];
    pod.containers[0]!['volumeMounts'] = [{ name: 'work', mountPath: '/work' }];
    pod['initContainers'] = [
      {
        name: 'prepare',
        image: 'node:24.21.0-bookworm-slim',
        command: [
          'node',
          '-e',
          "require('node:fs').writeFileSync('/work/message', 'prepared by ' + process.env.HOSTNAME)",
        ],
        volumeMounts: [{ name: 'work', mountPath: '/work' }],
      },
    ];
    await cluster.kubectl(['apply', '-f', '-'], { input: JSON.stringify(spec) });
    expect(await waitFor(async () => (await pods('app=init')).some(isReady), 60_000)).toBe(true);
    const [p] = (await pods('app=init')).filter(isReady);
    const res = await send(`http://${p!.status.podIP}:8080/`);
    expect(res.body).toBe(`prepared by ${p!.metadata.name}`);
  });

  it('restarts a container that exits at once with a growing back-off, shown as CrashLoopBackOff', async () => {
    await cluster.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify(deployment('crash', 'process.exit(3)')),
    });
    const reasons = new Set<string>();
    expect(
      await waitFor(async () => {
        const [p] = await pods('app=crash');
        const status = p?.status.containerStatuses?.[0];
        if (!status) return false;
        for (const s of Object.values(status.state)) if (s.reason) reasons.add(s.reason);
        return status.restartCount >= 2 && reasons.has('CrashLoopBackOff');
      }, 60_000),
    ).toBe(true);
    const [p] = await pods('app=crash');
    expect(isReady(p!)).toBe(false);
  });
});

/**
 * The standalone install against a real control plane: kube-apiserver with RBAC and Node authorization,
 * the real controller manager and scheduler, etcd; the components on tokens of their own
 * ServiceAccounts. Runs in a network namespace of its own (`npm run test:cluster`), where Pod addresses
 * outside 127.0.0.0/8, which EndpointSlices require, stay inside the namespace.
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubeBinary } from '../../packages/cluster/src/index.js';
import { REVISION } from '../support/activator-fixture.js';
import { FakeAutoscaler } from '../support/fake-autoscaler.js';
import { send } from '../support/http.js';
import { knativeRevision, privateSlice } from '../support/knative-objects.js';
import {
  activatorEnv,
  queueProxyEnv,
  startActivator,
  startQueueProxy,
  startUserApp,
} from '../support/processes.js';
import { startCluster, type TestCluster, waitFor } from './support/cluster.js';

const SYSTEM = 'zerogate-system';
/** An address for a Pod the test runs by hand, outside the node's Pod range and 127.0.0.0/8. */
const POD_IP = '10.250.0.10';

let cluster: TestCluster;

/** `kubectl auth can-i` as the ServiceAccount: the real RBAC authorizer's answer. */
async function can(
  serviceAccount: string,
  verb: string,
  resource: string,
  subresource = '',
): Promise<boolean> {
  const { stdout } = await promisify(execFile)(
    kubeBinary('kubectl'),
    [
      'auth',
      'can-i',
      verb,
      resource,
      ...(subresource ? [`--subresource=${subresource}`] : []),
      '-n',
      'default',
      `--as=system:serviceaccount:${SYSTEM}:${serviceAccount}`,
    ],
    { encoding: 'utf8', env: { ...process.env, ...cluster.env } },
  ).catch((err: { stdout?: string; stderr?: string }) => {
    if (err.stdout?.trim() === 'no') return { stdout: 'no' };
    throw new Error(`kubectl auth can-i: ${err.stderr}`);
  });
  return stdout.trim() === 'yes';
}

beforeAll(async () => {
  cluster = await startCluster();
  console.log(`control plane: /readyz after ${cluster.plane.readyAfterMs} ms`);
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
}, 60_000);

describe('deploy/base on a real control plane', () => {
  it('is accepted whole by the real apiserver (its own schema and strict field validation)', async () => {
    const out = await cluster.kubectl(['apply', '--validate=strict', '-k', 'deploy/base']);
    expect(out).toContain('deployment.apps/activator created');
    expect(out).toContain(
      'mutatingwebhookconfiguration.admissionregistration.k8s.io/zerogate-injector created',
    );
  });

  it('is run by the real controllers: every Deployment gets its ReplicaSet and its Pods', async () => {
    const wanted = await cluster.getJson<{
      items: { metadata: { name: string }; spec: { replicas: number } }[];
    }>(['deployments', '-n', SYSTEM]);
    const replicas = wanted.items.reduce((n, d) => n + d.spec.replicas, 0);
    expect(wanted.items.map((d) => d.metadata.name).sort()).toEqual(['activator', 'autoscaler', 'injector']);
    // Created by the ReplicaSet controller (they do not start here: the images' Secret is not made).
    const created = await waitFor(async () => {
      const pods = await cluster.getJson<{ items: unknown[] }>(['pods', '-n', SYSTEM]);
      return pods.items.length === replicas;
    }, 30_000);
    expect(created).toBe(true);
  });

  it('grants each ServiceAccount what its component calls, and the real RBAC authorizer refuses the rest', async () => {
    // The activator reads revisions and their endpoints; it writes nothing.
    expect(await can('activator', 'watch', 'revisions.serving.knative.dev')).toBe(true);
    expect(await can('activator', 'list', 'endpointslices.discovery.k8s.io')).toBe(true);
    expect(await can('activator', 'create', 'endpointslices.discovery.k8s.io')).toBe(false);
    // Revisions' Pods, to refuse a failing revision's requests at once (docs/activator.md §10.1); read only.
    expect(await can('activator', 'watch', 'pods')).toBe(true);
    expect(await can('activator', 'delete', 'pods')).toBe(false);
    expect(await can('activator', 'get', 'secrets')).toBe(false);
    // The autoscaler scales Deployments through the scale subresource and owns the public slices.
    expect(await can('autoscaler', 'patch', 'deployments.apps', 'scale')).toBe(true);
    expect(await can('autoscaler', 'patch', 'deployments.apps')).toBe(false);
    expect(await can('autoscaler', 'create', 'endpointslices.discovery.k8s.io')).toBe(true);
    expect(await can('autoscaler', 'delete', 'deployments.apps')).toBe(false);
    expect(await can('autoscaler', 'get', 'secrets')).toBe(false);
    // It annotates Pods with their deletion cost before a scale-down, and does nothing else to them.
    expect(await can('autoscaler', 'patch', 'pods')).toBe(true);
    expect(await can('autoscaler', 'delete', 'pods')).toBe(false);
    expect(await can('autoscaler', 'create', 'pods')).toBe(false);
    // The injector wires revisions; it never touches Pods once admitted.
    expect(await can('injector', 'create', 'revisions.serving.knative.dev')).toBe(true);
    expect(await can('injector', 'delete', 'pods')).toBe(false);
  });
});

describe('the activator on its ServiceAccount token', () => {
  let autoscaler: FakeAutoscaler | undefined;
  afterAll(async () => {
    await autoscaler?.close();
  });

  it('learns a revision and its ready Pod from the real apiserver and forwards to it', async () => {
    execFileSync('ip', ['addr', 'add', `${POD_IP}/32`, 'dev', 'lo']);
    const app = await startUserApp();
    const qp = await startQueueProxy(queueProxyEnv(app.port, { QUEUE_BIND_ADDRESS: POD_IP }));
    await cluster.kubectl(['create', 'namespace', 'hello']);
    await cluster.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: [
          knativeRevision(
            'hello-00001',
            { containerConcurrency: 0, timeoutSeconds: 30 },
            { namespace: 'hello' },
          ),
          privateSlice('hello-00001', [POD_IP], [], { namespace: 'hello', port: qp.port }),
        ],
      }),
    });
    autoscaler = await FakeAutoscaler.start();
    const kubeconfig = await cluster.plane.serviceAccountKubeconfig(SYSTEM, 'activator');
    const activator = await startActivator(
      activatorEnv('', autoscaler.url, {
        ACTIVATOR_ENDPOINTS_SOURCE: 'kubernetes',
        KUBECONFIG: kubeconfig,
        SYSTEM_NAMESPACE: SYSTEM,
      }),
    );
    const headers = { ...REVISION, 'knative-serving-namespace': 'hello' };
    const res = await send(`${activator.url}/`, { headers });
    expect(res.status).toBe(200);
    expect(res.body).toBe('hello');
    // Nothing it called was refused.
    expect(activator.proc.stdout.filter((l) => /forbidden/i.test(l))).toEqual([]);
  });
});

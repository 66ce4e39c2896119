/**
 * The standalone install against a real control plane: kube-apiserver with RBAC and Node authorization,
 * the real controller manager and scheduler, etcd; the components on tokens of their own
 * ServiceAccounts. Runs in a network namespace of its own (`npm run test:cluster`), where Pod addresses
 * outside 127.0.0.0/8, which EndpointSlices require, stay inside the namespace.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlPlane, kubeBinary } from '../../packages/cluster/src/index.js';
import { REVISION } from '../support/activator-fixture.js';
import { FakeAutoscaler } from '../support/fake-autoscaler.js';
import { eventually, send } from '../support/http.js';
import { knativeRevision, privateSlice } from '../support/knative-objects.js';
import {
  activatorEnv,
  queueProxyEnv,
  ROOT,
  startActivator,
  startQueueProxy,
  startUserApp,
} from '../support/processes.js';

const SYSTEM = 'zerogate-system';
/** A Pod address of the test's own: on this namespace's loopback device, outside 127.0.0.0/8. */
const POD_IP = '10.244.0.10';

let dir: string;
let plane: ControlPlane;

/** Runs the built kubectl as cluster admin (or with `kubeconfig`); returns stdout, throws with stderr. */
function kubectl(args: readonly string[], options: { input?: string; kubeconfig?: string } = {}): string {
  return execFileSync(kubeBinary('kubectl'), args, {
    cwd: ROOT,
    encoding: 'utf8',
    input: options.input,
    env: { ...process.env, KUBECONFIG: options.kubeconfig ?? plane.adminKubeconfig },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** `kubectl auth can-i` as the ServiceAccount: the real RBAC authorizer's answer. */
function can(serviceAccount: string, verb: string, resource: string, subresource = ''): boolean {
  const r = spawnSync(
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
    { encoding: 'utf8', env: { ...process.env, KUBECONFIG: plane.adminKubeconfig } },
  );
  if (r.stdout.trim() !== 'yes' && r.stdout.trim() !== 'no') throw new Error(`kubectl auth can-i: ${r.stderr}`);
  return r.stdout.trim() === 'yes';
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'zerogate-cluster-test-'));
  plane = await ControlPlane.start({ dir, address: '127.0.0.1' });
  console.log(`control plane: /readyz after ${plane.readyAfterMs} ms`);
}, 120_000);

afterAll(async () => {
  await plane?.stop();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('deploy/base on a real control plane', () => {
  it('is accepted whole by the real apiserver (its own schema and strict field validation)', () => {
    const out = kubectl(['apply', '--validate=strict', '-k', 'deploy/base']);
    expect(out).toContain('deployment.apps/activator created');
    expect(out).toContain(
      'mutatingwebhookconfiguration.admissionregistration.k8s.io/zerogate-injector created',
    );
  });

  it('is run by the real controllers: every Deployment gets its ReplicaSet and its Pods', async () => {
    const wanted = JSON.parse(kubectl(['get', 'deployments', '-n', SYSTEM, '-o', 'json'])) as {
      items: { metadata: { name: string }; spec: { replicas: number } }[];
    };
    const replicas = wanted.items.reduce((n, d) => n + d.spec.replicas, 0);
    expect(wanted.items.map((d) => d.metadata.name).sort()).toEqual(['activator', 'autoscaler', 'injector']);
    // Pending without a node: created by the ReplicaSet controller, each carrying its app label.
    const created = await eventually(async () => {
      const pods = JSON.parse(kubectl(['get', 'pods', '-n', SYSTEM, '-o', 'json'])) as { items: unknown[] };
      return pods.items.length === replicas;
    }, 30_000);
    expect(created).toBe(true);
  });

  it('grants each ServiceAccount what its component calls, and the real RBAC authorizer refuses the rest', () => {
    // The activator reads revisions and their endpoints; it writes nothing.
    expect(can('activator', 'watch', 'revisions.serving.knative.dev')).toBe(true);
    expect(can('activator', 'list', 'endpointslices.discovery.k8s.io')).toBe(true);
    expect(can('activator', 'create', 'endpointslices.discovery.k8s.io')).toBe(false);
    expect(can('activator', 'get', 'secrets')).toBe(false);
    // The autoscaler scales Deployments through the scale subresource and owns the public slices.
    expect(can('autoscaler', 'patch', 'deployments.apps', 'scale')).toBe(true);
    expect(can('autoscaler', 'patch', 'deployments.apps')).toBe(false);
    expect(can('autoscaler', 'create', 'endpointslices.discovery.k8s.io')).toBe(true);
    expect(can('autoscaler', 'delete', 'deployments.apps')).toBe(false);
    expect(can('autoscaler', 'get', 'secrets')).toBe(false);
    // The injector wires revisions; it never touches Pods once admitted.
    expect(can('injector', 'create', 'revisions.serving.knative.dev')).toBe(true);
    expect(can('injector', 'delete', 'pods')).toBe(false);
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
    kubectl(['create', 'namespace', 'hello']);
    kubectl(['apply', '-f', '-'], {
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
    const kubeconfig = await plane.serviceAccountKubeconfig(SYSTEM, 'activator');
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

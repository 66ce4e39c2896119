/**
 * Faults on the real control plane, with deploy/base installed as deploy/README.md tells it and the
 * components running as Pods on their ServiceAccounts: a role that lacks a verb the activator needs, the
 * apiserver restarted while a request is held, the injector unreachable, and a revision whose app exits
 * at once (its requests refused at once, naming why). Each test shows what the component does through
 * the fault and after it.
 */
import { request as httpsRequest } from 'node:https';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { send, type TextResponse } from '../support/http.js';
import {
  type ClusterPod,
  podsOf as clusterPods,
  containerLog,
  installStandalone,
  isReady,
  replicasOf,
  startCluster,
  type TestCluster,
  waitFor,
} from './support/cluster.js';

const SYSTEM = 'zerogate-system';
/** The namespace of this file's revisions. */
const NS = 'faults';
const ACTIVATORS = 'app.kubernetes.io/name=activator';
/** The image table maps this to the project's Node.js. */
const NODE_IMAGE = 'node:24.21.0-bookworm-slim';

let cluster: TestCluster;

type Pod = ClusterPod;

/** One JSON line of a component's log. */
type LogLine = Record<string, unknown> & { msg?: string; time?: string };

const podsOf = (namespace: string, selector: string) => clusterPods(cluster, namespace, selector);
const revisionPods = (revision: string) => podsOf(NS, `serving.knative.dev/revision=${revision}`);
const revisionReplicas = (revision: string) => replicasOf(cluster, NS, `${revision}-deployment`);

/** The JSON lines a container of a running Pod logged so far. */
function logLines(namespace: string, pod: string, container: string): LogLine[] {
  return containerLog(cluster, namespace, pod, container)
    .split('\n')
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as LogLine];
      } catch {
        return [];
      }
    });
}

/** The API server's own message in a logged client error (its Status, which the client keeps as text). */
function apiMessage(line: LogLine): string {
  const body = (line['err'] as { body?: unknown } | undefined)?.body;
  try {
    return String((JSON.parse(String(body)) as { message?: unknown }).message ?? '');
  } catch {
    return '';
  }
}

/**
 * A revision as deploy/README.md describes one: a Deployment `<revision>-deployment` whose Pods ask for
 * the queue-proxy, here running `script` with Node.js as the app on $PORT (8080).
 */
function revisionDeployment(revision: string, script: string, annotations: Record<string, string> = {}) {
  const labels = { 'serving.knative.dev/revision': revision, 'zerogate.dev/inject': 'enabled' };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: `${revision}-deployment`, namespace: NS },
    spec: {
      selector: { matchLabels: { 'serving.knative.dev/revision': revision } },
      template: {
        metadata: { labels, annotations },
        spec: {
          containers: [
            {
              name: 'user-container',
              image: NODE_IMAGE,
              command: ['node', '-e', script],
              ports: [{ name: 'http1', containerPort: 8080 }],
            },
          ],
        },
      },
    },
  };
}

/** An app answering its revision's name. */
const app = (revision: string, listenAfterMs = 0) =>
  `setTimeout(() => require('node:http').createServer((q, s) => s.end('${revision}')).listen(process.env.PORT), ${listenAfterMs})`;

async function apply(...objects: unknown[]): Promise<void> {
  await cluster.kubectl(['apply', '-f', '-'], {
    input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }),
  });
}

/** A request for `revision` sent to the activator at `ip`, given up after `timeoutMs`; with its duration. */
async function viaActivator(
  ip: string,
  revision: string,
  timeoutMs: number,
): Promise<TextResponse & { ms: number }> {
  const started = Date.now();
  const res = await send(`http://${ip}:8012/`, {
    headers: { 'knative-serving-revision': revision, 'knative-serving-namespace': NS },
    signal: AbortSignal.timeout(timeoutMs),
  });
  return { ...res, ms: Date.now() - started };
}

/** A ready activator Pod that is not terminating (the first by name). */
async function readyActivator(): Promise<Pod> {
  let found: Pod | undefined;
  const ok = await waitFor(async () => {
    found = (await podsOf(SYSTEM, ACTIVATORS)).find((p) => isReady(p) && !p.metadata.deletionTimestamp);
    return found !== undefined;
  }, 60_000);
  if (!ok || !found) throw new Error('no ready activator Pod');
  return found;
}

/** Waits until the activator Pod `pod` logged `revision added` for `revision` of this file's namespace. */
async function activatorKnows(pod: string, revision: string): Promise<boolean> {
  return waitFor(
    () =>
      logLines(SYSTEM, pod, 'activator').some(
        (l) => l.msg === 'revision added' && l['revision'] === `${NS}/${revision}`,
      ),
    30_000,
  );
}

/** Whether the apiserver answers at all (any HTTP status) on its address. */
function apiserverAnswers(): Promise<boolean> {
  return new Promise((resolve) => {
    const req = httpsRequest(
      `${cluster.plane.url}/livez`,
      { rejectUnauthorized: false, timeout: 1000 },
      (res) => {
        res.resume();
        resolve(true);
      },
    );
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

beforeAll(async () => {
  cluster = await startCluster({ crashBackoff: { initialMs: 1000, maxMs: 5000 } });
  // A revision may start at zero.
  await installStandalone(cluster, ['AUTOSCALER_ALLOW_ZERO_INITIAL_SCALE=true']);
  await cluster.kubectl(['create', 'namespace', NS]);
  for (const name of ['activator', 'autoscaler', 'injector']) {
    const up = await waitFor(async () => {
      const pods = await podsOf(SYSTEM, `app.kubernetes.io/name=${name}`);
      return pods.length > 0 && pods.every(isReady);
    }, 90_000);
    if (!up) throw new Error(`${name} Pods not Ready`);
  }
}, 150_000);

afterAll(async () => {
  await cluster?.stop();
}, 60_000);

describe('faults on a real control plane', () => {
  it('an activator refused `list` on revisions logs the refused call, keeps serving, and recovers in the same process once the grant is back', async () => {
    // A revision running before the fault, kept at one Pod.
    await apply(
      revisionDeployment('known-00001', app('known-00001'), { 'autoscaling.knative.dev/min-scale': '1' }),
    );
    expect(
      await waitFor(async () => (await revisionPods('known-00001')).some(isReady), 60_000),
      'known-00001 Ready',
    ).toBe(true);

    // The fault: the applied role loses `list` on revisions, and the activators start again under it.
    const setRevisionVerbs = (verbs: string[]) =>
      cluster.kubectl([
        'patch',
        'clusterrole',
        'zerogate-activator',
        '--type=json',
        '-p',
        JSON.stringify([{ op: 'replace', path: '/rules/0/verbs', value: verbs }]),
      ]);
    await setRevisionVerbs(['watch']);
    // Whatever happens below, the next tests get the role as deployed.
    onTestFinished(async () => {
      await setRevisionVerbs(['list', 'watch']);
    });
    const before = new Set((await podsOf(SYSTEM, ACTIVATORS)).map((p) => p.metadata.name));
    await cluster.kubectl([
      'delete',
      'pods',
      '-n',
      SYSTEM,
      '-l',
      ACTIVATORS,
      '--grace-period=1',
      '--wait=false',
    ]);
    let activator: Pod | undefined;
    expect(
      await waitFor(async () => {
        activator = (await podsOf(SYSTEM, ACTIVATORS)).find(
          (p) => !before.has(p.metadata.name) && isReady(p) && !p.metadata.deletionTimestamp,
        );
        return activator !== undefined;
      }, 60_000),
      'a new activator Pod Ready under the reduced role',
    ).toBe(true);
    const { name, uid } = activator!.metadata;
    const ip = activator!.status.podIP!;
    const restarts = activator!.status.containerStatuses?.[0]?.restartCount;
    expect(restarts).toEqual(expect.any(Number));

    // It names the refused call: the API server's own words, with the verb and the resource.
    let refused: LogLine | undefined;
    expect(
      await waitFor(() => {
        refused = logLines(SYSTEM, name, 'activator').find(
          (l) => l['watch'] === 'revisions' && /forbidden/.test(apiMessage(l)),
        );
        return refused !== undefined;
      }, 10_000),
      'a log line naming the forbidden call',
    ).toBe(true);
    expect(refused!['level']).toBe('warn');
    expect(apiMessage(refused!)).toContain(
      'cannot list resource "revisions" in API group "serving.knative.dev" at the cluster scope',
    );

    // It keeps serving what it can: its health checks, and a revision it learns from its EndpointSlices.
    const health = await send(`http://${ip}:8012/`, { headers: { 'user-agent': 'kube-probe/1.34' } });
    expect(health.status).toBe(200);
    const known = await viaActivator(ip, 'known-00001', 30_000);
    expect([known.status, known.body]).toEqual([200, 'known-00001']);

    // The grant is back: the same process lists revisions again.
    await setRevisionVerbs(['list', 'watch']);
    expect(
      await waitFor(
        () =>
          logLines(SYSTEM, name, 'activator').some(
            (l) => l.msg === 'watch resumed' && l['watch'] === 'revisions',
          ),
        30_000,
      ),
      'the revisions watch resumed',
    ).toBe(true);

    // A revision made after the fix, whose app listens only after 10 s: the activator holds a request
    // for it no longer than the 3 s its Revision sets (the default, without the Revision, is 300 s),
    // then forwards one once the Pod is ready.
    await apply(
      revisionDeployment('later-00001', app('later-00001', 10_000), { 'zerogate.dev/timeout-seconds': '3' }),
    );
    expect(await activatorKnows(name, 'later-00001'), 'later-00001 known').toBe(true);
    // The injector creates the Revision and the Services together: the activator may know the revision
    // from its EndpointSlices a moment before its Revision.
    expect(
      await waitFor(
        () =>
          cluster.kubectl(['get', 'revisions.serving.knative.dev', 'later-00001', '-n', NS]).then(
            () => true,
            () => false,
          ),
        10_000,
      ),
      'Revision later-00001 created',
    ).toBe(true);
    const held = await viaActivator(ip, 'later-00001', 15_000);
    expect(held.status).toBe(504);
    expect(held.body).toContain('activator request timeout');
    expect(held.ms).toBeGreaterThanOrEqual(2_900);
    expect(held.ms).toBeLessThan(6_000);
    expect(
      await waitFor(async () => (await revisionPods('later-00001')).some(isReady), 60_000),
      'later-00001 Ready',
    ).toBe(true);
    const later = await viaActivator(ip, 'later-00001', 30_000);
    expect([later.status, later.body]).toEqual([200, 'later-00001']);

    // All of it in the same Pod and process.
    const now = (await podsOf(SYSTEM, ACTIVATORS)).find((p) => p.metadata.name === name);
    expect(now?.metadata.uid).toBe(uid);
    expect(now?.status.containerStatuses?.[0]?.restartCount).toBe(restarts);
  }, 200_000);

  it('a request held while the apiserver restarts is answered: the autoscaler scales and the activator sees the new Pod once they resume', async () => {
    await apply(
      revisionDeployment('wake-00001', app('wake-00001'), {
        'autoscaling.knative.dev/initial-scale': '0',
        'zerogate.dev/timeout-seconds': '90',
      }),
    );
    const activator = await readyActivator();
    const ip = activator.status.podIP!;
    expect(await activatorKnows(activator.metadata.name, 'wake-00001'), 'wake-00001 known').toBe(true);
    expect(
      await waitFor(
        async () =>
          (await revisionReplicas('wake-00001')) === 0 && !(await revisionPods('wake-00001')).some(isReady),
        60_000,
      ),
      'wake-00001 at zero',
    ).toBe(true);

    // The apiserver goes down; the request arrives while it is down, and is held.
    const restarted = cluster.plane.restartApiserver();
    expect(await waitFor(async () => !(await apiserverAnswers()), 20_000), 'apiserver down').toBe(true);
    const downAt = Date.now();
    const answer = viaActivator(ip, 'wake-00001', 90_000);
    await restarted;

    const res = await answer;
    expect([res.status, res.body]).toEqual([200, 'wake-00001']);
    expect(await revisionReplicas('wake-00001')).toBeGreaterThanOrEqual(1);
    // The scale came from the autoscaler, after the apiserver went down.
    const [autoscaler] = await podsOf(SYSTEM, 'app.kubernetes.io/name=autoscaler');
    const scaled = logLines(SYSTEM, autoscaler!.metadata.name, 'autoscaler').filter(
      (l) => l.msg === 'scaled revision' && l['revision'] === `${NS}/wake-00001` && l['to'] === 1,
    );
    expect(scaled.length).toBeGreaterThan(0);
    expect(scaled.map((l) => Date.parse(l.time ?? '') >= downAt)).not.toContain(false);
  }, 150_000);

  it('with no injector answering, an opted-in Pod is refused with the webhook error (failurePolicy Fail) while other Pods are created; its ReplicaSet retries until an injector answers', async () => {
    await cluster.kubectl(['scale', 'deployment/injector', '-n', SYSTEM, '--replicas=0']);
    onTestFinished(async () => {
      await cluster.kubectl(['scale', 'deployment/injector', '-n', SYSTEM, '--replicas=2']);
    });
    expect(
      await waitFor(
        async () => (await podsOf(SYSTEM, 'app.kubernetes.io/name=injector')).length === 0,
        60_000,
      ),
      'injector Pods gone',
    ).toBe(true);

    const pod = (name: string, namespace: string, labels: Record<string, string>) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace, labels },
      spec: {
        terminationGracePeriodSeconds: 0,
        // The restricted Pod Security Standard, which zerogate-system enforces.
        securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } },
        containers: [
          {
            name: 'app',
            image: NODE_IMAGE,
            command: ['node', '-e', "require('node:http').createServer().listen(8080)"],
            ports: [{ containerPort: 8080 }],
            securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
          },
        ],
      },
    });
    const create = (o: unknown) => cluster.kubectl(['create', '-f', '-'], { input: JSON.stringify(o) });
    const optIn = { 'zerogate.dev/inject': 'enabled', 'serving.knative.dev/revision': 'bare-00001' };

    // Opted in: refused with the apiserver's webhook error, nothing created.
    await expect(create(pod('opted-in', NS, optIn))).rejects.toThrow(
      /failed calling webhook "inject\.zerogate\.dev"/,
    );
    await expect(cluster.kubectl(['get', 'pod', 'opted-in', '-n', NS])).rejects.toThrow(/NotFound/);
    // Not opted in, or in zerogate-system: created as written, no sidecar.
    await create(pod('plain', NS, { app: 'plain' }));
    await create(pod('system', SYSTEM, optIn));
    for (const [namespace, name] of [
      [NS, 'plain'],
      [SYSTEM, 'system'],
    ] as const) {
      const created = await cluster.getJson<Pod>(['pod', name, '-n', namespace]);
      expect(created.spec.initContainers ?? [], `${namespace}/${name}`).toEqual([]);
    }
    await cluster.kubectl(['delete', 'pod', 'plain', '-n', NS, '--wait=false']);
    await cluster.kubectl(['delete', 'pod', 'system', '-n', SYSTEM, '--wait=false']);

    // A labelled Deployment made meanwhile gets no Pod; its ReplicaSet says why, and retries.
    await apply(revisionDeployment('held-00001', app('held-00001')));
    let failure = '';
    expect(
      await waitFor(async () => {
        const sets = await cluster.getJson<{
          items: { status: { conditions?: { type: string; message?: string }[] } }[];
        }>(['replicasets', '-n', NS, '-l', 'serving.knative.dev/revision=held-00001']);
        failure =
          sets.items.flatMap((s) => s.status.conditions ?? []).find((c) => c.type === 'ReplicaFailure')
            ?.message ?? '';
        return failure !== '';
      }, 30_000),
      'ReplicaFailure on the ReplicaSet',
    ).toBe(true);
    expect(failure).toMatch(/failed calling webhook "inject\.zerogate\.dev"/);
    expect(await revisionPods('held-00001')).toEqual([]);

    await cluster.kubectl(['scale', 'deployment/injector', '-n', SYSTEM, '--replicas=2']);
    let held: Pod | undefined;
    expect(
      await waitFor(async () => {
        [held] = await revisionPods('held-00001');
        return held !== undefined;
      }, 90_000),
      'held-00001 Pod created once an injector answers',
    ).toBe(true);
    expect(held!.spec.initContainers?.map((c) => c.name)).toEqual(['queue-proxy']);
  }, 200_000);

  it('a revision whose app exits at once crash-loops with back-off, and a request for it gets 503 naming the reason within seconds, not 504 at the revision timeout', async () => {
    await apply(
      revisionDeployment('crash-00001', 'process.exit(1)', { 'zerogate.dev/timeout-seconds': '60' }),
    );
    const reasons = new Set<string>();
    let user: NonNullable<Pod['status']['containerStatuses']>[number] | undefined;
    const readUser = async () => {
      const [p] = await revisionPods('crash-00001');
      user = p?.status.containerStatuses?.find((c) => c.name === 'user-container');
      for (const s of Object.values(user?.state ?? {})) if (s.reason) reasons.add(s.reason);
    };
    expect(
      await waitFor(async () => {
        await readUser();
        return reasons.has('CrashLoopBackOff');
      }, 60_000),
      'CrashLoopBackOff',
    ).toBe(true);
    const restartsBefore = user!.restartCount;
    expect(restartsBefore).toBeGreaterThanOrEqual(1);

    // The activator watches the revision's Pods (its role grants pods): the request is refused with the
    // Pod's reason as soon as the container is down again, never held to the 60 s timeout.
    const activator = await readyActivator();
    expect(await activatorKnows(activator.metadata.name, 'crash-00001'), 'crash-00001 known').toBe(true);
    const res = await viaActivator(activator.status.podIP!, 'crash-00001', 20_000);
    expect(res.status).toBe(503);
    expect(res.body).toMatch(
      /^revision crash-00001 failing: user-container exited with code 1 \(\d+ restarts?\)(: CrashLoopBackOff)?\n$/,
    );
    expect(res.headers['zerogate-error']).toBe('activator; revision-failing');
    expect(res.headers['retry-after']).toBe('5');
    expect(res.ms).toBeLessThan(15_000);

    // The node goes on restarting it after its back-off; it never turns ready.
    expect(
      await waitFor(async () => {
        await readUser();
        return (user?.restartCount ?? 0) > restartsBefore;
      }, 30_000),
      'restarted again',
    ).toBe(true);
    expect(user!.ready).toBe(false);
  }, 120_000);
});

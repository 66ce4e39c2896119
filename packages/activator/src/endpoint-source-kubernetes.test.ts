import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  KubeConfig,
  type KubernetesObject,
  type V1EndpointSlice,
  type V1Endpoints,
} from '@kubernetes/client-node';
import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { InformerHarness } from '../../../test/support/informer-harness.js';
import type { EndpointListener, RevisionInfo } from './endpoint-source.js';
import {
  ENDPOINTSLICES_FORBIDDEN_MESSAGE,
  KubernetesEndpointSource,
  type KubernetesEndpointSourceOptions,
  PODS_FORBIDDEN_MESSAGE,
  REVISION_LABEL,
  SERVICE_TYPE_LABEL,
} from './endpoint-source-kubernetes.js';

const SLICES = '/apis/discovery.k8s.io/v1/endpointslices';
const REVISIONS = '/apis/serving.knative.dev/v1/revisions';

/** Records every delivery, and the state they add up to. */
class Recorder implements EndpointListener {
  readonly events: ({ op: 'upsert'; info: RevisionInfo } | { op: 'remove'; key: string })[] = [];
  readonly current = new Map<string, RevisionInfo>();

  upsert(info: RevisionInfo): void {
    this.events.push({ op: 'upsert', info });
    this.current.set(`${info.namespace}/${info.name}`, info);
  }

  remove(namespace: string, name: string): void {
    this.events.push({ op: 'remove', key: `${namespace}/${name}` });
    this.current.delete(`${namespace}/${name}`);
  }

  upserts(key: string): RevisionInfo[] {
    return this.events.flatMap((e) =>
      e.op === 'upsert' && `${e.info.namespace}/${e.info.name}` === key ? [e.info] : [],
    );
  }
}

const harness = new InformerHarness<KubernetesEndpointSource, KubernetesEndpointSourceOptions>(
  (options) => new KubernetesEndpointSource(options),
);

async function started(options: Partial<KubernetesEndpointSourceOptions> = {}): Promise<Recorder> {
  const recorder = new Recorder();
  await harness.make(options).start(recorder);
  return recorder;
}

async function waitFor(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Lets in-flight watch events arrive, to check that nothing more is delivered where no later event can
 * mark that point (after stop, or where only a retry timer could act).
 */
function settle(ms = 100): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

let markers = 0;

/**
 * Changes a revision of the test's own, on both the Revisions watch and the watch of its Pods (the
 * EndpointSlices, or the Endpoints once the source follows those), and waits for its delivery: every
 * change applied before it on those watches has been processed by then. Returns the marker's key, to
 * leave its events out.
 */
async function marked(recorder: Recorder, pods: 'slices' | 'endpoints' = 'slices'): Promise<string> {
  const name = `marker-${++markers}`;
  harness.server.apply(revision('ns1', name, { containerConcurrency: 7 }));
  harness.server.apply(
    pods === 'slices'
      ? privateSlice('ns1', name, `${name}-a`, [{ ip: '10.9.9.9', ready: true }])
      : endpoints(`${name}-private`, name, 'Private', [
          { addresses: [{ ip: '10.9.9.9' }], ports: [{ name: 'http', port: 8012 }] },
        ]),
  );
  const key = `ns1/${name}`;
  await waitFor(() => {
    const m = recorder.current.get(key);
    return m?.containerConcurrency === 7 && m.ready.length === 1;
  }, 'the marker revision');
  return key;
}

/** The recorder's events that are not about `marker`. */
function besides(recorder: Recorder, marker: string): Recorder['events'] {
  return recorder.events.filter((e) =>
    e.op === 'upsert' ? `${e.info.namespace}/${e.info.name}` !== marker : e.key !== marker,
  );
}

/** Once stopped, no request starts (one already on the wire may still arrive) and no watch stays open. */
async function expectQuietAfterStop(): Promise<void> {
  await settle(20);
  const count = harness.server.requests.length;
  await settle(60);
  expect(harness.server.requests.length).toBe(count);
  expect(harness.server.openWatches).toBe(0);
}

interface Pod {
  ip: string;
  ready?: boolean;
  terminating?: boolean;
}

function privateSlice(
  ns: string,
  revision: string,
  name: string,
  pods: Pod[],
  ports = [{ name: 'http', port: 8012 }],
): V1EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name,
      namespace: ns,
      labels: {
        [REVISION_LABEL]: revision,
        [SERVICE_TYPE_LABEL]: 'Private',
        'kubernetes.io/service-name': `${revision}-private`,
      },
    },
    addressType: pods[0]?.ip.includes(':') ? 'IPv6' : 'IPv4',
    ports,
    endpoints: pods.map((p) => ({
      addresses: [p.ip],
      conditions: {
        ...(p.ready === undefined ? {} : { ready: p.ready }),
        ...(p.terminating === undefined ? {} : { terminating: p.terminating }),
      },
    })),
  };
}

function publicSlice(ns: string, revision: string, name: string, ips: string[]): V1EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name,
      namespace: ns,
      labels: {
        [REVISION_LABEL]: revision,
        [SERVICE_TYPE_LABEL]: 'Public',
        'kubernetes.io/service-name': revision,
      },
    },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8012 }],
    endpoints: ips.map((ip) => ({ addresses: [ip], conditions: { ready: true } })),
  };
}

function revision(ns: string, name: string, spec: unknown = {}): KubernetesObject & { spec: unknown } {
  return { apiVersion: 'serving.knative.dev/v1', kind: 'Revision', metadata: { name, namespace: ns }, spec };
}

function endpoints(
  name: string,
  rev: string,
  type: string,
  subsets: V1Endpoints['subsets'],
  ns = 'ns1',
): V1Endpoints {
  return {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { name, namespace: ns, labels: { [REVISION_LABEL]: rev, [SERVICE_TYPE_LABEL]: type } },
    subsets,
  };
}

function info(namespace: string, name: string, fields: Partial<RevisionInfo> = {}): RevisionInfo {
  return {
    namespace,
    name,
    containerConcurrency: 0,
    timeoutSeconds: 300,
    responseStartTimeoutSeconds: 0,
    idleTimeoutSeconds: 0,
    ready: [],
    notReady: [],
    activators: [],
    ...fields,
  };
}

describe('KubernetesEndpointSource', () => {
  it('delivers the merged initial state of every revision once before start resolves', async () => {
    harness.server.apply(
      revision('ns1', 'r1', {
        containerConcurrency: 10,
        timeoutSeconds: 60,
        responseStartTimeoutSeconds: 5,
        idleTimeoutSeconds: 7,
      }),
    );
    harness.server.apply(
      privateSlice(
        'ns1',
        'r1',
        'r1-private-a',
        [
          { ip: '10.0.0.2', ready: true },
          { ip: '10.0.0.1', ready: true },
          { ip: '10.0.0.3', ready: false },
          { ip: '10.0.0.4' },
          { ip: '10.0.0.5', ready: false, terminating: true },
        ],
        // The queue-proxy port is the one named http, wherever it is listed.
        [
          { name: 'http-autometric', port: 9090 },
          { name: 'https', port: 8112 },
          { name: 'http', port: 8012 },
        ],
      ),
    );
    harness.server.apply(publicSlice('ns1', 'r1', 'r1-abcde', ['10.1.0.9', '10.1.0.10']));
    harness.server.apply(privateSlice('ns2', 'r2', 'r2-private-a', [{ ip: '10.0.1.1', ready: true }]));
    // Only a public slice, no Revision and no private endpoints: not a revision yet.
    harness.server.apply(publicSlice('ns2', 'r3', 'r3-abcde', ['10.1.0.9']));

    const recorder = await started();
    expect(recorder.events).toHaveLength(2);
    expect(recorder.current.get('ns1/r1')).toEqual(
      info('ns1', 'r1', {
        containerConcurrency: 10,
        timeoutSeconds: 60,
        responseStartTimeoutSeconds: 5,
        idleTimeoutSeconds: 7,
        ready: ['10.0.0.1:8012', '10.0.0.2:8012'],
        notReady: ['10.0.0.3:8012', '10.0.0.4:8012'],
        activators: ['10.1.0.10', '10.1.0.9'],
      }),
    );
    // No Revision object yet: the defaults.
    expect(recorder.current.get('ns2/r2')).toEqual(info('ns2', 'r2', { ready: ['10.0.1.1:8012'] }));
  });

  it('uses the http2 port for h2c revisions and brackets IPv6 addresses', async () => {
    harness.server.apply(
      privateSlice(
        'ns1',
        'r1',
        'r1-private-a',
        [{ ip: 'fd00::1', ready: true }],
        [
          { name: 'https', port: 8112 },
          { name: 'http2', port: 8013 },
        ],
      ),
    );
    const recorder = await started();
    expect(recorder.current.get('ns1/r1')?.ready).toEqual(['[fd00::1]:8013']);
  });

  it('moves a Pod from notReady to ready', async () => {
    harness.server.apply(revision('ns1', 'r1', { containerConcurrency: 1 }));
    harness.server.apply(privateSlice('ns1', 'r1', 'r1-a', [{ ip: '10.0.0.1', ready: false }]));
    const recorder = await started();
    expect(recorder.current.get('ns1/r1')).toMatchObject({ ready: [], notReady: ['10.0.0.1:8012'] });

    harness.server.apply(privateSlice('ns1', 'r1', 'r1-a', [{ ip: '10.0.0.1', ready: true }]));
    await waitFor(() => recorder.current.get('ns1/r1')?.ready.length === 1, 'the ready Pod');
    expect(recorder.current.get('ns1/r1')).toMatchObject({ ready: ['10.0.0.1:8012'], notReady: [] });
    expect(recorder.upserts('ns1/r1')).toHaveLength(2);
  });

  it('follows Pods coming and going, and removes a revision once its Revision and private endpoints are gone', async () => {
    harness.server.apply(revision('ns1', 'r1'));
    const recorder = await started();
    expect(recorder.current.get('ns1/r1')).toEqual(info('ns1', 'r1'));

    harness.server.apply(privateSlice('ns1', 'r1', 'r1-a', [{ ip: '10.0.0.1', ready: true }]));
    await waitFor(() => recorder.current.get('ns1/r1')?.ready.length === 1, 'the first Pod');
    harness.server.apply(
      privateSlice('ns1', 'r1', 'r1-a', [
        { ip: '10.0.0.1', ready: true },
        { ip: '10.0.0.2', ready: true },
      ]),
    );
    await waitFor(() => recorder.current.get('ns1/r1')?.ready.length === 2, 'the second Pod');
    harness.server.apply(privateSlice('ns1', 'r1', 'r1-a', [{ ip: '10.0.0.2', ready: true }]));
    await waitFor(() => recorder.current.get('ns1/r1')?.ready[0] === '10.0.0.2:8012', 'the first Pod gone');

    // Scaled to zero and the slice gone: the Revision still exists, with no Pods.
    harness.server.delete('EndpointSlice', 'ns1', 'r1-a');
    await waitFor(() => recorder.current.get('ns1/r1')?.ready.length === 0, 'no Pods');
    harness.server.delete('Revision', 'ns1', 'r1');
    await waitFor(() => !recorder.current.has('ns1/r1'), 'the removal');
    expect(recorder.events.at(-1)).toEqual({ op: 'remove', key: 'ns1/r1' });
    expect(recorder.upserts('ns1/r1')).toHaveLength(5);
  });

  it('merges every private slice of a revision; a Pod in two slices counts once, ready winning', async () => {
    harness.server.apply(
      privateSlice('ns1', 'r1', 'r1-a', [
        { ip: '10.0.0.1', ready: true },
        { ip: '10.0.0.2', ready: false },
      ]),
    );
    harness.server.apply(
      privateSlice('ns1', 'r1', 'r1-b', [
        { ip: '10.0.0.3', ready: true },
        { ip: '10.0.0.2', ready: true },
        { ip: '10.0.0.1', ready: true },
      ]),
    );
    harness.server.apply(privateSlice('ns1', 'r2', 'r2-a', [{ ip: '10.0.0.9', ready: true }]));
    const recorder = await started();
    expect(recorder.current.get('ns1/r1')).toMatchObject({
      ready: ['10.0.0.1:8012', '10.0.0.2:8012', '10.0.0.3:8012'],
      notReady: [],
    });
    harness.server.delete('EndpointSlice', 'ns1', 'r1-b');
    await waitFor(() => recorder.current.get('ns1/r1')?.ready.length === 1, 'the slice removal');
    expect(recorder.current.get('ns1/r1')).toMatchObject({
      ready: ['10.0.0.1:8012'],
      notReady: ['10.0.0.2:8012'],
    });
    expect(recorder.current.get('ns1/r2')?.ready).toEqual(['10.0.0.9:8012']);
  });

  it('moves a relabelled slice to its new revision', async () => {
    harness.server.apply(privateSlice('ns1', 'r1', 'shared', [{ ip: '10.0.0.1', ready: true }]));
    harness.server.apply(revision('ns1', 'r1'));
    const recorder = await started();
    harness.server.apply(privateSlice('ns1', 'r2', 'shared', [{ ip: '10.0.0.1', ready: true }]));
    await waitFor(() => recorder.current.has('ns1/r2'), 'the new revision');
    await waitFor(() => recorder.current.get('ns1/r1')?.ready.length === 0, 'the old revision emptied');
  });

  it('picks up Revision concurrency and timeouts, with defaults for missing fields', async () => {
    harness.server.apply(revision('ns1', 'r1', { containerConcurrency: 0 }));
    const recorder = await started();
    expect(recorder.current.get('ns1/r1')).toEqual(info('ns1', 'r1'));

    harness.server.apply(revision('ns1', 'r1', { containerConcurrency: 3, timeoutSeconds: 30 }));
    await waitFor(() => recorder.current.get('ns1/r1')?.containerConcurrency === 3, 'the new concurrency');
    expect(recorder.current.get('ns1/r1')).toEqual(
      info('ns1', 'r1', { containerConcurrency: 3, timeoutSeconds: 30 }),
    );

    harness.server.apply(
      revision('ns1', 'r1', { containerConcurrency: 3, timeoutSeconds: 30, idleTimeoutSeconds: 9 }),
    );
    await waitFor(() => recorder.current.get('ns1/r1')?.idleTimeoutSeconds === 9, 'the idle timeout');

    // A change elsewhere in the Revision leaves the routing facts as they are: nothing is delivered.
    const count = recorder.events.length;
    harness.server.apply({
      ...revision('ns1', 'r1', { containerConcurrency: 3, timeoutSeconds: 30, idleTimeoutSeconds: 9 }),
      metadata: { name: 'r1', namespace: 'ns1', annotations: { touched: 'yes' } },
    });
    const marker = await marked(recorder);
    expect(besides(recorder, marker)).toHaveLength(count);
  });

  it('takes the Service and Configuration names from the Revision’s labels, for metrics', async () => {
    harness.server.apply({
      ...revision('ns1', 'r1'),
      metadata: {
        name: 'r1',
        namespace: 'ns1',
        labels: { 'serving.knative.dev/service': 'svc', 'serving.knative.dev/configuration': 'cfg' },
      },
    });
    const recorder = await started();
    expect(recorder.current.get('ns1/r1')).toEqual({
      ...info('ns1', 'r1'),
      service: 'svc',
      configuration: 'cfg',
    });
  });

  describe("failing revisions, from their Pods and their Revision's Ready condition (docs/activator.md §10.1)", () => {
    const pod = (name: string, status: unknown, revisionName = 'r1') => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: 'ns1', labels: { 'serving.knative.dev/revision': revisionName } },
      spec: { containers: [{ name: 'user-container', image: 'x' }] },
      status,
    });
    const crashLooping = {
      phase: 'Running',
      containerStatuses: [
        {
          name: 'user-container',
          restartCount: 2,
          state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off' } },
          lastState: { terminated: { exitCode: 1 } },
        },
      ],
    };
    const runningAgain = {
      phase: 'Running',
      containerStatuses: [{ name: 'user-container', restartCount: 3, state: { running: {} } }],
    };

    it('marks a revision failing while its Pod crash-loops, and clears it once the container runs again', async () => {
      harness.server.apply(revision('ns1', 'r1'));
      harness.server.apply(pod('r1-pod', crashLooping));
      const recorder = await started();
      expect(recorder.current.get('ns1/r1')?.failing).toBe(
        'user-container exited with code 1 (2 restarts): CrashLoopBackOff',
      );
      harness.server.apply(pod('r1-pod', runningAgain));
      await waitFor(() => recorder.current.get('ns1/r1')?.failing === undefined, 'the failing mark cleared');
      // A Pod of another revision changes nothing here.
      harness.server.apply(pod('r2-pod', crashLooping, 'r2'));
      harness.server.apply(pod('r1-pod', crashLooping));
      await waitFor(() => recorder.current.get('ns1/r1')?.failing !== undefined, 'failing again');
      harness.server.delete('Pod', 'ns1', 'r1-pod');
      await waitFor(() => recorder.current.get('ns1/r1')?.failing === undefined, 'the Pod gone');
    });

    it("takes a Revision's Ready=False as failing while none of its Pods is starting or running", async () => {
      harness.server.apply({
        ...revision('ns1', 'r1'),
        status: {
          conditions: [
            {
              type: 'Ready',
              status: 'False',
              reason: 'ProgressDeadlineExceeded',
              message: 'Initial scale was never achieved',
            },
          ],
        },
      });
      const recorder = await started();
      expect(recorder.current.get('ns1/r1')?.failing).toBe(
        'ProgressDeadlineExceeded: Initial scale was never achieved',
      );
      harness.server.apply(pod('r1-new', { phase: 'Pending' }));
      await waitFor(() => recorder.current.get('ns1/r1')?.failing === undefined, 'a new Pod starting');
    });

    it('warns once where listing Pods is forbidden, and keeps the Revision rule', async () => {
      harness.server.authorize = (r) => !(r.path.includes('/pods') && r.verb === 'list');
      harness.server.apply({
        ...revision('ns1', 'r1'),
        status: { conditions: [{ type: 'Ready', status: 'False', reason: 'ExitCode1' }] },
      });
      const recorder = await started({ backoff: { initialMs: 5, maxMs: 10 } });
      expect(recorder.current.get('ns1/r1')?.failing).toBe('ExitCode1');
      await new Promise((r) => setTimeout(r, 100));
      expect(harness.server.requests.filter((r) => r.path.includes('/pods'))).toHaveLength(1);
      expect(harness.logs.filter((l) => l.msg === PODS_FORBIDDEN_MESSAGE)).toHaveLength(1);
    });
  });

  it('passes on the Revision’s zerogate.dev/ annotations, and delivers a change of them', async () => {
    const annotated = (value: string) => ({
      ...revision('ns1', 'r1'),
      metadata: {
        name: 'r1',
        namespace: 'ns1',
        annotations: { 'zerogate.dev/slow-start': value, 'autoscaling.knative.dev/target': '5' },
      },
    });
    harness.server.apply(annotated('2s'));
    const recorder = await started();
    expect(recorder.current.get('ns1/r1')?.annotations).toEqual({ 'zerogate.dev/slow-start': '2s' });
    harness.server.apply(annotated('0s'));
    await vi.waitFor(() =>
      expect(recorder.current.get('ns1/r1')?.annotations).toEqual({ 'zerogate.dev/slow-start': '0s' }),
    );
  });

  it('uses the defaults for malformed Revision fields, and logs them', async () => {
    harness.server.apply(
      revision('ns1', 'r1', {
        containerConcurrency: 'ten',
        timeoutSeconds: -5,
        responseStartTimeoutSeconds: 10,
        idleTimeoutSeconds: 1.5,
      }),
    );
    harness.server.apply(revision('ns1', 'r2', 'not an object'));
    const recorder = await started();
    expect(recorder.current.get('ns1/r1')).toEqual(info('ns1', 'r1', { responseStartTimeoutSeconds: 10 }));
    expect(recorder.current.get('ns1/r2')).toEqual(info('ns1', 'r2'));
    const warnings = harness.logs.filter((l) => l.msg.startsWith('malformed Revision'));
    expect(warnings.map((w) => w['revision'])).toEqual(['ns1/r1', 'ns1/r2']);
    expect(warnings[0]?.problems).toHaveLength(3);
    expect(warnings[0]?.level).toBe(40);
  });

  it('takes the activators in the path from the public slices', async () => {
    harness.server.apply(revision('ns1', 'r1', { containerConcurrency: 2 }));
    harness.server.apply(privateSlice('ns1', 'r1', 'r1-private-a', [{ ip: '10.0.0.1', ready: true }]));
    const recorder = await started();
    expect(recorder.current.get('ns1/r1')?.activators).toEqual([]);

    harness.server.apply(publicSlice('ns1', 'r1', 'r1-a', ['10.2.0.3', '10.2.0.1']));
    harness.server.apply(publicSlice('ns1', 'r1', 'r1-b', ['10.2.0.2']));
    await waitFor(() => recorder.current.get('ns1/r1')?.activators.length === 3, 'the activators');
    expect(recorder.current.get('ns1/r1')?.activators).toEqual(['10.2.0.1', '10.2.0.2', '10.2.0.3']);

    // Serve mode: the public slice points at the Pods themselves.
    harness.server.delete('EndpointSlice', 'ns1', 'r1-b');
    harness.server.apply(publicSlice('ns1', 'r1', 'r1-a', ['10.0.0.1']));
    await waitFor(() => recorder.current.get('ns1/r1')?.activators.length === 1, 'the Serve-mode slice');
    expect(recorder.current.get('ns1/r1')?.activators).toEqual(['10.0.0.1']);
    expect(recorder.current.get('ns1/r1')?.ready).toEqual(['10.0.0.1:8012']);
  });

  it('resumes cut watches with nothing lost or delivered twice', async () => {
    harness.server.apply(revision('ns1', 'r1', { containerConcurrency: 1 }));
    harness.server.apply(privateSlice('ns1', 'r1', 'r1-a', [{ ip: '10.0.0.1', ready: true }]));
    const recorder = await started();
    expect(harness.server.openWatches).toBe(4);

    harness.server.cutWatches();
    // Changed while no watch is open: replayed when the watches resume.
    harness.server.apply(
      privateSlice('ns1', 'r1', 'r1-a', [
        { ip: '10.0.0.1', ready: true },
        { ip: '10.0.0.2', ready: true },
      ]),
    );
    await waitFor(() => recorder.current.get('ns1/r1')?.ready.length === 2, 'the replayed change');
    await waitFor(() => harness.server.openWatches === 4, 'every watch back');
    harness.server.apply(revision('ns1', 'r1', { containerConcurrency: 4 }));
    harness.server.apply(privateSlice('ns1', 'r1', 'r1-b', [{ ip: '10.0.0.3', ready: true }]));
    await waitFor(() => recorder.current.get('ns1/r1')?.ready.length === 3, 'the change after resuming');
    await waitFor(() => recorder.current.get('ns1/r1')?.containerConcurrency === 4, 'the new concurrency');
    await marked(recorder);

    const upserts = recorder.upserts('ns1/r1');
    for (let i = 1; i < upserts.length; i++) expect(upserts[i]).not.toEqual(upserts[i - 1]);
    expect(upserts.map((u) => [u.ready.length, u.containerConcurrency])).toEqual([
      [1, 1],
      [2, 1],
      ...(upserts[2]?.containerConcurrency === 4
        ? [
            [2, 4],
            [3, 4],
          ]
        : [
            [3, 1],
            [3, 4],
          ]),
    ]);
    // Resumed from the last resourceVersion: one list per informer.
    expect(harness.server.requests.filter((r) => r.verb === 'list')).toHaveLength(4);
    // The client reports a cut as an error, logged once per watch (or, depending on timing, as a clean end).
    const failures = harness.logs
      .filter((l) => l.msg === 'watch failed; retrying with backoff')
      .map((l) => l.watch);
    expect(new Set(failures).size).toBe(failures.length);
  });

  it('relists after 410 Gone and converges', async () => {
    harness.server.apply(revision('ns1', 'r1'));
    harness.server.apply(revision('ns1', 'r2'));
    harness.server.apply(privateSlice('ns1', 'r1', 'r1-a', [{ ip: '10.0.0.1', ready: true }]));
    harness.server.apply(privateSlice('ns1', 'r1', 'r1-b', [{ ip: '10.0.0.2', ready: true }]));
    harness.server.apply(privateSlice('ns1', 'r2', 'r2-a', [{ ip: '10.0.0.8', ready: true }]));
    const recorder = await started();

    harness.server.cutWatches();
    harness.server.delete('EndpointSlice', 'ns1', 'r1-b');
    harness.server.apply(privateSlice('ns1', 'r1', 'r1-c', [{ ip: '10.0.0.3', ready: false }]));
    harness.server.delete('EndpointSlice', 'ns1', 'r2-a');
    harness.server.delete('Revision', 'ns1', 'r2');
    harness.server.apply(revision('ns1', 'r1', { containerConcurrency: 7 }));
    harness.server.compactHistory();

    await waitFor(() => !recorder.current.has('ns1/r2'), 'r2 removed');
    await waitFor(() => recorder.current.get('ns1/r1')?.containerConcurrency === 7, 'the relisted Revision');
    await waitFor(() => recorder.current.get('ns1/r1')?.notReady.length === 1, 'the relisted slices');
    expect(recorder.current.get('ns1/r1')).toEqual(
      info('ns1', 'r1', { containerConcurrency: 7, ready: ['10.0.0.1:8012'], notReady: ['10.0.0.3:8012'] }),
    );
    expect(harness.server.requests.filter((r) => r.verb === 'list').length).toBeGreaterThanOrEqual(6);

    // And it keeps watching afterwards.
    harness.server.apply(privateSlice('ns1', 'r1', 'r1-c', [{ ip: '10.0.0.3', ready: true }]));
    await waitFor(() => recorder.current.get('ns1/r1')?.ready.length === 2, 'a change after the relist');
  });

  it('retries failed lists with backoff, logging once per streak, and converges', async () => {
    harness.server.apply(revision('ns1', 'r1', { containerConcurrency: 5 }));
    harness.server.apply(privateSlice('ns1', 'r1', 'r1-a', [{ ip: '10.0.0.1', ready: true }]));
    harness.server.failNext('list', REVISIONS, 500, 3);
    const began = Date.now();
    const recorder = await started({ backoff: { initialMs: 20, maxMs: 1000, factor: 2 } });
    // The first attempt failed, so start delivered what it had: the Pods, with default concurrency.
    expect(recorder.current.get('ns1/r1')).toMatchObject({
      containerConcurrency: 0,
      ready: ['10.0.0.1:8012'],
    });

    await waitFor(() => recorder.current.get('ns1/r1')?.containerConcurrency === 5, 'the retried list');
    // Three failures: waits of 20, 40 and 80 ms.
    expect(Date.now() - began).toBeGreaterThanOrEqual(140);
    expect(harness.server.requests.filter((r) => r.verb === 'list' && r.path === REVISIONS)).toHaveLength(4);
    // Resumed once the watch is open too, just after the list.
    await waitFor(() => harness.logs.some((l) => l.msg === 'watch resumed'), 'the recovery log');
    const about = harness.logs.filter((l) => l.watch === 'revisions');
    expect(about.map((l) => [l.level, l.msg])).toEqual([
      [40, 'watch failed; retrying with backoff'],
      [20, 'watch failed again'],
      [20, 'watch failed again'],
      [30, 'watch resumed'],
    ]);
    expect(about.map((l) => l['retryInMs'])).toEqual([20, 40, 80, undefined]);
  });

  it('restarts an informer whose watch request fails', async () => {
    harness.server.apply(privateSlice('ns1', 'r1', 'r1-a', [{ ip: '10.0.0.1', ready: true }]));
    harness.server.failNext('watch', SLICES, 503, 2);
    const recorder = await started();
    await waitFor(() => harness.server.openWatches === 4, 'every watch open');
    harness.server.apply(privateSlice('ns1', 'r1', 'r1-a', [{ ip: '10.0.0.2', ready: true }]));
    await waitFor(() => recorder.current.get('ns1/r1')?.ready[0] === '10.0.0.2:8012', 'the change');
  });

  it('watches Endpoints instead of EndpointSlices when asked', async () => {
    harness.server.apply(revision('ns1', 'r1', { containerConcurrency: 2 }));
    harness.server.apply(
      endpoints('r1-private', 'r1', 'Private', [
        {
          addresses: [{ ip: '10.0.0.1' }],
          notReadyAddresses: [{ ip: '10.0.0.2' }],
          ports: [
            { name: 'https', port: 8112 },
            { name: 'http', port: 8012 },
          ],
        },
      ]),
    );
    harness.server.apply(
      endpoints('r1', 'r1', 'Public', [
        { addresses: [{ ip: '10.3.0.1' }], ports: [{ name: 'http', port: 8012 }] },
      ]),
    );
    // EndpointSlices are ignored in this mode.
    harness.server.apply(privateSlice('ns1', 'r1', 'r1-a', [{ ip: '10.9.9.9', ready: true }]));
    const recorder = await started({ useEndpoints: true });
    expect(recorder.current.get('ns1/r1')).toEqual(
      info('ns1', 'r1', {
        containerConcurrency: 2,
        ready: ['10.0.0.1:8012'],
        notReady: ['10.0.0.2:8012'],
        activators: ['10.3.0.1'],
      }),
    );
    harness.server.apply(
      endpoints('r1-private', 'r1', 'Private', [
        { addresses: [{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }], ports: [{ name: 'http', port: 8012 }] },
      ]),
    );
    await waitFor(() => recorder.current.get('ns1/r1')?.ready.length === 2, 'the ready Pod');
    expect(harness.server.requests.some((r) => r.path === '/api/v1/endpoints' && r.verb === 'watch')).toBe(
      true,
    );
    expect(harness.server.requests.some((r) => r.path === SLICES)).toBe(false);
  });

  describe('where EndpointSlices are forbidden', () => {
    const sliceRequests = () => harness.server.requests.filter((r) => r.path.includes('/endpointslices'));
    const forbidSlices = () => {
      harness.server.authorize = (r) => !r.path.includes('/endpointslices');
    };
    const warnings = () => harness.logs.filter((l) => l.level >= 40);

    it('falls back to Endpoints at start, warning once, and never asks for EndpointSlices again', async () => {
      forbidSlices();
      harness.server.apply(revision('ns1', 'r1', { containerConcurrency: 1 }));
      harness.server.apply(
        endpoints('r1-private', 'r1', 'Private', [
          {
            addresses: [{ ip: '10.0.0.1' }],
            notReadyAddresses: [{ ip: '10.0.0.2' }],
            ports: [{ name: 'http', port: 8012 }],
          },
        ]),
      );
      harness.server.apply(
        endpoints('r1', 'r1', 'Public', [
          { addresses: [{ ip: '10.3.0.1' }], ports: [{ name: 'http', port: 8012 }] },
        ]),
      );
      const recorder = await started();
      // Start resolved with the Endpoints' state, delivered once.
      expect(recorder.events).toEqual([
        {
          op: 'upsert',
          info: info('ns1', 'r1', {
            containerConcurrency: 1,
            ready: ['10.0.0.1:8012'],
            notReady: ['10.0.0.2:8012'],
            activators: ['10.3.0.1'],
          }),
        },
      ]);
      expect(warnings()).toEqual([
        expect.objectContaining({
          msg: ENDPOINTSLICES_FORBIDDEN_MESSAGE,
          forbidden: 'list discovery.k8s.io/v1 endpointslices in every namespace',
          fallback: 'core/v1 endpoints',
          apiMessage:
            'endpointslices.discovery.k8s.io is forbidden: User "system:anonymous" cannot list resource "endpointslices" in API group "discovery.k8s.io" at the cluster scope',
        }),
      ]);
      expect(ENDPOINTSLICES_FORBIDDEN_MESSAGE).toMatch(
        /forbidden.*Endpoints.*Grant .*list and watch on endpointslices/,
      );

      // And it keeps following the Endpoints.
      harness.server.apply(
        endpoints('r1-private', 'r1', 'Private', [
          { addresses: [{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }], ports: [{ name: 'http', port: 8012 }] },
        ]),
      );
      await waitFor(() => recorder.current.get('ns1/r1')?.ready.length === 2, 'the ready Pod');
      await settle(150);
      // One list per EndpointSlice informer, both refused; no retry, no watch.
      expect(sliceRequests().map((r) => r.verb)).toEqual(['list', 'list']);
      expect(
        harness.server.requests.filter((r) => r.path === '/api/v1/endpoints' && r.verb === 'watch'),
      ).toHaveLength(2);
      expect(warnings()).toHaveLength(1);
      expect(harness.logs.filter((l) => l.msg.startsWith('watch failed'))).toEqual([]);
    });

    it('falls back within one namespace, and names it', async () => {
      forbidSlices();
      harness.server.apply(
        endpoints(
          'r1-private',
          'r1',
          'Private',
          [{ addresses: [{ ip: '10.0.0.1' }], ports: [{ port: 8012 }] }],
          'ns2',
        ),
      );
      const recorder = await started({ namespace: 'ns2' });
      expect(recorder.current.get('ns2/r1')?.ready).toEqual(['10.0.0.1:8012']);
      expect(warnings().map((l) => l['forbidden'])).toEqual([
        'list discovery.k8s.io/v1 endpointslices in namespace ns2',
      ]);
      expect(harness.server.requests.every((r) => r.path.includes('/namespaces/ns2/'))).toBe(true);
    });

    it('switches a running source when a relist is refused, keeping every revision and its Pods meanwhile', async () => {
      harness.server.apply(revision('ns1', 'r1'));
      harness.server.apply(privateSlice('ns1', 'r1', 'r1-private-a', [{ ip: '10.0.0.1', ready: true }]));
      harness.server.apply(
        endpoints('r1-private', 'r1', 'Private', [
          { addresses: [{ ip: '10.0.0.1' }, { ip: '10.0.0.5' }], ports: [{ name: 'http', port: 8012 }] },
        ]),
      );
      const recorder = await started();
      expect(recorder.current.get('ns1/r1')?.ready).toEqual(['10.0.0.1:8012']);
      const before = recorder.events.length;
      // Listing is taken away; the watches resume from a resourceVersion that is gone, so they must relist.
      harness.server.authorize = (r) => !(r.path.includes('/endpointslices') && r.verb === 'list');
      harness.server.apply(revision('ns1', 'r1', { containerConcurrency: 3 }));
      harness.server.compactHistory();
      harness.server.cutWatches();
      await waitFor(() => recorder.current.get('ns1/r1')?.ready.length === 2, 'the Endpoints’ Pods');
      const marker = await marked(recorder, 'endpoints');
      // From the slices' view straight to the Endpoints' one: never without its Pods, never removed.
      const after = besides(recorder, marker).slice(before);
      expect(after.every((e) => e.op === 'upsert' && e.info.ready.includes('10.0.0.1:8012'))).toBe(true);
      expect(recorder.current.get('ns1/r1')).toEqual(
        info('ns1', 'r1', { containerConcurrency: 3, ready: ['10.0.0.1:8012', '10.0.0.5:8012'] }),
      );
      // The cut connections are logged as any; the refusal once.
      expect(harness.logs.filter((l) => l.msg === ENDPOINTSLICES_FORBIDDEN_MESSAGE)).toHaveLength(1);
      // A slice change is no longer seen; an Endpoints change is.
      harness.server.apply(privateSlice('ns1', 'r1', 'r1-private-a', [{ ip: '10.0.0.9', ready: true }]));
      harness.server.apply(
        endpoints('r1-private', 'r1', 'Private', [
          { addresses: [{ ip: '10.0.0.5' }], ports: [{ port: 8012 }] },
        ]),
      );
      await waitFor(() => recorder.current.get('ns1/r1')?.ready.length === 1, 'the Endpoints change');
      expect(recorder.current.get('ns1/r1')?.ready).toEqual(['10.0.0.5:8012']);
    });

    it('keeps watching EndpointSlices through other failures', async () => {
      harness.server.apply(privateSlice('ns1', 'r1', 'r1-a', [{ ip: '10.0.0.1', ready: true }]));
      harness.server.failNext('list', SLICES, 500, 2);
      const recorder = await started();
      await waitFor(() => recorder.current.get('ns1/r1')?.ready.length === 1, 'the retried list');
      expect(harness.server.requests.some((r) => r.path.startsWith('/api/v1/endpoints'))).toBe(false);
      expect(harness.logs.some((l) => l.msg === ENDPOINTSLICES_FORBIDDEN_MESSAGE)).toBe(false);
    });

    it('stops cleanly while switching', async () => {
      forbidSlices();
      harness.server.failNext('list', '/api/v1/endpoints', 500, 100);
      await started({ backoff: { initialMs: 5, maxMs: 10 } });
      await harness.last!.stop();
      await expectQuietAfterStop();
    });
  });

  it('watches one namespace when configured', async () => {
    harness.server.apply(privateSlice('ns1', 'r1', 'r1-a', [{ ip: '10.0.0.1', ready: true }]));
    harness.server.apply(privateSlice('ns2', 'r2', 'r2-a', [{ ip: '10.0.0.2', ready: true }]));
    const recorder = await started({ namespace: 'ns2' });
    expect([...recorder.current.keys()]).toEqual(['ns2/r2']);
    expect(harness.server.requests.every((r) => r.path.includes('/namespaces/ns2/'))).toBe(true);
  });

  it('stops every watch and delivers nothing after stop', async () => {
    harness.server.apply(privateSlice('ns1', 'r1', 'r1-a', [{ ip: '10.0.0.1', ready: true }]));
    const recorder = await started();
    await harness.last!.stop();
    await waitFor(() => harness.server.openWatches === 0, 'the watches closed');
    const count = recorder.events.length;
    harness.server.apply(privateSlice('ns1', 'r1', 'r1-a', [{ ip: '10.0.0.2', ready: true }]));
    await settle();
    expect(recorder.events).toHaveLength(count);
    expect(harness.logs.filter((l) => l.level >= 40)).toEqual([]);
  });

  it('stops cleanly while failed informers wait to retry', async () => {
    harness.server.failNext('list', /./, 500, 100);
    await started({ backoff: { initialMs: 5, maxMs: 10 } });
    await settle(50);
    await harness.last!.stop();
    await expectQuietAfterStop();
  });

  it('aborts lists in flight on stop, so a start stuck on an unresponsive API server ends', async () => {
    const held: ServerResponse[] = [];
    const silent = createServer((_req, res) => held.push(res));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const kubeConfig = new KubeConfig();
      const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
      kubeConfig.loadFromOptions({
        clusters: [{ name: 'c', server: url, skipTLSVerify: true }],
        users: [{ name: 'u' }],
        contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
        currentContext: 'x',
      });
      harness.make({ kubeConfig });
      const starting = harness.last!.start(new Recorder());
      await waitFor(() => held.length === 4, 'the four lists');
      await harness.last!.stop();
      await starting;
      await waitFor(() => held.every((res) => res.req.closed), 'the lists aborted');
    } finally {
      silent.closeAllConnections();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('checks its options', () => {
    const kubeConfig = harness.server.kubeConfig();
    const logger = pino({ level: 'silent' });
    expect(() => new KubernetesEndpointSource({ kubeConfig, logger, backoff: { initialMs: 0 } })).toThrow(
      /backoff.initialMs/,
    );
    expect(
      () => new KubernetesEndpointSource({ kubeConfig, logger, backoff: { initialMs: 10, maxMs: 5 } }),
    ).toThrow(/backoff.maxMs/);
    expect(() => new KubernetesEndpointSource({ kubeConfig, logger, namespace: '' })).toThrow(/namespace/);
  });
});

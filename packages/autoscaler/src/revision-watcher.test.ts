import type { V1EndpointSlice } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { eventually } from '../../../test/support/http.js';
import { InformerHarness } from '../../../test/support/informer-harness.js';
import { knativeRevision } from '../../../test/support/knative-objects.js';
import { REVISION_LABEL, SERVICE_TYPE_LABEL } from './actuator-kubernetes.js';
import type { RevisionSpec } from './collector.js';
import { type RevisionListener, RevisionWatcher, type RevisionWatcherOptions } from './revision-watcher.js';

const SLICES = '/apis/discovery.k8s.io/v1/endpointslices';
const REVISIONS = '/apis/serving.knative.dev/v1/revisions';

/** Records every delivery and the state they add up to. */
class Recorder implements RevisionListener {
  readonly events: ({ op: 'upsert'; key: string; spec: RevisionSpec } | { op: 'remove'; key: string })[] = [];
  readonly current = new Map<string, RevisionSpec>();

  upsert(namespace: string, name: string, spec: RevisionSpec): void {
    this.events.push({ op: 'upsert', key: `${namespace}/${name}`, spec });
    this.current.set(`${namespace}/${name}`, spec);
  }

  remove(namespace: string, name: string): void {
    this.events.push({ op: 'remove', key: `${namespace}/${name}` });
    this.current.delete(`${namespace}/${name}`);
  }
}

const harness = new InformerHarness<RevisionWatcher, RevisionWatcherOptions>(
  (options) => new RevisionWatcher(options),
);

/** A Revision, with `cc` as its containerConcurrency (any value, to test rejected ones). */
function revision(
  name: string,
  extra: { namespace?: string; annotations?: Record<string, string>; cc?: unknown } = {},
) {
  const spec = extra.cc === undefined ? {} : { containerConcurrency: extra.cc };
  return knativeRevision(name, spec, { namespace: extra.namespace, annotations: extra.annotations });
}

type Endpoint = { ip: string; ready?: boolean; terminating?: boolean };

function slice(
  name: string,
  rev: string,
  endpoints: Endpoint[],
  serviceType = 'Private',
  namespace = 'default',
): V1EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace, labels: { [REVISION_LABEL]: rev, [SERVICE_TYPE_LABEL]: serviceType } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8012 }],
    endpoints: endpoints.map((e) => ({
      addresses: [e.ip],
      conditions: {
        ...(e.ready === undefined ? {} : { ready: e.ready }),
        ...(e.terminating === undefined ? {} : { terminating: e.terminating }),
      },
    })),
  };
}

describe('RevisionWatcher', () => {
  it('delivers each revision with its annotations, concurrency and ready private Pods, marking listed ones existing', async () => {
    harness.server.apply(
      revision('hello-00001', { annotations: { 'autoscaling.knative.dev/target': '5' }, cc: 1 }),
    );
    harness.server.apply(
      slice('hello-00001-private-a', 'hello-00001', [
        { ip: '10.0.0.10', ready: true },
        { ip: '10.0.0.9', ready: true },
        { ip: '10.0.0.11', ready: false },
        { ip: '10.0.0.12', ready: true, terminating: true },
      ]),
    );
    harness.server.apply(
      slice('hello-00001-public', 'hello-00001', [{ ip: '10.9.9.9', ready: true }], 'Public'),
    );
    const rec = new Recorder();
    await harness.make().start(rec);

    expect(rec.events).toEqual([
      {
        op: 'upsert',
        key: 'default/hello-00001',
        spec: {
          annotations: { 'autoscaling.knative.dev/target': '5' },
          containerConcurrency: 1,
          readyPods: ['10.0.0.9', '10.0.0.10'],
          existing: true,
        },
      },
    ]);

    // A revision created later is new, and a second slice's Pods join the first's.
    harness.server.apply(revision('hello-00002'));
    harness.server.apply(slice('hello-00001-private-b', 'hello-00001', [{ ip: '10.0.1.1', ready: true }]));
    expect(
      await eventually(
        () =>
          rec.current.get('default/hello-00002') !== undefined &&
          rec.current.get('default/hello-00001')?.readyPods.length === 3,
      ),
    ).toBe(true);
    expect(rec.current.get('default/hello-00002')).toEqual({
      annotations: {},
      containerConcurrency: 0,
      readyPods: [],
      existing: false,
    });
    expect(rec.current.get('default/hello-00001')?.readyPods).toEqual(['10.0.0.9', '10.0.0.10', '10.0.1.1']);
  });

  it('delivers nothing for Pods of an unknown Revision, and removes a deleted Revision', async () => {
    harness.server.apply(slice('orphan-private', 'orphan', [{ ip: '10.0.0.1', ready: true }]));
    const rec = new Recorder();
    await harness.make().start(rec);
    expect(rec.events).toEqual([]);

    harness.server.apply(revision('orphan'));
    expect(await eventually(() => rec.current.get('default/orphan')?.readyPods.length === 1)).toBe(true);
    harness.server.delete('Revision', 'default', 'orphan');
    expect(await eventually(() => rec.events.at(-1)?.op === 'remove')).toBe(true);
    expect(rec.current.size).toBe(0);
  });

  it('delivers a revision only when its state changed', async () => {
    harness.server.apply(revision('hello-00001', { cc: 2 }));
    harness.server.apply(slice('s', 'hello-00001', [{ ip: '10.0.0.1', ready: true }]));
    const rec = new Recorder();
    await harness.make().start(rec);
    // The same ready Pods with a new not-ready one: nothing to deliver.
    harness.server.apply(
      slice('s', 'hello-00001', [
        { ip: '10.0.0.1', ready: true },
        { ip: '10.0.0.2', ready: false },
      ]),
    );
    harness.server.apply(
      slice('s', 'hello-00001', [
        { ip: '10.0.0.1', ready: true },
        { ip: '10.0.0.2', ready: true },
      ]),
    );
    expect(await eventually(() => rec.current.get('default/hello-00001')?.readyPods.length === 2)).toBe(true);
    expect(rec.events).toHaveLength(2);
    // The slice going away leaves the revision with no Pods.
    harness.server.delete('EndpointSlice', 'default', 's');
    expect(await eventually(() => rec.current.get('default/hello-00001')?.readyPods.length === 0)).toBe(true);
  });

  it('watches one namespace only when asked', async () => {
    harness.server.apply(revision('a', { namespace: 'team-a' }));
    harness.server.apply(revision('b', { namespace: 'team-b' }));
    const rec = new Recorder();
    await harness.make({ namespace: 'team-a' }).start(rec);
    harness.server.apply(revision('b2', { namespace: 'team-b' }));
    harness.server.apply(revision('a2', { namespace: 'team-a' }));
    expect(await eventually(() => rec.current.has('team-a/a2'))).toBe(true);
    expect([...rec.current.keys()].sort()).toEqual(['team-a/a', 'team-a/a2']);
  });

  it('keeps a malformed concurrency at 0 and says why', async () => {
    harness.server.apply(revision('bad', { cc: 'many' }));
    const rec = new Recorder();
    await harness.make().start(rec);
    expect(rec.current.get('default/bad')?.containerConcurrency).toBe(0);
    expect(harness.logs.some((l) => l.msg === 'malformed Revision; using defaults for its bad fields')).toBe(
      true,
    );
  });

  it('retries a failed first list with backoff', async () => {
    harness.server.failNext('list', REVISIONS, 500, 2);
    harness.server.failNext('list', SLICES, 503);
    harness.server.apply(revision('hello-00001'));
    const rec = new Recorder();
    await harness.make().start(rec);
    expect(await eventually(() => rec.current.has('default/hello-00001'))).toBe(true);
    expect(harness.logs.some((l) => l.msg === 'watch failed; retrying with backoff')).toBe(true);
  });

  it('resumes after the watches are cut, without losing changes made meanwhile', async () => {
    harness.server.apply(revision('hello-00001'));
    const rec = new Recorder();
    await harness.make().start(rec);
    harness.server.cutWatches();
    harness.server.apply(slice('s', 'hello-00001', [{ ip: '10.0.0.1', ready: true }]));
    harness.server.apply(revision('hello-00002'));
    expect(
      await eventually(
        () =>
          rec.current.has('default/hello-00002') &&
          rec.current.get('default/hello-00001')?.readyPods.length === 1,
      ),
    ).toBe(true);
  });

  it('delivers nothing after stop', async () => {
    const rec = new Recorder();
    const stopped = harness.make();
    await stopped.start(rec);
    await stopped.stop();
    // A watcher still running sees the change; by then the stopped one has delivered nothing.
    const live = new Recorder();
    await harness.make().start(live);
    harness.server.apply(revision('late'));
    expect(await eventually(() => live.current.has('default/late'))).toBe(true);
    expect(rec.events).toEqual([]);
  });

  it('checks its options', () => {
    expect(() => harness.make({ backoff: { initialMs: 0 } })).toThrow(/backoff.initialMs/);
    expect(() => harness.make({ backoff: { factor: 0.5 } })).toThrow(/backoff.factor/);
  });
});

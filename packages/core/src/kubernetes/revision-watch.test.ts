import { KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { REVISION_LABEL } from './index.js';
import { RevisionWatch, type RevisionWatchOptions } from './revision-watch.js';

/** A kubeconfig naming an API server nobody contacts: these tests start no informer. */
function kubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: 'http://127.0.0.1:1', skipTLSVerify: true }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}

interface State {
  readonly namespace: string;
  readonly name: string;
  readonly pods: Map<string, string>;
  known: boolean;
}

/** A revision's pods, delivered once its Revision is known. */
type Delivery = string[];

function object(namespace: string, name: string, revision?: string): KubernetesObject {
  return { metadata: { namespace, name, labels: revision ? { [REVISION_LABEL]: revision } : {} } };
}

function watch(options: Partial<RevisionWatchOptions> = {}) {
  const events: string[] = [];
  const w = new RevisionWatch<State, Delivery>(
    'TestWatch',
    { kubeConfig: kubeConfig(), logger: pino({ level: 'silent' }), ...options },
    {
      create: (namespace, name) => ({ namespace, name, pods: new Map(), known: false }),
      compute: (s) => (s.known ? [...s.pods.values()].sort() : undefined),
      empty: (s) => !s.known && s.pods.size === 0,
      same: (a, b) => a.join() === b.join(),
      listenerName: 'test listener',
    },
  );
  const listener = {
    upsert: (s: State, pods: Delivery) => events.push(`upsert ${s.namespace}/${s.name} ${pods.join(',')}`),
    remove: (s: State) => events.push(`remove ${s.namespace}/${s.name}`),
  };
  return { w, events, listener };
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

const pods = (s: State) => s.pods;

/** Reports the Revision objects of `names` in namespace `ns`, known or (`known` false) gone. */
function revisions(w: RevisionWatch<State, Delivery>, names: string[], known = true): void {
  for (const name of names) {
    w.revision(object('ns', name), (s) => {
      s.known = known;
    });
  }
}

describe('RevisionWatch', () => {
  it('files objects under their revision label, batches a turn into one delivery and delivers only changes', async () => {
    const { w, events, listener } = watch();
    revisions(w, ['r1']);
    w.file('pod', object('ns', 'a', 'r1'), false, pods, () => '10.0.0.1');
    await w.start(listener);
    expect(events).toEqual(['upsert ns/r1 10.0.0.1']);
    w.file('pod', object('ns', 'b', 'r1'), false, pods, () => '10.0.0.2');
    w.file('pod', object('ns', 'b', 'r1'), false, pods, () => '10.0.0.3');
    await turn();
    expect(events.slice(1)).toEqual(['upsert ns/r1 10.0.0.1,10.0.0.3']);
    // The same facts again: nothing to deliver.
    w.file('pod', object('ns', 'b', 'r1'), false, pods, () => '10.0.0.3');
    await turn();
    expect(events).toHaveLength(2);
  });

  it('moves a relabelled object to its new revision, drops a deleted one, and removes a revision gone', async () => {
    const { w, events, listener } = watch();
    revisions(w, ['r1', 'r2']);
    w.file('pod', object('ns', 'a', 'r1'), false, pods, () => '10.0.0.1');
    await w.start(listener);
    w.file('pod', object('ns', 'a', 'r2'), false, pods, () => '10.0.0.1');
    await turn();
    expect(events.slice(2)).toEqual(['upsert ns/r1 ', 'upsert ns/r2 10.0.0.1']);
    w.file('pod', object('ns', 'a'), true, pods, () => '');
    revisions(w, ['r2'], false);
    await turn();
    expect(events.slice(4)).toEqual(['remove ns/r2']);
  });

  it('forgets every object of a kind', async () => {
    const { w, events, listener } = watch();
    revisions(w, ['r1']);
    w.file('slice/private', object('ns', 'a', 'r1'), false, pods, () => '10.0.0.1');
    w.file('endpoints/private', object('ns', 'a', 'r1'), false, pods, () => '10.0.0.2');
    await w.start(listener);
    w.forget('slice/', (s, key) => s.pods.delete(key));
    await turn();
    expect(events).toEqual(['upsert ns/r1 10.0.0.1,10.0.0.2', 'upsert ns/r1 10.0.0.2']);
  });

  it('ignores objects without a namespace or name, and keeps delivering after a listener throws', async () => {
    const { w, events } = watch();
    w.revision({ metadata: { name: 'r1' } }, () => expect.unreachable());
    w.file(
      'pod',
      { metadata: { namespace: 'ns' } },
      false,
      (s: State) => s.pods,
      () => '',
    );
    let calls = 0;
    await w.start({
      upsert: () => {
        calls++;
        throw new Error('listener bug');
      },
      remove: () => {},
    });
    revisions(w, ['r1', 'r2']);
    await turn();
    expect(calls).toBe(2);
    expect(events).toEqual([]);
  });

  it('names its owner in option errors and in a second start', async () => {
    expect(() => watch({ namespace: '' })).toThrow('TestWatch option namespace must be a non-empty string');
    expect(() => watch({ kubeConfig: new KubeConfig() })).toThrow(
      'TestWatch option kubeConfig must have a current cluster',
    );
    expect(() => watch({ backoff: { initialMs: 0 } })).toThrow(/backoff\.initialMs/);
    const { w, listener } = watch();
    await w.start(listener);
    await expect(w.start(listener)).rejects.toThrow('TestWatch was already started');
    await w.stop();
    expect(w.stopped).toBe(true);
  });

  it('makes informers in the watched scope, which start and stop with it', async () => {
    const { w, listener } = watch({ namespace: 'team-a' });
    const informer = w.revisions(() => {});
    const calls: string[] = [];
    informer.start = async () => {
      calls.push('start');
    };
    informer.stop = async () => {
      calls.push('stop');
    };
    await w.start(listener, async () => {
      calls.push('settled');
    });
    await w.stop();
    expect(calls).toEqual(['start', 'settled', 'stop']);
    const retired = w.endpoints('e', 'x', () => {});
    retired.stop = async () => {
      calls.push('retired');
    };
    await w.retire([retired]);
    await w.stop();
    expect(calls).toEqual(['start', 'settled', 'stop', 'retired', 'stop']);
  });
});

import { describe, expect, it } from 'vitest';
import { endpointsDocument } from './endpoints-file.js';
import type { RevisionPods } from './revision-pods.js';

/** The fields of a revision's Pods the document reads. */
function revision(annotations: Record<string, string>): RevisionPods {
  return {
    namespace: 'default',
    name: 'hello-00001',
    config: {
      containerConcurrency: 0,
      timeoutSeconds: 300,
      responseStartTimeoutSeconds: 0,
      idleTimeoutSeconds: 0,
      annotations,
    },
    routable: () => [{ servingAddress: '127.0.0.1:9000', phase: 'ready' }],
  } as unknown as RevisionPods;
}

describe('endpointsDocument', () => {
  it('passes the zerogate.dev/ annotations on to the activator, and no others', () => {
    const doc = JSON.parse(
      endpointsDocument([
        revision({ 'zerogate.dev/slow-start': '2s', 'autoscaling.knative.dev/target': '10' }),
      ]),
    );
    expect(doc.revisions[0].annotations).toEqual({ 'zerogate.dev/slow-start': '2s' });
    expect(doc.revisions[0].endpoints).toEqual([{ address: '127.0.0.1:9000', ready: true }]);
  });

  it('leaves the field out when the revision has none', () => {
    const doc = JSON.parse(endpointsDocument([revision({ 'autoscaling.knative.dev/target': '10' })]));
    expect(doc.revisions[0]).not.toHaveProperty('annotations');
  });
});

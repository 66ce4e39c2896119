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

  it("passes a failing revision's reason on to the activator, and leaves the field out otherwise", () => {
    const failing = { ...revision({}), failing: 'app exited with code 1 (2 times)' } as RevisionPods;
    expect(JSON.parse(endpointsDocument([failing])).revisions[0].failing).toBe(
      'app exited with code 1 (2 times)',
    );
    expect(JSON.parse(endpointsDocument([revision({})])).revisions[0]).not.toHaveProperty('failing');
  });

  it('leaves the field out when the revision has none', () => {
    const doc = JSON.parse(endpointsDocument([revision({ 'autoscaling.knative.dev/target': '10' })]));
    expect(doc.revisions[0]).not.toHaveProperty('annotations');
  });
});

import { describe, expect, it } from 'vitest';
import { revisionGauge } from './activator-held.js';

describe('revisionGauge', () => {
  const exposition = [
    '# HELP kn_revision_request_queued Requests the activator holds.',
    '# TYPE kn_revision_request_queued gauge',
    'kn_revision_request_queued{k8s_namespace_name="other",kn_revision_name="hello-00001",k8s_pod_name="a"} 7',
    'kn_revision_request_queued{k8s_namespace_name="default",kn_revision_name="hello-00001",k8s_pod_name="a"} 1',
    'kn_revision_pods_usable{k8s_namespace_name="default",kn_revision_name="hello-00001",k8s_pod_name="a"} 0',
    '',
  ].join('\n');

  it("reads the benchmark revision's sample", () => {
    expect(revisionGauge(exposition, 'kn_revision_request_queued')).toBe(1);
    expect(revisionGauge(exposition, 'kn_revision_pods_usable')).toBe(0);
  });

  it("reads another revision's sample when named", () => {
    const other = `${exposition}kn_revision_request_queued{k8s_namespace_name="default",kn_revision_name="small-00001"} 10\n`;
    expect(revisionGauge(other, 'kn_revision_request_queued', 'small-00001')).toBe(10);
    expect(revisionGauge(other, 'kn_revision_request_queued', 'absent-00001')).toBeUndefined();
  });

  it('is undefined when the metric is absent', () => {
    expect(revisionGauge(exposition, 'kn_revision_request_active')).toBeUndefined();
  });
});

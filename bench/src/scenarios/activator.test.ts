import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  activatorEnv,
  endpointsDocument,
  parseTrials,
  revisionGauge,
  writeEndpointsFile,
} from './activator.js';

describe('endpointsDocument', () => {
  it('lists the benchmark revision at CC=0 with the given Pods', () => {
    expect(JSON.parse(endpointsDocument([{ address: '127.0.0.1:8012', ready: false }]))).toEqual({
      revisions: [
        {
          namespace: 'default',
          name: 'hello-00001',
          containerConcurrency: 0,
          timeoutSeconds: 300,
          endpoints: [{ address: '127.0.0.1:8012', ready: false }],
        },
      ],
    });
  });

  it('keeps the revision when it has no Pods', () => {
    expect(JSON.parse(endpointsDocument([])).revisions[0].endpoints).toEqual([]);
  });
});

describe('writeEndpointsFile', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('replaces the file whole and leaves no temporary file behind', () => {
    dir = mkdtempSync(join(tmpdir(), 'bench-endpoints-'));
    const path = join(dir, 'endpoints.json');
    writeEndpointsFile(path, [{ address: '127.0.0.1:1', ready: true }]);
    writeEndpointsFile(path, []);
    expect(readFileSync(path, 'utf8')).toBe(endpointsDocument([]));
    expect(readdirSync(dir)).toEqual(['endpoints.json']);
    expect(existsSync(`${path}.tmp`)).toBe(false);
  });
});

describe('activatorEnv', () => {
  it('binds loopback, reads the file source and points at the given autoscaler port', () => {
    expect(activatorEnv({ http: 8012, metrics: 9090, autoscaler: 8080 }, '/tmp/e.json')).toEqual({
      POD_NAME: 'activator-bench',
      POD_IP: '127.0.0.1',
      ACTIVATOR_BIND_ADDRESS: '127.0.0.1',
      ACTIVATOR_HTTP_PORT: '8012',
      ACTIVATOR_METRICS_PORT: '9090',
      ACTIVATOR_ENDPOINTS_SOURCE: 'file',
      ACTIVATOR_ENDPOINTS_FILE: '/tmp/e.json',
      AUTOSCALER_URL: 'ws://127.0.0.1:8080',
      ACTIVATOR_DRAIN_SECONDS: '0',
    });
  });
});

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

  it('is undefined when the metric is absent', () => {
    expect(revisionGauge(exposition, 'kn_revision_request_active')).toBeUndefined();
  });
});

describe('parseTrials', () => {
  it('defaults to 20 and takes a whole number', () => {
    expect(parseTrials(undefined)).toBe(20);
    expect(parseTrials('5')).toBe(5);
  });

  it('names the option when the value is wrong', () => {
    for (const bad of ['0', '2.5', 'many', '1001']) expect(() => parseTrials(bad)).toThrow(/--trials/);
  });
});

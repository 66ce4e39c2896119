import { describe, expect, it } from 'vitest';
import { identifyRevision } from './revision-id.js';

const DOMAIN = 'cluster.local';

describe('identifyRevision', () => {
  it('takes the revision headers the ingress adds over the Host', () => {
    expect(identifyRevision('hello-00001', 'default', 'other-00002.prod.svc.cluster.local', DOMAIN)).toEqual({
      namespace: 'default',
      name: 'hello-00001',
    });
    expect(identifyRevision('hello-00001', 'default', 'example.com', DOMAIN)).toEqual({
      namespace: 'default',
      name: 'hello-00001',
    });
    expect(identifyRevision('hello-00001', 'default', undefined, DOMAIN)).toEqual({
      namespace: 'default',
      name: 'hello-00001',
    });
  });

  it('falls back to the Host when only one of the headers is set', () => {
    const host = 'hello-00001.default.svc.cluster.local';
    const expected = { namespace: 'default', name: 'hello-00001' };
    expect(identifyRevision('other', undefined, host, DOMAIN)).toEqual(expected);
    expect(identifyRevision(undefined, 'other', host, DOMAIN)).toEqual(expected);
    expect(identifyRevision('', 'other', host, DOMAIN)).toEqual(expected);
    expect(identifyRevision('other', '', host, DOMAIN)).toEqual(expected);
  });

  it.each([
    ['hello-00001.default.svc'],
    ['hello-00001.default.svc.cluster.local'],
    ['hello-00001.default.svc:80'],
    ['hello-00001.default.svc.cluster.local:8012'],
    ['HELLO-00001.Default.SVC.Cluster.Local'],
    ['Hello-00001.DEFAULT.svc.CLUSTER.local:8080'],
  ])('reads the revision from the Host %s', (host) => {
    expect(identifyRevision(undefined, undefined, host, DOMAIN)).toEqual({
      namespace: 'default',
      name: 'hello-00001',
    });
  });

  it('accepts the configured cluster domain only', () => {
    const host = 'hello-00001.default.svc.corp.internal:8080';
    expect(identifyRevision(undefined, undefined, host, 'corp.internal')).toEqual({
      namespace: 'default',
      name: 'hello-00001',
    });
    expect(identifyRevision(undefined, undefined, host, DOMAIN)).toBeUndefined();
    expect(
      identifyRevision(undefined, undefined, 'hello-00001.default.svc.cluster.local', 'corp.internal'),
    ).toBeUndefined();
  });

  it.each([
    [undefined],
    [''],
    ['example.com'],
    ['hello.example.com'],
    ['hello-00001.default'],
    ['hello-00001.default:8080'],
    ['hello-00001.default.svc.cluster'],
    ['hello-00001.default.svc.cluster.local.evil.com'],
    ['hello-00001.default.svc.example.com'],
    ['hello-00001.default.pod.cluster.local'],
    ['hello-00001.default.service.cluster.local'],
    ['.default.svc.cluster.local'],
    ['hello-00001..svc.cluster.local'],
    ['10.0.0.1:8012'],
    ['[::1]:8012'],
    ['[fd00::1]'],
    ['localhost'],
  ])('finds no revision in the Host %j', (host) => {
    expect(identifyRevision(undefined, undefined, host, DOMAIN)).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import { containerEnv, EnvError, expand, parseQuantity, resourceValue } from './container-env.js';
import type { Container, Pod } from './pod-spec.js';

const pod: Pod = {
  metadata: {
    name: 'web-1',
    namespace: 'apps',
    uid: 'u-1',
    labels: { app: 'web' },
    annotations: { note: 'x' },
  },
  spec: { nodeName: 'node-1', serviceAccountName: 'runner', containers: [] },
};
const sources = {
  podIp: '10.244.0.7',
  hostIp: '10.244.0.1',
  configMap: (name: string) => (name === 'settings' ? new Map([['LEVEL', Buffer.from('debug')]]) : undefined),
  secret: (name: string) => (name === 'creds' ? new Map([['token', Buffer.from('s3cret')]]) : undefined),
  apiserverService: { host: '10.96.0.1', port: 443 },
  imageEnv: { PATH: '/bin', NODE_ENV: 'production' },
};

describe('containerEnv', () => {
  it('resolves values, downward-API fields, resources, ConfigMap and Secret keys, in order with $(VAR)', () => {
    const container: Container = {
      name: 'web',
      image: 'node:24',
      resources: { requests: { cpu: '250m', memory: '64Mi' }, limits: { memory: '128Mi' } },
      envFrom: [{ prefix: 'CFG_', configMapRef: { name: 'settings' } }],
      env: [
        { name: 'NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        { name: 'IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
        { name: 'APP', valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
        { name: 'SA', valueFrom: { fieldRef: { fieldPath: 'spec.serviceAccountName' } } },
        { name: 'CPU', valueFrom: { resourceFieldRef: { resource: 'requests.cpu', divisor: '1m' } } },
        { name: 'MEM', valueFrom: { resourceFieldRef: { resource: 'limits.memory', divisor: '1Mi' } } },
        { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'creds', key: 'token' } } },
        { name: 'URL', value: 'http://$(IP):8080/$(NAME)/$(UNKNOWN)/$$(IP)' },
        { name: 'NODE_ENV', value: 'test' },
      ],
    };
    const env = containerEnv(pod, container, sources);
    expect(env).toMatchObject({
      PATH: '/bin',
      NODE_ENV: 'test',
      CFG_LEVEL: 'debug',
      NAME: 'web-1',
      IP: '10.244.0.7',
      APP: 'web',
      SA: 'runner',
      CPU: '250',
      MEM: '128',
      TOKEN: 's3cret',
      URL: 'http://10.244.0.7:8080/web-1/$(UNKNOWN)/$(IP)',
      KUBERNETES_SERVICE_HOST: '10.96.0.1',
      KUBERNETES_SERVICE_PORT: '443',
    });
  });

  it('refuses a missing ConfigMap key unless optional, naming the container, the object and the key', () => {
    const missing: Container = {
      name: 'web',
      image: 'node:24',
      env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'settings', key: 'NOPE' } } }],
    };
    expect(() => containerEnv(pod, missing, sources)).toThrow(EnvError);
    expect(() => containerEnv(pod, missing, sources)).toThrow(
      /container web: configmap "settings" has no key "NOPE"/,
    );
    const optional: Container = {
      ...missing,
      env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'gone', key: 'k', optional: true } } }],
    };
    expect(containerEnv(pod, optional, sources)['X']).toBeUndefined();
  });
});

describe('quantities', () => {
  it('reads Kubernetes quantities and rounds resource fields up', () => {
    expect(parseQuantity('50m')).toBeCloseTo(0.05);
    expect(parseQuantity('64Mi')).toBe(64 * 2 ** 20);
    expect(parseQuantity('1e3')).toBe(1000);
    expect(() => parseQuantity('lots')).toThrow(/bad quantity/);
    expect(
      resourceValue({ name: 'c', image: 'i', resources: { limits: { cpu: '1500m' } } }, 'limits.cpu'),
    ).toBe('2');
    expect(expand('$(A)-$(B)', { A: '1' })).toBe('1-$(B)');
  });
});

import type { Env } from '@zerogate/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { configErrorVariables } from '../../../test/support/config-errors.js';
import { HAS_OPENSSL, selfSignedTls } from '../../../test/support/tls.js';
import { type FileReader, loadConfig } from './config.js';

let files: Record<string, Buffer>;

beforeAll(() => {
  if (!HAS_OPENSSL) return;
  // Two unrelated certificates: the second one's key does not belong to the first. Read, so no files kept.
  const a = selfSignedTls('test');
  const b = selfSignedTls('test');
  a.remove();
  b.remove();
  files = {
    '/tls/tls.crt': a.cert,
    '/tls/tls.key': a.key,
    '/other/tls.key': b.key,
    '/kube/config': Buffer.from('{}'),
  };
});

const reader: FileReader = (path) => {
  const f = files[path];
  if (!f) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
  return f;
};

const BASE: Env = {
  INJECTOR_QUEUE_PROXY_IMAGE: 'example.com/zerogate/queue-proxy:1.0',
  INJECTOR_TLS_CERT_FILE: '/tls/tls.crt',
  INJECTOR_TLS_KEY_FILE: '/tls/tls.key',
};

/** The variables a ConfigError names (failing the test if none is thrown). */
const badVariables = (env: Env) => configErrorVariables(() => loadConfig(env, reader));

describe.skipIf(!HAS_OPENSSL)('injector configuration (needs the openssl CLI)', () => {
  it('takes defaults for everything but the image', () => {
    const c = loadConfig(BASE, reader);
    expect(c).toMatchObject({
      port: 8443,
      bindAddress: '',
      queueProxyImage: 'example.com/zerogate/queue-proxy:1.0',
      queueProxyResources: { cpuRequest: '25m', memoryRequest: '64Mi', memoryLimit: '512Mi' },
      queueProxyLogLevel: 'info',
      systemNamespace: 'zerogate-system',
      activatorService: { namespace: 'zerogate-system', name: 'activator-service' },
      apiTimeoutMs: 2000,
      logLevel: 'info',
    });
    expect(c.tls.cert.equals(files['/tls/tls.crt']!)).toBe(true);
    expect(
      loadConfig({ ...BASE, INJECTOR_TLS_CERT_FILE: undefined }, (p) => reader(p.replace(/.*\//, '/tls/')))
        .tlsCertFile,
    ).toBe('/etc/zerogate/injector-tls/tls.crt');
  });

  it('reads every variable', () => {
    const c = loadConfig(
      {
        ...BASE,
        INJECTOR_PORT: '0',
        INJECTOR_BIND_ADDRESS: '127.0.0.1',
        INJECTOR_SYSTEM_NAMESPACE: 'zg',
        INJECTOR_ACTIVATOR_SERVICE: 'knative-serving/activator-service',
        INJECTOR_LOG_LEVEL: 'warning',
        INJECTOR_API_TIMEOUT: '750ms',
        INJECTOR_QUEUE_PROXY_CPU_REQUEST: '0.1',
        INJECTOR_QUEUE_PROXY_MEMORY_REQUEST: '100M',
        INJECTOR_QUEUE_PROXY_MEMORY_LIMIT: '1Gi',
        INJECTOR_QUEUE_PROXY_LOG_LEVEL: 'debug',
        KUBECONFIG: '/kube/config',
      },
      reader,
    );
    expect(c).toMatchObject({
      port: 0,
      bindAddress: '127.0.0.1',
      systemNamespace: 'zg',
      activatorService: { namespace: 'knative-serving', name: 'activator-service' },
      logLevel: 'warn',
      apiTimeoutMs: 750,
      queueProxyResources: { cpuRequest: '0.1', memoryRequest: '100M', memoryLimit: '1Gi' },
      queueProxyLogLevel: 'debug',
    });
    expect(loadConfig({ ...BASE, INJECTOR_ACTIVATOR_SERVICE: '-' }, reader).activatorService).toBeUndefined();
    expect(loadConfig({ ...BASE, INJECTOR_ACTIVATOR_SERVICE: 'act' }, reader).activatorService).toEqual({
      namespace: 'zerogate-system',
      name: 'act',
    });
  });

  it('names every bad variable at once', () => {
    expect(
      badVariables({
        INJECTOR_PORT: 'https',
        INJECTOR_TLS_CERT_FILE: '/missing/tls.crt',
        INJECTOR_TLS_KEY_FILE: '/missing/tls.key',
        INJECTOR_SYSTEM_NAMESPACE: 'Zerogate_System',
        INJECTOR_ACTIVATOR_SERVICE: 'a/b/c',
        INJECTOR_LOG_LEVEL: 'loud',
        INJECTOR_QUEUE_PROXY_LOG_LEVEL: 'chatty',
        INJECTOR_API_TIMEOUT: '0s',
        INJECTOR_QUEUE_PROXY_CPU_REQUEST: 'lots',
        KUBECONFIG: '/kube/config:/kube/missing',
      }).sort(),
    ).toEqual(
      [
        'INJECTOR_PORT',
        'INJECTOR_QUEUE_PROXY_IMAGE',
        'INJECTOR_TLS_CERT_FILE',
        'INJECTOR_TLS_KEY_FILE',
        'INJECTOR_SYSTEM_NAMESPACE',
        'INJECTOR_ACTIVATOR_SERVICE',
        'INJECTOR_LOG_LEVEL',
        'INJECTOR_QUEUE_PROXY_LOG_LEVEL',
        'INJECTOR_API_TIMEOUT',
        'INJECTOR_QUEUE_PROXY_CPU_REQUEST',
        'KUBECONFIG',
      ].sort(),
    );
  });

  it('rejects out-of-range values', () => {
    expect(badVariables({ ...BASE, INJECTOR_PORT: '65536' })).toEqual(['INJECTOR_PORT']);
    expect(badVariables({ ...BASE, INJECTOR_API_TIMEOUT: '21s' })).toEqual(['INJECTOR_API_TIMEOUT']);
    expect(badVariables({ ...BASE, INJECTOR_QUEUE_PROXY_IMAGE: 'has space' })).toEqual([
      'INJECTOR_QUEUE_PROXY_IMAGE',
    ]);
    expect(badVariables({ ...BASE, INJECTOR_QUEUE_PROXY_MEMORY_LIMIT: '-1Gi' })).toEqual([
      'INJECTOR_QUEUE_PROXY_MEMORY_LIMIT',
    ]);
  });

  it('rejects a key that does not belong to the certificate, or is not a key', () => {
    expect(badVariables({ ...BASE, INJECTOR_TLS_KEY_FILE: '/other/tls.key' })).toEqual([
      'INJECTOR_TLS_CERT_FILE',
    ]);
    expect(badVariables({ ...BASE, INJECTOR_TLS_KEY_FILE: '/kube/config' })).toEqual([
      'INJECTOR_TLS_CERT_FILE',
    ]);
  });
});

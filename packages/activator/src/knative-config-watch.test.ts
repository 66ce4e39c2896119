import type { V1ConfigMap } from '@kubernetes/client-node';
import { TRACING_OFF, type TracingConfig } from '@zerogate/core';
import { describe, expect, it } from 'vitest';
import { InformerHarness } from '../../../test/support/informer-harness.js';
import {
  CONFIGMAPS_FORBIDDEN_MESSAGE,
  KnativeConfigWatch,
  type KnativeConfigWatchOptions,
} from './knative-config-watch.js';

const NAMESPACE = 'knative-serving';
const NAMES = { logging: 'config-logging', observability: 'config-observability', tracing: 'config-tracing' };
const ZIPKIN = {
  backend: 'zipkin',
  'zipkin-endpoint': 'http://zipkin:9411/api/v2/spans',
  'sample-rate': '1',
};

function configMap(name: string, data: Record<string, string>, namespace = NAMESPACE): V1ConfigMap {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace }, data };
}

/** What the watch applied, in order. */
class Applied {
  readonly levels: string[] = [];
  readonly tracing: TracingConfig[] = [];
  readonly options = {
    onLogLevel: (level: string) => void this.levels.push(level),
    onTracing: (config: TracingConfig) => void this.tracing.push(config),
  };
}

const harness = new InformerHarness<KnativeConfigWatch, KnativeConfigWatchOptions>(
  (options) =>
    new KnativeConfigWatch({ namespace: NAMESPACE, names: NAMES, ...options } as KnativeConfigWatchOptions),
);

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('KnativeConfigWatch', () => {
  it('applies the ConfigMaps that exist before start resolves, each setting once, and ignores other namespaces', async () => {
    harness.server.apply(configMap('config-logging', { 'loglevel.activator': 'debug' }));
    harness.server.apply(configMap('config-tracing', ZIPKIN));
    harness.server.apply(configMap('config-logging', { 'loglevel.activator': 'error' }, 'default'));
    const applied = new Applied();
    await harness.make(applied.options).start();
    expect(applied.levels).toEqual(['debug']);
    expect(applied.tracing).toEqual([
      expect.objectContaining({ exporter: 'zipkin', endpoint: ZIPKIN['zipkin-endpoint'] }),
    ]);
  });

  it('without the ConfigMaps, applies the defaults: level info, tracing off', async () => {
    const applied = new Applied();
    await harness.make(applied.options).start();
    expect(applied.levels).toEqual(['info']);
    expect(applied.tracing).toEqual([TRACING_OFF]);
  });

  it('follows changes: an edit, a deletion (back to the defaults), and nothing for an edit that changes nothing it reads', async () => {
    const applied = new Applied();
    await harness.make(applied.options).start();
    harness.server.apply(configMap('config-logging', { 'loglevel.activator': 'debug' }));
    harness.server.apply(
      configMap('config-observability', {
        'tracing-protocol': 'http/protobuf',
        'tracing-endpoint': 'http://otel:4318/v1/traces',
      }),
    );
    await until(() => applied.tracing.length === 2, 'the observability tracing');
    expect(applied.tracing[1]).toMatchObject({
      exporter: 'otlp',
      endpoint: 'http://otel:4318/v1/traces',
      sampler: { ratio: 0 },
    });
    // Another key of the same ConfigMap: nothing to apply.
    harness.server.apply(
      configMap('config-observability', {
        'tracing-protocol': 'http/protobuf',
        'tracing-endpoint': 'http://otel:4318/v1/traces',
        'metrics-protocol': 'prometheus',
      }),
    );
    harness.server.delete('ConfigMap', NAMESPACE, 'config-logging');
    await until(() => applied.levels.length === 3, 'the level after the deletion');
    expect(applied.levels).toEqual(['info', 'debug', 'info']);
    harness.server.delete('ConfigMap', NAMESPACE, 'config-observability');
    await until(() => applied.tracing.length === 3, 'tracing off again');
    expect(applied.tracing[2]).toEqual(TRACING_OFF);
  });

  it('keeps what is in use when a value cannot be used, logging it once with its key, and takes the next good one', async () => {
    harness.server.apply(configMap('config-logging', { 'loglevel.activator': 'debug' }));
    const applied = new Applied();
    await harness.make(applied.options).start();
    harness.server.apply(configMap('config-logging', { 'loglevel.activator': 'loud' }));
    harness.server.apply(configMap('config-logging', { 'loglevel.activator': 'loud', other: 'x' }));
    harness.server.apply(configMap('config-tracing', { ...ZIPKIN, 'sample-rate': '5' }));
    harness.server.apply(configMap('config-logging', { 'loglevel.activator': 'warn' }));
    await until(() => applied.levels.length === 2, 'the good level');
    expect(applied.levels).toEqual(['debug', 'warn']);
    expect(applied.tracing).toEqual([TRACING_OFF]);
    const invalid = harness.logs.filter((l) => l.msg.startsWith('invalid '));
    expect(invalid).toEqual([
      expect.objectContaining({
        level: 40,
        msg: 'invalid log level in ConfigMap; keeping the one in use',
        problems: ['config-logging loglevel.activator: unknown level "loud"'],
      }),
      expect.objectContaining({
        level: 40,
        msg: 'invalid tracing in ConfigMap; keeping the one in use',
        problems: ['config-tracing sample-rate: must be a number from 0 to 1, got "5"'],
      }),
    ]);
  });

  it('turns the request log on and off from config-observability', async () => {
    const sources: string[] = [];
    await harness.make({ onRequestLog: (setting) => void sources.push(setting.source) }).start();
    const on = {
      'logging.enable-request-log': 'true',
      'logging.request-log-template': '{{.Request.Method}}',
    };
    harness.server.apply(configMap('config-observability', on));
    await until(() => sources.length === 2, 'the log on');
    harness.server.apply(
      configMap('config-observability', { ...on, 'logging.request-log-template': '{{.Broken' }),
    );
    harness.server.apply(configMap('config-observability', { ...on, 'logging.enable-request-log': 'false' }));
    await until(() => sources.length === 3, 'the log off');
    expect(sources).toEqual(['', '{{.Request.Method}}', '']);
    expect(harness.logs.filter((l) => l.msg.startsWith('invalid '))).toEqual([
      expect.objectContaining({ msg: 'invalid request log in ConfigMap; keeping the one in use' }),
    ]);
  });

  it('follows only the settings it is given a callback for', async () => {
    harness.server.apply(configMap('config-logging', { 'loglevel.activator': 'debug' }));
    const levels: string[] = [];
    await harness.make({ onLogLevel: (level) => void levels.push(level) }).start();
    harness.server.apply(configMap('config-tracing', { backend: 'bogus' }));
    harness.server.apply(configMap('config-logging', { 'loglevel.activator': 'warn' }));
    await until(() => levels.length === 2, 'the second level');
    expect(harness.logs.filter((l) => l.msg.startsWith('invalid '))).toEqual([]);
  });

  it('where listing ConfigMaps is forbidden, says so once at info and never asks again', async () => {
    harness.server.authorize = (r) => !r.path.includes('/configmaps');
    const applied = new Applied();
    await harness.make(applied.options).start();
    await new Promise((r) => setTimeout(r, 200));
    expect(applied.levels).toEqual([]);
    expect(applied.tracing).toEqual([]);
    expect(
      harness.server.requests.filter((r) => r.path.includes('/configmaps')).map((r) => `${r.verb} ${r.path}`),
    ).toEqual([`list /api/v1/namespaces/${NAMESPACE}/configmaps`]);
    expect(harness.logs.filter((l) => l.level >= 30)).toEqual([
      expect.objectContaining({
        level: 30,
        msg: CONFIGMAPS_FORBIDDEN_MESSAGE,
        forbidden: `list configmaps in namespace ${NAMESPACE}`,
      }),
    ]);
  });
});

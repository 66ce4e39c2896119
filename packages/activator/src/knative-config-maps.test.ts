import { DEFAULT_REQUEST_LOG_TEMPLATE, TRACING_OFF } from '@zerogate/core';
import { describe, expect, it } from 'vitest';
import { readLogLevel, readRequestLog, readTracing } from './knative-config-maps.js';

const NAMES = { logging: 'config-logging', observability: 'config-observability', tracing: 'config-tracing' };

describe('readLogLevel (config-logging)', () => {
  it('takes loglevel.activator over zap-logger-config’s level, in zap’s names; info without either', () => {
    const zap = JSON.stringify({ level: 'warn', encoding: 'json' });
    expect(
      readLogLevel('config-logging', { 'loglevel.activator': 'debug', 'zap-logger-config': zap }),
    ).toEqual({
      ok: true,
      value: 'debug',
    });
    expect(readLogLevel('config-logging', { 'zap-logger-config': zap })).toEqual({ ok: true, value: 'warn' });
    expect(readLogLevel('config-logging', { 'loglevel.autoscaler': 'debug' })).toEqual({
      ok: true,
      value: 'info',
    });
    expect(readLogLevel('config-logging', { 'loglevel.activator': 'dpanic' })).toEqual({
      ok: true,
      value: 'fatal',
    });
    expect(readLogLevel('config-logging', undefined)).toEqual({ ok: true, value: 'info' });
  });

  it('names the key of a level it does not know, or of zap-logger-config that is not JSON', () => {
    expect(readLogLevel('my-logging', { 'loglevel.activator': 'loud' })).toEqual({
      ok: false,
      problems: ['my-logging loglevel.activator: unknown level "loud"'],
    });
    expect(readLogLevel('config-logging', { 'zap-logger-config': '{' })).toMatchObject({
      ok: false,
      problems: [expect.stringMatching(/^config-logging zap-logger-config: is not valid JSON/)],
    });
    expect(readLogLevel('config-logging', { 'zap-logger-config': '{"level":7}' })).toEqual({
      ok: false,
      problems: ['config-logging zap-logger-config: unknown level 7'],
    });
  });
});

describe('readTracing (config-tracing, config-observability)', () => {
  it('is off without either ConfigMap, or with backend none and no tracing protocol', () => {
    expect(readTracing(NAMES, undefined, undefined)).toEqual({ ok: true, value: TRACING_OFF });
    expect(readTracing(NAMES, { backend: 'none' }, { 'metrics-protocol': 'prometheus' })).toEqual({
      ok: true,
      value: TRACING_OFF,
    });
  });

  it('reads Knative ≤ 1.18’s config-tracing: zipkin, its endpoint, sample-rate, and debug sampling all', () => {
    const zipkin = {
      backend: 'zipkin',
      'zipkin-endpoint': 'http://zipkin:9411/api/v2/spans',
      'sample-rate': '0.5',
    };
    expect(readTracing(NAMES, zipkin, undefined)).toEqual({
      ok: true,
      value: {
        exporter: 'zipkin',
        endpoint: 'http://zipkin:9411/api/v2/spans',
        protocol: 'http/protobuf',
        sampler: { parentBased: true, ratio: 0.5 },
        serviceName: 'activator',
      },
    });
    const debug = readTracing(NAMES, { ...zipkin, debug: 'true' }, undefined);
    expect(debug.ok && debug.value.sampler).toEqual({ parentBased: true, ratio: 1 });
  });

  it('reads Knative ≥ 1.19’s tracing-* keys of config-observability, which win over config-tracing', () => {
    const observability = {
      'tracing-protocol': 'http/json',
      'tracing-endpoint': 'http://otel:4318/v1/traces',
      'tracing-sampling-rate': '0.25',
    };
    expect(readTracing(NAMES, { backend: 'zipkin', 'zipkin-endpoint': 'http://z' }, observability)).toEqual({
      ok: true,
      value: {
        exporter: 'otlp',
        endpoint: 'http://otel:4318/v1/traces',
        protocol: 'http/json',
        sampler: { parentBased: true, ratio: 0.25 },
        serviceName: 'activator',
      },
    });
  });

  it('names the ConfigMap and key of every value it cannot use', () => {
    const problems = (tracing?: Record<string, string>, observability?: Record<string, string>) => {
      const read = readTracing(NAMES, tracing, observability);
      return read.ok ? [] : read.problems;
    };
    expect(problems({ backend: 'jaeger' })).toEqual([
      'config-tracing backend: must be none or zipkin, got "jaeger"',
    ]);
    expect(problems({ backend: 'zipkin' })).toEqual([
      'config-tracing zipkin-endpoint: is required when backend is zipkin',
    ]);
    expect(problems({ backend: 'zipkin', 'zipkin-endpoint': 'http://z', 'sample-rate': '2' })).toEqual([
      'config-tracing sample-rate: must be a number from 0 to 1, got "2"',
    ]);
    expect(
      problems(undefined, { 'tracing-protocol': 'thrift', 'tracing-endpoint': 'http://o:4317' }),
    ).toEqual([
      'config-observability: tracing-protocol must be http/protobuf, http/json, grpc, stdout or none, got "thrift"',
    ]);
    expect(problems(undefined, { 'tracing-protocol': 'http/protobuf' })).toEqual([
      'config-observability: tracing-endpoint is required when tracing-protocol is set',
    ]);
    expect(
      problems(undefined, {
        'tracing-protocol': 'http/protobuf',
        'tracing-endpoint': 'otel:4318',
        'tracing-sampling-rate': 'often',
      }),
    ).toEqual([
      'config-observability: tracing-endpoint must be an http:// or https:// URL, got "otel:4318"',
      'config-observability: tracing-sampling-rate must be a number from 0 to 1, got "often"',
    ]);
  });
});

describe('readRequestLog (config-observability)', () => {
  const TEMPLATE = '{{.Request.Method}} {{.Response.Code}} {{.Revision.Name}}';

  it('is on with logging.enable-request-log, with its template or else Knative’s default, and off without it', () => {
    const on = readRequestLog('config-observability', {
      'logging.enable-request-log': 'true',
      'logging.request-log-template': TEMPLATE,
    });
    expect(on.ok && on.value.source).toBe(TEMPLATE);
    expect(on.ok && on.value.template).toBeDefined();
    const byDefault = readRequestLog('config-observability', { 'logging.enable-request-log': 'true' });
    expect(byDefault.ok && byDefault.value.source).toBe(DEFAULT_REQUEST_LOG_TEMPLATE);
    const offs: (Record<string, string> | undefined)[] = [
      undefined,
      { 'logging.request-log-template': TEMPLATE },
      { 'logging.enable-request-log': 'false', 'logging.request-log-template': TEMPLATE },
    ];
    for (const data of offs) {
      expect(readRequestLog('config-observability', data)).toEqual({
        ok: true,
        value: { source: '', template: undefined },
      });
    }
  });

  it('names the key of a flag that is not a boolean, or a template that does not parse', () => {
    expect(readRequestLog('obs', { 'logging.enable-request-log': 'yes' })).toEqual({
      ok: false,
      problems: ['obs logging.enable-request-log: must be a boolean (true or false), got "yes"'],
    });
    expect(
      readRequestLog('obs', {
        'logging.enable-request-log': 'true',
        'logging.request-log-template': '{{.Request',
      }),
    ).toMatchObject({ ok: false, problems: [expect.stringMatching(/^obs logging.request-log-template: /)] });
    expect(
      readRequestLog('obs', { 'logging.enable-request-log': 'true', 'logging.request-log-template': '' }),
    ).toEqual({
      ok: false,
      problems: ['obs logging.request-log-template: is empty while logging.enable-request-log is true'],
    });
  });
});

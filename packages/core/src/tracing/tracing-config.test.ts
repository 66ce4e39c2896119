import { describe, expect, it } from 'vitest';
import { ConfigError, type Env, EnvReader } from '../config.js';
import { readTracingConfig, TRACING_OFF } from './tracing-config.js';

function read(env: Env) {
  const r = new EnvReader(env);
  const config = readTracingConfig(r, { serviceName: 'queue-proxy', reportObservabilityJson: true });
  r.finish();
  return config;
}

function problems(env: Env): string {
  try {
    read(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error('no problem reported');
}

describe('readTracingConfig', () => {
  it('is off by default and with either era saying none', () => {
    expect(read({})).toBe(TRACING_OFF);
    expect(read({ TRACING_CONFIG_BACKEND: 'none', TRACING_CONFIG_SAMPLE_RATE: '0.1' })).toBe(TRACING_OFF);
    expect(read({ OBSERVABILITY_CONFIG: '{"tracing":{"protocol":"none"}}' })).toBe(TRACING_OFF);
    expect(read({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' })).toBe(
      TRACING_OFF,
    );
  });

  it("reads Knative ≤ 1.18's TRACING_CONFIG_* (Zipkin)", () => {
    expect(
      read({
        TRACING_CONFIG_BACKEND: 'zipkin',
        TRACING_CONFIG_ZIPKIN_ENDPOINT: 'http://zipkin:9411/api/v2/spans',
        TRACING_CONFIG_SAMPLE_RATE: '0.5',
      }),
    ).toEqual({
      exporter: 'zipkin',
      endpoint: 'http://zipkin:9411/api/v2/spans',
      protocol: 'http/protobuf',
      sampler: { parentBased: true, ratio: 0.5 },
      serviceName: 'queue-proxy',
    });
    const debug = read({
      TRACING_CONFIG_BACKEND: 'zipkin',
      TRACING_CONFIG_ZIPKIN_ENDPOINT: 'http://z/api/v2/spans',
      TRACING_CONFIG_DEBUG: 'true',
      TRACING_CONFIG_SAMPLE_RATE: '0',
    });
    expect(debug.sampler.ratio).toBe(1);
    expect(
      read({ TRACING_CONFIG_BACKEND: 'zipkin', TRACING_CONFIG_ZIPKIN_ENDPOINT: 'http://z/' }).sampler.ratio,
    ).toBe(0.1);
  });

  it('writes spans to stdout with OBSERVABILITY_CONFIG’s stdout protocol or OTEL_TRACES_EXPORTER=console', () => {
    expect(
      read({ OBSERVABILITY_CONFIG: '{"tracing":{"protocol":"stdout","samplingRate":0.5}}' }),
    ).toMatchObject({
      exporter: 'stdout',
      sampler: { parentBased: true, ratio: 0.5 },
    });
    expect(read({ OTEL_TRACES_EXPORTER: 'console' })).toMatchObject({ exporter: 'stdout' });
  });

  it('takes OTLP over gRPC, from OBSERVABILITY_CONFIG and from OTEL_EXPORTER_OTLP_PROTOCOL', () => {
    expect(
      read({
        OBSERVABILITY_CONFIG:
          '{"tracing":{"protocol":"grpc","endpoint":"http://otel:4317","samplingRate":1}}',
      }),
    ).toMatchObject({ exporter: 'otlp', endpoint: 'http://otel:4317', protocol: 'grpc' });
    expect(
      read({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://otel:4317', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }),
    ).toMatchObject({ exporter: 'otlp', protocol: 'grpc' });
  });

  it("reads Knative ≥ 1.19's OBSERVABILITY_CONFIG tracing, the endpoint from OTEL_* when it has none", () => {
    expect(
      read({
        OBSERVABILITY_CONFIG: JSON.stringify({
          tracing: { protocol: 'http/protobuf', endpoint: 'http://otel:4318/v1/traces', samplingRate: 0.25 },
        }),
        OTEL_SERVICE_NAME: 'rev-1',
      }),
    ).toEqual({
      exporter: 'otlp',
      endpoint: 'http://otel:4318/v1/traces',
      protocol: 'http/protobuf',
      sampler: { parentBased: true, ratio: 0.25 },
      serviceName: 'rev-1',
    });
    const fromEnv = read({
      OBSERVABILITY_CONFIG: '{"tracing":{"protocol":"http/json"}}',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel:4318/',
    });
    expect(fromEnv).toMatchObject({ endpoint: 'http://otel:4318/v1/traces', protocol: 'http/json' });
    expect(fromEnv.sampler.ratio).toBe(0);
  });

  it("reads OpenTelemetry's own variables, the sampler overriding every form", () => {
    expect(
      read({
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://otel/custom',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_TRACES_SAMPLER: 'traceidratio',
        OTEL_TRACES_SAMPLER_ARG: '0.3',
      }),
    ).toMatchObject({
      exporter: 'otlp',
      endpoint: 'https://otel/custom',
      protocol: 'http/json',
      sampler: { parentBased: false, ratio: 0.3 },
    });
    expect(
      read({ OTEL_TRACES_EXPORTER: 'zipkin', OTEL_EXPORTER_ZIPKIN_ENDPOINT: 'http://z:9411/api/v2/spans' }),
    ).toMatchObject({
      exporter: 'zipkin',
      sampler: { parentBased: true, ratio: 1 },
    });
    expect(
      read({
        TRACING_CONFIG_BACKEND: 'zipkin',
        TRACING_CONFIG_ZIPKIN_ENDPOINT: 'http://z/',
        OTEL_TRACES_SAMPLER: 'parentbased_always_off',
      }).sampler,
    ).toEqual({ parentBased: true, ratio: 0 });
  });

  it('names each bad variable', () => {
    expect(problems({ TRACING_CONFIG_BACKEND: 'jaeger' })).toMatch(
      /TRACING_CONFIG_BACKEND: must be none or zipkin/,
    );
    expect(problems({ TRACING_CONFIG_BACKEND: 'zipkin' })).toMatch(
      /TRACING_CONFIG_ZIPKIN_ENDPOINT: is required/,
    );
    expect(problems({ TRACING_CONFIG_BACKEND: 'zipkin', TRACING_CONFIG_ZIPKIN_ENDPOINT: 'z:9411' })).toMatch(
      /TRACING_CONFIG_ZIPKIN_ENDPOINT: must be an http/,
    );
    expect(problems({ TRACING_CONFIG_SAMPLE_RATE: '1.5' })).toMatch(
      /TRACING_CONFIG_SAMPLE_RATE: must be a number from 0 to 1/,
    );
    expect(
      problems({
        TRACING_CONFIG_BACKEND: 'zipkin',
        TRACING_CONFIG_ZIPKIN_ENDPOINT: 'http://z/',
        TRACING_CONFIG_DEBUG: 'yes',
      }),
    ).toMatch(/TRACING_CONFIG_DEBUG/);
    expect(
      problems({ OBSERVABILITY_CONFIG: '{"tracing":{"protocol":"thrift","endpoint":"http://o:4317"}}' }),
    ).toMatch(
      /OBSERVABILITY_CONFIG: tracing.protocol must be http\/protobuf, http\/json, grpc, stdout or none, got "thrift"/,
    );
    expect(problems({ OBSERVABILITY_CONFIG: '{"tracing":{"protocol":"http/protobuf"}}' })).toMatch(
      /OBSERVABILITY_CONFIG: tracing.endpoint is required/,
    );
    expect(
      problems({
        OBSERVABILITY_CONFIG:
          '{"tracing":{"protocol":"http/protobuf","endpoint":"http://o","samplingRate":"x"}}',
      }),
    ).toMatch(/OBSERVABILITY_CONFIG: tracing.samplingRate must be a number/);
    expect(problems({ OBSERVABILITY_CONFIG: '{' })).toMatch(/OBSERVABILITY_CONFIG: is not valid JSON/);
    expect(
      problems({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://o', OTEL_EXPORTER_OTLP_PROTOCOL: 'thrift' }),
    ).toMatch(/OTEL_EXPORTER_OTLP_PROTOCOL: must be http\/protobuf, http\/json or grpc/);
    expect(problems({ OTEL_TRACES_SAMPLER: 'sometimes' })).toMatch(/OTEL_TRACES_SAMPLER: must be always_on/);
    expect(problems({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '-1' })).toMatch(
      /OTEL_TRACES_SAMPLER_ARG/,
    );
    expect(problems({ OTEL_TRACES_EXPORTER: 'jaeger' })).toMatch(
      /OTEL_TRACES_EXPORTER: must be otlp, zipkin, console or none/,
    );
    expect(problems({ OTEL_TRACES_EXPORTER: 'otlp' })).toMatch(/OTEL_EXPORTER_OTLP_ENDPOINT: is required/);
  });

  it('leaves a malformed OBSERVABILITY_CONFIG to the reader that reports it', () => {
    const r = new EnvReader({ OBSERVABILITY_CONFIG: '{' });
    expect(readTracingConfig(r, { serviceName: 's', reportObservabilityJson: false })).toBe(TRACING_OFF);
    expect(() => r.finish()).not.toThrow();
  });
});

import { ConfigError, type Env, TRACING_OFF } from '@zerogate/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configErrorVariables } from '../../../test/support/config-errors.js';
import { HAS_OPENSSL, selfSignedTls, type TestTls } from '../../../test/support/tls.js';
import { type CertificateFiles, loadConfig, type QueueProxyConfig } from './config.js';

/** A certificate folder holding `files` (path → content, or the error reading or checking it throws). */
function certificateFiles(files: Readonly<Record<string, Buffer | string | Error>>): CertificateFiles {
  const lookup = (path: string) => {
    const v = files[path];
    if (v instanceof Error) throw v;
    return v;
  };
  return {
    exists: (path) => lookup(path) !== undefined,
    read: (path) => {
      const v = lookup(path);
      if (v === undefined) throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
      return Buffer.from(v);
    },
  };
}

const NO_CERTIFICATE = certificateFiles({});

function errno(code: string): Error {
  return Object.assign(new Error(code), { code });
}

/** The environment Knative's revision reconciler gives a queue-proxy (≥ 1.19 era). */
const KNATIVE_ENV: Readonly<Record<string, string>> = {
  SERVING_NAMESPACE: 'default',
  SERVING_SERVICE: 'hello',
  SERVING_CONFIGURATION: 'hello',
  SERVING_REVISION: 'hello-00001',
  QUEUE_SERVING_PORT: '8012',
  QUEUE_SERVING_TLS_PORT: '8112',
  CONTAINER_CONCURRENCY: '10',
  REVISION_TIMEOUT_SECONDS: '300',
  REVISION_RESPONSE_START_TIMEOUT_SECONDS: '20',
  REVISION_IDLE_TIMEOUT_SECONDS: '45',
  SERVING_POD: 'hello-00001-deployment-7d9c8b6f5-x2k4p',
  SERVING_POD_IP: '10.244.0.17',
  SERVING_LOGGING_CONFIG: '',
  SERVING_LOGGING_LEVEL: '',
  USER_PORT: '8080',
  SYSTEM_NAMESPACE: 'knative-serving',
  HOST_IP: '192.168.1.10',
  ENABLE_HTTP2_AUTO_DETECTION: 'false',
  ENABLE_HTTP_FULL_DUPLEX: 'false',
  ROOT_CA: '',
  ENABLE_MULTI_CONTAINER_PROBES: 'false',
  SERVING_READINESS_PROBE: '{"tcpSocket":{"port":8080,"host":"127.0.0.1"},"successThreshold":1}',
  OBSERVABILITY_CONFIG: '{"tracing":{"protocol":"none"},"metrics":{"protocol":"prometheus"}}',
  OTEL_SERVICE_NAME: 'hello-00001',
};

/** Loads `env` and returns the variables its ConfigError names (failing the test if none is thrown). */
const badVariables = (env: Env) => configErrorVariables(() => loadConfig(env));

function envWith(overrides: Record<string, string | undefined>): Env {
  return { ...KNATIVE_ENV, ...overrides };
}

describe('loadConfig', () => {
  it('reads a full Knative environment', () => {
    const expected: QueueProxyConfig = {
      containerConcurrency: 10,
      servingPort: 8012,
      tlsPort: 8112,
      certsDir: '/var/lib/knative/certs',
      internalTls: {
        served: false,
        reason: 'no tls.crt and tls.key in /var/lib/knative/certs',
        ignoredProblems: [],
      },
      userPort: 8080,
      revisionTimeoutMs: 300_000,
      responseStartTimeoutMs: 20_000,
      idleTimeoutMs: 45_000,
      namespace: 'default',
      service: 'hello',
      configuration: 'hello',
      revision: 'hello-00001',
      pod: 'hello-00001-deployment-7d9c8b6f5-x2k4p',
      podIp: '10.244.0.17',
      readinessProbes: [
        { kind: 'tcp', host: '127.0.0.1', port: 8080, timeoutMs: 1000, periodMs: 0, successThreshold: 1 },
      ],
      http2AutoDetection: false,
      bindAddress: '',
      userHost: '127.0.0.1',
      adminPort: 8022,
      statsPort: 9090,
      metricsPort: 9091,
      drainQuietMs: 30_000,
      upgradeGraceMs: 60_000,
      terminationGraceMs: undefined,
      readHeaderTimeoutMs: 60_000,
      http1Relay: true,
      nativeSidecar: false,
      nativeSidecarSigtermMs: 10_000,
      requestMetrics: false,
      requestLog: false,
      probeRequestLog: false,
      requestLogTemplate: undefined,
      metricNames: 'opentelemetry',
      logLevel: 'info',
      tracing: TRACING_OFF,
      serverTiming: true,
    };
    expect(loadConfig(KNATIVE_ENV, NO_CERTIFICATE)).toEqual(expected);
  });

  it('returns a frozen object', () => {
    expect(Object.isFrozen(loadConfig(KNATIVE_ENV))).toBe(true);
  });

  it('reads the optional and Zerogate-specific variables', () => {
    const config = loadConfig(
      envWith({
        CONTAINER_CONCURRENCY: '0',
        SERVING_SERVICE: undefined,
        REVISION_RESPONSE_START_TIMEOUT_SECONDS: undefined,
        REVISION_IDLE_TIMEOUT_SECONDS: '',
        SERVING_READINESS_PROBE: '',
        ENABLE_HTTP2_AUTO_DETECTION: 'true',
        SERVING_LOGGING_LEVEL: 'debug',
        QUEUE_BIND_ADDRESS: '127.0.0.1',
        QUEUE_USER_HOST: '127.3.0.9',
        QUEUE_ADMIN_PORT: '18022',
        QUEUE_STATS_PORT: '19090',
        QUEUE_METRICS_PORT: '19091',
        QUEUE_DRAIN_QUIET_SECONDS: '5',
        QUEUE_READ_HEADER_TIMEOUT_SECONDS: '2',
        QUEUE_NATIVE_SIDECAR: 'true',
        QUEUE_NATIVE_SIDECAR_SIGTERM_SECONDS: '3',
      }),
    );
    expect(config).toMatchObject({
      containerConcurrency: 0,
      service: '',
      responseStartTimeoutMs: 0,
      idleTimeoutMs: 0,
      readinessProbes: [],
      http2AutoDetection: true,
      logLevel: 'debug',
      bindAddress: '127.0.0.1',
      userHost: '127.3.0.9',
      adminPort: 18022,
      statsPort: 19090,
      metricsPort: 19091,
      drainQuietMs: 5000,
      readHeaderTimeoutMs: 2000,
      nativeSidecar: true,
      nativeSidecarSigtermMs: 3000,
    });
  });

  describe('the termination grace period', () => {
    it('is none when QUEUE_TERMINATION_GRACE_SECONDS is unset: upgraded connections get 60 s', () => {
      const config = loadConfig(envWith({ QUEUE_TERMINATION_GRACE_SECONDS: undefined }));
      expect(config.terminationGraceMs).toBeUndefined();
      expect(config.upgradeGraceMs).toBe(60_000);
    });

    it('lets upgraded connections run until it ends, unless QUEUE_UPGRADE_GRACE_SECONDS is set', () => {
      const config = loadConfig(envWith({ QUEUE_TERMINATION_GRACE_SECONDS: '300' }));
      expect(config.terminationGraceMs).toBe(300_000);
      expect(config.upgradeGraceMs).toBeUndefined();
      const both = loadConfig(
        envWith({ QUEUE_TERMINATION_GRACE_SECONDS: '300', QUEUE_UPGRADE_GRACE_SECONDS: '20' }),
      );
      expect(both.upgradeGraceMs).toBe(20_000);
    });

    it('names a bad QUEUE_TERMINATION_GRACE_SECONDS', () => {
      expect(badVariables(envWith({ QUEUE_TERMINATION_GRACE_SECONDS: '-1' }))).toEqual([
        'QUEUE_TERMINATION_GRACE_SECONDS',
      ]);
      expect(badVariables(envWith({ QUEUE_TERMINATION_GRACE_SECONDS: 'long' }))).toEqual([
        'QUEUE_TERMINATION_GRACE_SECONDS',
      ]);
    });
  });

  it('turns Server-Timing off with QUEUE_SERVER_TIMING=false and names a bad value', () => {
    expect(loadConfig(envWith({ QUEUE_SERVER_TIMING: 'false' })).serverTiming).toBe(false);
    expect(badVariables(envWith({ QUEUE_SERVER_TIMING: 'maybe' }))).toEqual(['QUEUE_SERVER_TIMING']);
  });

  it('maps zap level names to pino ones', () => {
    expect(loadConfig(envWith({ SERVING_LOGGING_LEVEL: 'warning' })).logLevel).toBe('warn');
    expect(loadConfig(envWith({ SERVING_LOGGING_LEVEL: 'dpanic' })).logLevel).toBe('fatal');
  });

  it('lets every listener pick a free port when they are all 0', () => {
    const config = loadConfig(
      envWith({
        QUEUE_SERVING_PORT: '0',
        QUEUE_ADMIN_PORT: '0',
        QUEUE_STATS_PORT: '0',
        QUEUE_METRICS_PORT: '0',
      }),
    );
    expect([config.servingPort, config.adminPort, config.statsPort, config.metricsPort]).toEqual([
      0, 0, 0, 0,
    ]);
  });

  it('reads the test harness environment', () => {
    const config = loadConfig({
      CONTAINER_CONCURRENCY: '0',
      QUEUE_SERVING_PORT: '0',
      QUEUE_SERVING_TLS_PORT: '8112',
      USER_PORT: '34567',
      REVISION_TIMEOUT_SECONDS: '300',
      SERVING_LOGGING_CONFIG: '',
      SERVING_LOGGING_LEVEL: 'info',
      SERVING_NAMESPACE: 'default',
      SERVING_CONFIGURATION: 'hello',
      SERVING_REVISION: 'hello-00001',
      SERVING_POD: 'hello-00001-deployment-abc',
      SERVING_POD_IP: '127.0.0.1',
      SERVING_READINESS_PROBE: JSON.stringify({
        tcpSocket: { port: 34567, host: '127.0.0.1' },
        successThreshold: 1,
      }),
      QUEUE_BIND_ADDRESS: '127.0.0.1',
      QUEUE_ADMIN_PORT: '0',
      QUEUE_STATS_PORT: '0',
      QUEUE_METRICS_PORT: '0',
    });
    expect(config.userPort).toBe(34567);
    expect(config.readinessProbes).toEqual([
      { kind: 'tcp', host: '127.0.0.1', port: 34567, timeoutMs: 1000, periodMs: 0, successThreshold: 1 },
    ]);
  });

  it('reads several probes when multi-container probing is on', () => {
    const config = loadConfig(
      envWith({
        ENABLE_MULTI_CONTAINER_PROBES: 'true',
        SERVING_READINESS_PROBE: JSON.stringify([
          { httpGet: { path: '/ready', port: 8080 }, periodSeconds: 5, timeoutSeconds: 2 },
          { tcpSocket: { port: 9000 } },
        ]),
      }),
    );
    expect(config.readinessProbes).toHaveLength(2);
    expect(config.readinessProbes[0]).toMatchObject({
      kind: 'http',
      path: '/ready',
      port: 8080,
      periodMs: 5000,
    });
    expect(config.readinessProbes[1]).toMatchObject({ kind: 'tcp', port: 9000 });
  });

  describe('request metrics', () => {
    it('are on with OBSERVABILITY_CONFIG requestMetrics.protocol prometheus', () => {
      const env = envWith({ OBSERVABILITY_CONFIG: '{"requestMetrics":{"protocol":"prometheus"}}' });
      expect(loadConfig(env).requestMetrics).toBe(true);
    });

    it('are on with SERVING_REQUEST_METRICS_BACKEND=prometheus, in any case', () => {
      expect(
        loadConfig(
          envWith({ OBSERVABILITY_CONFIG: undefined, SERVING_REQUEST_METRICS_BACKEND: 'prometheus' }),
        ).requestMetrics,
      ).toBe(true);
      expect(loadConfig(envWith({ SERVING_REQUEST_METRICS_BACKEND: 'Prometheus' })).requestMetrics).toBe(
        true,
      );
    });

    it('are off for other protocols and by default', () => {
      expect(
        loadConfig(envWith({ OBSERVABILITY_CONFIG: '{"requestMetrics":{"protocol":"grpc"}}' }))
          .requestMetrics,
      ).toBe(false);
      expect(loadConfig(envWith({ SERVING_REQUEST_METRICS_BACKEND: 'opencensus' })).requestMetrics).toBe(
        false,
      );
      expect(loadConfig(envWith({ OBSERVABILITY_CONFIG: undefined })).requestMetrics).toBe(false);
      // The metrics protocol is about the queue-proxy's own metrics, not request metrics.
      expect(loadConfig(KNATIVE_ENV).requestMetrics).toBe(false);
    });
  });

  describe('tracing', () => {
    it("reads Knative ≥ 1.19's OBSERVABILITY_CONFIG tracing and OTEL_SERVICE_NAME", () => {
      const config = loadConfig(
        envWith({
          OBSERVABILITY_CONFIG: JSON.stringify({
            tracing: { protocol: 'http/protobuf', endpoint: 'http://otel:4318/v1/traces', samplingRate: 1 },
          }),
        }),
        NO_CERTIFICATE,
      );
      expect(config.tracing).toEqual({
        exporter: 'otlp',
        endpoint: 'http://otel:4318/v1/traces',
        protocol: 'http/protobuf',
        sampler: { parentBased: true, ratio: 1 },
        serviceName: 'hello-00001',
      });
    });

    it("reads Knative ≤ 1.18's TRACING_CONFIG_*", () => {
      const config = loadConfig(
        envWith({
          OBSERVABILITY_CONFIG: undefined,
          TRACING_CONFIG_BACKEND: 'zipkin',
          TRACING_CONFIG_ZIPKIN_ENDPOINT: 'http://zipkin.istio-system:9411/api/v2/spans',
          TRACING_CONFIG_SAMPLE_RATE: '0.1',
          TRACING_CONFIG_DEBUG: 'false',
        }),
        NO_CERTIFICATE,
      );
      expect(config.tracing).toMatchObject({ exporter: 'zipkin', sampler: { ratio: 0.1 } });
    });

    it('names a bad tracing variable', () => {
      expect(badVariables(envWith({ TRACING_CONFIG_BACKEND: 'stackdriver' }))).toEqual([
        'TRACING_CONFIG_BACKEND',
      ]);
      expect(
        badVariables(
          envWith({ OBSERVABILITY_CONFIG: '{"tracing":{"protocol":"thrift","endpoint":"http://o:4317"}}' }),
        ),
      ).toEqual(['OBSERVABILITY_CONFIG']);
      expect(badVariables(envWith({ OTEL_TRACES_SAMPLER: 'maybe' }))).toEqual(['OTEL_TRACES_SAMPLER']);
    });
  });

  describe('request log', () => {
    it('is on with OBSERVABILITY_CONFIG enableRequestLog (≥ 1.19)', () => {
      const config = loadConfig(envWith({ OBSERVABILITY_CONFIG: '{"enableRequestLog":true}' }));
      expect(config.requestLog).toBe(true);
      expect(config.probeRequestLog).toBe(false);
    });

    it('is on with SERVING_ENABLE_REQUEST_LOG (≤ 1.18)', () => {
      const config = loadConfig(
        envWith({ OBSERVABILITY_CONFIG: undefined, SERVING_ENABLE_REQUEST_LOG: 'true' }),
      );
      expect(config.requestLog).toBe(true);
      expect(config.probeRequestLog).toBe(false);
    });

    it('includes probes with enableProbeRequestLog or SERVING_ENABLE_PROBE_REQUEST_LOG', () => {
      expect(
        loadConfig(
          envWith({ OBSERVABILITY_CONFIG: '{"enableRequestLog":true,"enableProbeRequestLog":true}' }),
        ).probeRequestLog,
      ).toBe(true);
      expect(loadConfig(envWith({ SERVING_ENABLE_PROBE_REQUEST_LOG: 'true' })).probeRequestLog).toBe(true);
    });

    it('is off when asked in either era', () => {
      const config = loadConfig(
        envWith({
          OBSERVABILITY_CONFIG: '{"enableRequestLog":false}',
          SERVING_ENABLE_REQUEST_LOG: 'false',
          SERVING_ENABLE_PROBE_REQUEST_LOG: 'false',
        }),
      );
      expect(config.requestLog).toBe(false);
      expect(config.probeRequestLog).toBe(false);
    });
  });

  describe('errors', () => {
    it('lists every required variable missing from an empty environment', () => {
      const bad = badVariables({});
      for (const name of [
        'CONTAINER_CONCURRENCY',
        'QUEUE_SERVING_PORT',
        'QUEUE_SERVING_TLS_PORT',
        'USER_PORT',
        'REVISION_TIMEOUT_SECONDS',
        'SERVING_LOGGING_CONFIG',
        'SERVING_LOGGING_LEVEL',
        'SERVING_NAMESPACE',
        'SERVING_CONFIGURATION',
        'SERVING_REVISION',
        'SERVING_POD',
        'SERVING_POD_IP',
      ]) {
        expect(bad).toContain(name);
      }
    });

    it.each([
      'CONTAINER_CONCURRENCY',
      'QUEUE_SERVING_PORT',
      'QUEUE_SERVING_TLS_PORT',
      'USER_PORT',
      'REVISION_TIMEOUT_SECONDS',
      'SERVING_LOGGING_CONFIG',
      'SERVING_LOGGING_LEVEL',
      'SERVING_NAMESPACE',
      'SERVING_CONFIGURATION',
      'SERVING_REVISION',
      'SERVING_POD',
      'SERVING_POD_IP',
    ])('names %s alone when only it is missing', (name) => {
      expect(badVariables(envWith({ [name]: undefined }))).toEqual([name]);
    });

    it('names every bad variable at once', () => {
      const bad = badVariables(
        envWith({
          CONTAINER_CONCURRENCY: '-1',
          QUEUE_SERVING_TLS_PORT: 'https',
          USER_PORT: '0',
          REVISION_TIMEOUT_SECONDS: '3601',
          REVISION_RESPONSE_START_TIMEOUT_SECONDS: 'soon',
          REVISION_IDLE_TIMEOUT_SECONDS: '-1',
          SERVING_LOGGING_LEVEL: 'loud',
          ENABLE_HTTP2_AUTO_DETECTION: 'maybe',
          ENABLE_MULTI_CONTAINER_PROBES: 'perhaps',
          SERVING_READINESS_PROBE: '{not json',
          OBSERVABILITY_CONFIG: '[',
          QUEUE_ADMIN_PORT: '70000',
          QUEUE_STATS_PORT: 'x',
          QUEUE_METRICS_PORT: '-2',
          QUEUE_DRAIN_QUIET_SECONDS: '-5',
          QUEUE_NATIVE_SIDECAR: 'yes',
          QUEUE_NATIVE_SIDECAR_SIGTERM_SECONDS: '0',
          SERVING_ENABLE_REQUEST_LOG: 'sometimes',
          SERVING_ENABLE_PROBE_REQUEST_LOG: '2',
        }),
      );
      expect(new Set(bad)).toEqual(
        new Set([
          'CONTAINER_CONCURRENCY',
          'QUEUE_SERVING_TLS_PORT',
          'USER_PORT',
          'REVISION_TIMEOUT_SECONDS',
          'REVISION_RESPONSE_START_TIMEOUT_SECONDS',
          'REVISION_IDLE_TIMEOUT_SECONDS',
          'SERVING_LOGGING_LEVEL',
          'ENABLE_HTTP2_AUTO_DETECTION',
          'ENABLE_MULTI_CONTAINER_PROBES',
          'SERVING_READINESS_PROBE',
          'OBSERVABILITY_CONFIG',
          'QUEUE_ADMIN_PORT',
          'QUEUE_STATS_PORT',
          'QUEUE_METRICS_PORT',
          'QUEUE_DRAIN_QUIET_SECONDS',
          'QUEUE_NATIVE_SIDECAR',
          'QUEUE_NATIVE_SIDECAR_SIGTERM_SECONDS',
          'SERVING_ENABLE_REQUEST_LOG',
          'SERVING_ENABLE_PROBE_REQUEST_LOG',
        ]),
      );
    });

    it.each([
      ['CONTAINER_CONCURRENCY', 'ten'],
      ['CONTAINER_CONCURRENCY', '1.5'],
      ['CONTAINER_CONCURRENCY', '100001'],
      ['QUEUE_SERVING_PORT', '65536'],
      ['QUEUE_SERVING_TLS_PORT', '65536'],
      ['USER_PORT', '-80'],
      ['REVISION_TIMEOUT_SECONDS', '-1'],
      ['SERVING_LOGGING_LEVEL', 'verbose'],
      ['QUEUE_DRAIN_QUIET_SECONDS', 'abc'],
      ['QUEUE_READ_HEADER_TIMEOUT_SECONDS', '0'],
      ['QUEUE_READ_HEADER_TIMEOUT_SECONDS', '1.5'],
      ['QUEUE_USER_HOST', 'localhost'],
      ['QUEUE_NATIVE_SIDECAR', 'on'],
      ['QUEUE_NATIVE_SIDECAR_SIGTERM_SECONDS', '2.5'],
      ['QUEUE_NATIVE_SIDECAR_SIGTERM_SECONDS', '3601'],
      ['SERVING_READINESS_PROBE', '{"exec":{"command":["true"]}}'],
      ['SERVING_READINESS_PROBE', '{}'],
      ['SERVING_READINESS_PROBE', '[{"tcpSocket":{}}]'],
      ['SERVING_READINESS_PROBE', '{"httpGet":{"port":"http"}}'],
      ['OBSERVABILITY_CONFIG', '"text"'],
      ['OBSERVABILITY_CONFIG', '42'],
    ])('names %s=%j', (name, value) => {
      expect(badVariables(envWith({ [name]: value }))).toEqual([name]);
    });

    it('rejects a single probe object when multi-container probing is on', () => {
      expect(badVariables(envWith({ ENABLE_MULTI_CONTAINER_PROBES: 'true' }))).toEqual([
        'SERVING_READINESS_PROBE',
      ]);
    });

    it('names the later of two listeners that share a port', () => {
      expect(badVariables(envWith({ QUEUE_STATS_PORT: '8012' }))).toEqual(['QUEUE_STATS_PORT']);
      expect(badVariables(envWith({ QUEUE_ADMIN_PORT: '9091', QUEUE_METRICS_PORT: '9091' }))).toEqual([
        'QUEUE_METRICS_PORT',
      ]);
    });

    it('names USER_PORT when it is the serving port', () => {
      expect(badVariables(envWith({ USER_PORT: '8012' }))).toEqual(['USER_PORT']);
    });

    it('says what is wrong in the message, one line per problem', () => {
      try {
        loadConfig(envWith({ CONTAINER_CONCURRENCY: '-1', USER_PORT: undefined }));
        expect.unreachable();
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        const message = (err as Error).message;
        expect(message).toContain('CONTAINER_CONCURRENCY: must be at least 0, got -1');
        expect(message).toContain('USER_PORT: is required but not set');
        expect(message.split('\n')).toHaveLength(3);
      }
    });
  });
});

describe.skipIf(!HAS_OPENSSL)('loadConfig: internal TLS', () => {
  let tls: TestTls;
  let other: TestTls;
  const DIR = '/var/lib/knative/certs';
  const withPair = (cert: Buffer | string, key: Buffer | string) =>
    certificateFiles({ [`${DIR}/tls.crt`]: cert, [`${DIR}/tls.key`]: key });

  beforeAll(() => {
    tls = selfSignedTls('localhost');
    other = selfSignedTls('other');
  });
  afterAll(() => {
    tls?.remove();
    other?.remove();
  });

  it('serves TLS when tls.crt and tls.key are in the Knative folder, TLS 1.3 only by default', () => {
    const config = loadConfig(KNATIVE_ENV, withPair(tls.cert, tls.key));
    expect(config.internalTls).toEqual({
      served: true,
      certFile: `${DIR}/tls.crt`,
      keyFile: `${DIR}/tls.key`,
      pair: { cert: tls.cert, key: tls.key },
      settings: expect.objectContaining({
        minVersion: 'TLSv1.3',
        maxVersion: 'TLSv1.3',
        ecdhCurve: undefined,
      }),
    });
  });

  it('reads the folder from QUEUE_CERTS_DIR', () => {
    const files = certificateFiles({ '/certs/tls.crt': tls.cert, '/certs/tls.key': tls.key });
    const config = loadConfig(envWith({ QUEUE_CERTS_DIR: '/certs' }), files);
    expect(config.certsDir).toBe('/certs');
    expect(config.internalTls).toMatchObject({ served: true, certFile: '/certs/tls.crt' });
  });

  it('does not serve TLS when either file is missing, saying which', () => {
    expect(loadConfig(KNATIVE_ENV, certificateFiles({ [`${DIR}/tls.crt`]: tls.cert })).internalTls).toEqual({
      served: false,
      reason: `no tls.key in ${DIR}`,
      ignoredProblems: [],
    });
  });

  it('reads QUEUE_PROXY_TLS_* with Go names', () => {
    const config = loadConfig(
      envWith({
        QUEUE_PROXY_TLS_MIN_VERSION: '1.2',
        QUEUE_PROXY_TLS_CIPHER_SUITES: 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256',
        QUEUE_PROXY_TLS_CURVE_PREFERENCES: 'X25519,CurveP256',
      }),
      withPair(tls.cert, tls.key),
    );
    expect(config.internalTls.served && config.internalTls.settings).toEqual({
      minVersion: 'TLSv1.2',
      maxVersion: 'TLSv1.3',
      ciphers:
        'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:ECDHE-ECDSA-AES128-GCM-SHA256',
      ecdhCurve: 'X25519:P-256',
    });
  });

  it('names bad QUEUE_PROXY_TLS_* variables when TLS is served, and only notes them otherwise (as Knative reads them only then)', () => {
    const env = envWith({ QUEUE_PROXY_TLS_MIN_VERSION: '1.0', QUEUE_PROXY_TLS_CURVE_PREFERENCES: 'P-192' });
    expect(configErrorVariables(() => loadConfig(env, withPair(tls.cert, tls.key)))).toEqual([
      'QUEUE_PROXY_TLS_MIN_VERSION',
      'QUEUE_PROXY_TLS_CURVE_PREFERENCES',
    ]);
    const config = loadConfig(env, NO_CERTIFICATE);
    expect(config.internalTls.served).toBe(false);
    expect(!config.internalTls.served && config.internalTls.ignoredProblems).toEqual([
      'QUEUE_PROXY_TLS_MIN_VERSION: must be "1.2" or "1.3", got "1.0"',
      expect.stringMatching(/^QUEUE_PROXY_TLS_CURVE_PREFERENCES: unknown curve "P-192"/),
    ]);
  });

  it('names QUEUE_CERTS_DIR with both files when they are not a usable pair', () => {
    for (const files of [
      withPair('garbage', tls.key),
      withPair(tls.cert, other.key),
      withPair(tls.cert, ''),
    ]) {
      try {
        loadConfig(KNATIVE_ENV, files);
        expect.unreachable();
      } catch (err) {
        expect((err as ConfigError).problems).toEqual([
          expect.stringMatching(
            /^QUEUE_CERTS_DIR: \/var\/lib\/knative\/certs\/tls\.crt and \/var\/lib\/knative\/certs\/tls\.key are not a usable certificate and key: \S/,
          ),
        ]);
      }
    }
  });

  it('names QUEUE_CERTS_DIR when a file cannot be checked or read', () => {
    const unreadable = certificateFiles({
      [`${DIR}/tls.crt`]: tls.cert,
      [`${DIR}/tls.key`]: errno('EACCES'),
    });
    expect(() => loadConfig(KNATIVE_ENV, unreadable)).toThrow(
      `QUEUE_CERTS_DIR: cannot check ${DIR}/tls.key: EACCES`,
    );
    const files: CertificateFiles = {
      exists: () => true,
      read: () => {
        throw errno('EIO');
      },
    };
    expect(() => loadConfig(KNATIVE_ENV, files)).toThrow(`QUEUE_CERTS_DIR: cannot read ${DIR}/tls.crt: EIO`);
  });

  it('accepts port 0 for the TLS port and names it when it clashes with another served port', () => {
    const files = withPair(tls.cert, tls.key);
    expect(loadConfig(envWith({ QUEUE_SERVING_TLS_PORT: '0' }), files).tlsPort).toBe(0);
    expect(
      configErrorVariables(() => loadConfig(envWith({ QUEUE_SERVING_TLS_PORT: '8012' }), files)),
    ).toEqual(['QUEUE_SERVING_TLS_PORT']);
    // Not served: Knative sets the variable anyway, so it cannot clash.
    expect(loadConfig(envWith({ QUEUE_SERVING_TLS_PORT: '8012' }), NO_CERTIFICATE).tlsPort).toBe(8012);
  });
});

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Env } from '@zerogate/core';
import { loadConfig as loadInProcessConfig } from '@zerogate/in-process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HAS_OPENSSL, selfSignedTls, type TestTls } from '../../../test/support/tls.js';
import { type CertificateFiles, loadConfig, type QueueProxyConfig } from './config.js';
import {
  IN_PROCESS_ENV,
  inProcessEnv,
  KNATIVE_ONLY_ENV,
  KNATIVE_TRACING_OFF,
  OTEL_TRACING_ENV,
  QUEUE_PROXY_ENV,
  QUEUE_PROXY_POD_FIELDS,
  type QueueProxyEnvSettings,
  queueProxyEnv,
} from './queue-proxy-env.js';

const NO_CERTIFICATE: CertificateFiles = { exists: () => false, read: () => Buffer.alloc(0) };

/** A tcp probe and what `loadConfig` makes of it. */
const probe = (port: number) => ({ tcpSocket: { port, host: '127.0.0.9' }, timeoutSeconds: 2 });
const parsedProbe = (port: number) => ({
  kind: 'tcp',
  host: '127.0.0.9',
  port,
  timeoutMs: 2000,
  periodMs: 0,
  successThreshold: 1,
});

/** Every setting given, none at the queue-proxy's default, in Knative ≥ 1.19's observability form. */
const FULL: QueueProxyEnvSettings = {
  revision: { name: 'hello-00002', configuration: 'hello-config', service: 'hello' },
  pod: { namespace: 'team-a', name: 'hello-00002-deployment-abc', ip: '10.1.2.3' },
  containerConcurrency: 7,
  userPort: 8081,
  userHost: '127.4.0.2',
  ports: { serving: 18012, tls: 18112, admin: 18022, stats: 19090, metrics: 19091 },
  bindAddress: '127.4.0.1',
  timeouts: { revisionSeconds: 301, responseStartSeconds: 21, idleSeconds: 46, readHeaderSeconds: 7 },
  readinessProbe: [probe(8081), probe(9001)],
  multiContainerProbes: true,
  http2AutoDetection: true,
  http1Relay: true,
  serverTiming: false,
  logging: { level: 'debug', config: '{"level":"debug"}' },
  observability: {
    form: 'observability-config',
    requestMetrics: true,
    requestLog: true,
    probeRequestLog: true,
    requestLogTemplate: '{"method": "{{.Request.Method}}", "status": {{.Response.Code}}}',
  },
  tls: {
    certsDir: '/certs',
    minVersion: '1.2',
    maxVersion: '1.3',
    cipherSuites: ['TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256'],
    curvePreferences: ['X25519', 'CurveP256'],
  },
  drain: {
    quietSeconds: 4,
    upgradeGraceSeconds: 5,
    terminationGraceSeconds: 7,
    nativeSidecar: true,
    nativeSidecarSigtermSeconds: 6,
  },
  systemNamespace: 'knative-serving',
  tracing: {
    exporter: 'otlp',
    endpoint: 'http://otel.observability:4318/v1/traces',
    protocol: 'http/json',
    sampleRate: 0.5,
    serviceName: 'hello-00002',
  },
};

/** The same in Knative ≤ 1.18's form: separate `SERVING_*` observability variables, one probe. */
const LEGACY: QueueProxyEnvSettings = {
  ...FULL,
  readinessProbe: probe(8081),
  multiContainerProbes: false,
  observability: {
    form: 'serving-variables',
    requestMetrics: true,
    requestLog: true,
    probeRequestLog: true,
    requestLogTemplate: '{{.Request.Method}} {{.Request.URL}} {{.Response.Code}}',
    metricNames: 'opencensus',
  },
  tracing: {
    exporter: 'zipkin',
    endpoint: 'http://zipkin.observability:9411/api/v2/spans',
    sampleRate: 0.25,
  },
};

/** The configuration `settings` describe, field by field, with internal TLS as `internalTls`. */
function expectedConfig(
  s: QueueProxyEnvSettings,
  internalTls: QueueProxyConfig['internalTls'],
  readinessProbes: unknown[],
): QueueProxyConfig {
  return {
    containerConcurrency: s.containerConcurrency,
    servingPort: s.ports.serving,
    tlsPort: s.ports.tls,
    certsDir: s.tls!.certsDir!,
    internalTls,
    userPort: s.userPort,
    userHost: s.userHost!,
    revisionTimeoutMs: s.timeouts.revisionSeconds * 1000,
    responseStartTimeoutMs: s.timeouts.responseStartSeconds! * 1000,
    idleTimeoutMs: s.timeouts.idleSeconds! * 1000,
    namespace: s.pod!.namespace,
    service: s.revision.service!,
    configuration: s.revision.configuration,
    revision: s.revision.name,
    pod: s.pod!.name,
    podIp: s.pod!.ip,
    readinessProbes: readinessProbes as QueueProxyConfig['readinessProbes'],
    http2AutoDetection: s.http2AutoDetection!,
    http1Relay: s.http1Relay!,
    serverTiming: s.serverTiming ?? true,
    bindAddress: s.bindAddress!,
    adminPort: s.ports.admin!,
    statsPort: s.ports.stats!,
    metricsPort: s.ports.metrics!,
    drainQuietMs: s.drain!.quietSeconds! * 1000,
    upgradeGraceMs: s.drain!.upgradeGraceSeconds! * 1000,
    terminationGraceMs: s.drain!.terminationGraceSeconds! * 1000,
    readHeaderTimeoutMs: s.timeouts.readHeaderSeconds! * 1000,
    nativeSidecar: s.drain!.nativeSidecar!,
    nativeSidecarSigtermMs: s.drain!.nativeSidecarSigtermSeconds! * 1000,
    requestMetrics: s.observability!.requestMetrics,
    requestLog: s.observability!.requestLog,
    probeRequestLog: s.observability!.probeRequestLog,
    requestLogTemplate: s.observability!.requestLogTemplate
      ? (expect.objectContaining({ source: s.observability!.requestLogTemplate }) as never)
      : undefined,
    metricNames: s.observability!.form === 'observability-config' ? 'opentelemetry' : 'opencensus',
    logLevel: s.logging.level,
    tracing: {
      exporter: s.tracing!.exporter,
      endpoint: s.tracing!.endpoint,
      protocol: s.tracing!.protocol ?? 'http/protobuf',
      sampler: { parentBased: true, ratio: s.tracing!.sampleRate },
      serviceName: s.tracing!.serviceName ?? 'queue-proxy',
    },
  };
}

/** `env` wrapped so that every variable looked up is recorded in `read`. */
function recording(env: Record<string, string>, read: Set<string>): Env {
  return new Proxy(env, {
    get(target, name) {
      if (typeof name === 'string') read.add(name);
      return Reflect.get(target, name);
    },
  });
}

describe('queueProxyEnv', () => {
  it('writes every variable of QUEUE_PROXY_ENV from some setting', () => {
    const written = new Set([...Object.keys(queueProxyEnv(FULL)), ...Object.keys(queueProxyEnv(LEGACY))]);
    expect(Object.values(QUEUE_PROXY_ENV).filter((name) => !written.has(name))).toEqual([]);
  });

  it('covers exactly the variables loadConfig reads, no more and no fewer', () => {
    const read = new Set<string>();
    for (const settings of [FULL, LEGACY]) {
      loadConfig(recording(queueProxyEnv(settings), read), NO_CERTIFICATE);
    }
    // OpenTelemetry's own variables are read too, but only an operator sets them.
    expect([...read].filter((name) => !OTEL_TRACING_ENV.includes(name)).sort()).toEqual(
      Object.values(QUEUE_PROXY_ENV).sort(),
    );
  });

  it('round-trips every setting through loadConfig (Knative ≥ 1.19 observability, multi-container probes)', () => {
    const config = loadConfig(queueProxyEnv(FULL), NO_CERTIFICATE);
    expect(config).toEqual(
      expectedConfig(FULL, expect.objectContaining({ served: false }), [
        parsedProbe(8081),
        parsedProbe(9001),
      ]),
    );
  });

  it('round-trips every setting through loadConfig (Knative ≤ 1.18 observability variables)', () => {
    const config = loadConfig(queueProxyEnv(LEGACY), NO_CERTIFICATE);
    expect(config).toEqual(
      expectedConfig(LEGACY, expect.objectContaining({ served: false }), [parsedProbe(8081)]),
    );
  });

  it('round-trips observability and toggles that are off', () => {
    for (const form of ['observability-config', 'serving-variables'] as const) {
      const config = loadConfig(
        queueProxyEnv({
          ...LEGACY,
          http2AutoDetection: false,
          http1Relay: false,
          drain: { ...FULL.drain, nativeSidecar: false },
          observability: { form, requestMetrics: false, requestLog: false, probeRequestLog: false },
        }),
        NO_CERTIFICATE,
      );
      expect(config, form).toMatchObject({
        http2AutoDetection: false,
        http1Relay: false,
        nativeSidecar: false,
        requestMetrics: false,
        requestLog: false,
        probeRequestLog: false,
      });
    }
  });

  it('writes only the required variables when the optional settings are left out, so defaults apply', () => {
    const env = queueProxyEnv({
      revision: { name: 'r', configuration: 'c' },
      pod: { namespace: 'n', name: 'p', ip: '10.0.0.1' },
      containerConcurrency: 0,
      userPort: 8080,
      ports: { serving: 8012, tls: 8112 },
      timeouts: { revisionSeconds: 300 },
      logging: { level: 'info' },
    });
    expect(env).toEqual({
      CONTAINER_CONCURRENCY: '0',
      QUEUE_SERVING_PORT: '8012',
      QUEUE_SERVING_TLS_PORT: '8112',
      USER_PORT: '8080',
      REVISION_TIMEOUT_SECONDS: '300',
      SERVING_LOGGING_CONFIG: '',
      SERVING_LOGGING_LEVEL: 'info',
      SERVING_NAMESPACE: 'n',
      SERVING_CONFIGURATION: 'c',
      SERVING_REVISION: 'r',
      SERVING_POD: 'p',
      SERVING_POD_IP: '10.0.0.1',
    });
    expect(loadConfig(env, NO_CERTIFICATE)).toMatchObject({
      service: '',
      readinessProbes: [],
      adminPort: 8022,
      drainQuietMs: 30_000,
      readHeaderTimeoutMs: 60_000,
    });
  });

  it('leaves the Pod identity to the downward API when no Pod is given', () => {
    const env = queueProxyEnv({ ...FULL, pod: undefined });
    expect(Object.keys(QUEUE_PROXY_POD_FIELDS).sort()).toEqual(
      [QUEUE_PROXY_ENV.namespace, QUEUE_PROXY_ENV.pod, QUEUE_PROXY_ENV.podIp].sort(),
    );
    for (const name of Object.keys(QUEUE_PROXY_POD_FIELDS)) expect(env).not.toHaveProperty(name);
  });

  it('writes a readiness probe given as JSON as it is', () => {
    const json = '{"tcpSocket":{"port":8081}}';
    expect(queueProxyEnv({ ...LEGACY, readinessProbe: json })[QUEUE_PROXY_ENV.readinessProbe]).toBe(json);
  });

  it("adds Knative's own variables only when asked, none of them read by loadConfig", () => {
    const env = queueProxyEnv({ ...FULL, knativeOnly: { hostIp: '127.0.0.1' } });
    expect(env).toMatchObject({
      ...KNATIVE_ONLY_ENV,
      HOST_IP: '127.0.0.1',
      SYSTEM_NAMESPACE: 'knative-serving',
    });
    const ours = new Set<string>(Object.values(QUEUE_PROXY_ENV));
    expect(
      [...Object.keys(KNATIVE_ONLY_ENV), 'HOST_IP', 'SYSTEM_NAMESPACE'].filter((n) => ours.has(n)),
    ).toEqual([]);
    expect(queueProxyEnv(FULL)).not.toHaveProperty('TRACING_CONFIG_BACKEND');
    // Knative's tracing variables say none unless tracing is set.
    const { tracing: _, ...untraced } = FULL;
    expect(queueProxyEnv({ ...untraced, knativeOnly: { hostIp: '127.0.0.1' } })).toMatchObject(
      KNATIVE_TRACING_OFF,
    );
    expect(
      queueProxyEnv({ ...LEGACY, knativeOnly: { hostIp: '127.0.0.1' } })[QUEUE_PROXY_ENV.tracingBackend],
    ).toBe('zipkin');
  });

  it('writes OTLP tracing in OBSERVABILITY_CONFIG, alone when no observability form is given', () => {
    const { observability: _, ...plain } = FULL;
    expect(JSON.parse(queueProxyEnv(plain)[QUEUE_PROXY_ENV.observabilityConfig]!)).toEqual({
      tracing: {
        protocol: 'http/json',
        endpoint: 'http://otel.observability:4318/v1/traces',
        samplingRate: 0.5,
      },
    });
    expect(() => queueProxyEnv({ ...LEGACY, tracing: FULL.tracing })).toThrow(/OBSERVABILITY_CONFIG/);
  });

  it('is the package export @zerogate/queue-proxy/env, and the package exports no module that starts the queue-proxy on import', () => {
    const require = createRequire(import.meta.url);
    expect(require.resolve('@zerogate/queue-proxy/env')).toMatch(/queue-proxy\/dist\/queue-proxy-env\.js$/);
    let code: unknown;
    try {
      require.resolve('@zerogate/queue-proxy');
    } catch (err) {
      code = (err as NodeJS.ErrnoException).code;
    }
    expect(code).toBe('ERR_PACKAGE_PATH_NOT_EXPORTED');
  });

  it('imports nothing, so loading it starts none of the queue-proxy', () => {
    const source = readFileSync(new URL('./queue-proxy-env.ts', import.meta.url), 'utf8');
    expect(source).not.toMatch(/^\s*import\b|\brequire\(|\bimport\(/m);
  });
});

describe('inProcessEnv', () => {
  it('writes exactly the variables the in-process mode reads, and it reads every setting back', () => {
    const settings = {
      revision: { name: 'hello-00002', configuration: 'hello-config', service: 'hello' },
      pod: { namespace: 'team-a', name: 'hello-00002-deployment-abc', ip: '10.1.2.3' },
      containerConcurrency: 7,
      ports: { admin: 18022, stats: 19090, metrics: 19091 },
      bindAddress: '127.4.0.1',
      timeouts: { revisionSeconds: 301, responseStartSeconds: 21, idleSeconds: 46 },
      logging: { level: 'debug' },
      drain: { quietSeconds: 4, nativeSidecarSigtermSeconds: 6 },
      serverTiming: false,
    };
    const read = new Set<string>();
    const written = new Set<string>();
    for (const form of ['observability-config', 'serving-variables'] as const) {
      const env = inProcessEnv({
        ...settings,
        observability: {
          form,
          requestMetrics: true,
          requestLog: true,
          probeRequestLog: true,
          requestLogTemplate: '{{.Request.Method}}',
          metricNames: 'opencensus',
        },
      });
      for (const name of Object.keys(env)) written.add(name);
      expect(loadInProcessConfig(recording(env, read))).toEqual({
        containerConcurrency: 7,
        revisionTimeoutMs: 301_000,
        responseStartTimeoutMs: 21_000,
        idleTimeoutMs: 46_000,
        bindAddress: '127.4.0.1',
        adminPort: 18022,
        statsPort: 19090,
        metricsPort: 19091,
        drainQuietMs: 4000,
        sigtermWaitMs: 6000,
        namespace: 'team-a',
        service: 'hello',
        configuration: 'hello-config',
        revision: 'hello-00002',
        pod: 'hello-00002-deployment-abc',
        requestMetrics: true,
        requestLog: true,
        probeRequestLog: true,
        requestLogTemplate: expect.objectContaining({ source: '{{.Request.Method}}' }),
        metricNames: 'opencensus',
        logLevel: 'debug',
        serverTiming: false,
      });
    }
    expect([...written].sort()).toEqual([...IN_PROCESS_ENV].sort());
    // The K_* names are read as fallbacks of the SERVING_* ones; every other variable read is the builder's.
    expect([...read].filter((name) => !name.startsWith('K_')).sort()).toEqual([...IN_PROCESS_ENV].sort());
  });
});

describe.skipIf(!HAS_OPENSSL)('queueProxyEnv: internal TLS', () => {
  let tls: TestTls;
  beforeAll(() => {
    tls = selfSignedTls('localhost');
  });
  afterAll(() => tls?.remove());

  it('round-trips the certificate folder and the TLS settings through loadConfig', () => {
    const files: CertificateFiles = {
      exists: (path) => path === '/certs/tls.crt' || path === '/certs/tls.key',
      read: (path) => (path === '/certs/tls.crt' ? tls.cert : tls.key),
    };
    const config = loadConfig(queueProxyEnv(FULL), files);
    expect(config).toEqual(
      expectedConfig(
        FULL,
        {
          served: true,
          certFile: '/certs/tls.crt',
          keyFile: '/certs/tls.key',
          pair: { cert: tls.cert, key: tls.key },
          settings: {
            minVersion: 'TLSv1.2',
            maxVersion: 'TLSv1.3',
            ciphers: expect.stringMatching(/:ECDHE-ECDSA-AES128-GCM-SHA256$/),
            ecdhCurve: 'X25519:P-256',
          },
        },
        [parsedProbe(8081), parsedProbe(9001)],
      ),
    );
  });
});

import { execFileSync } from 'node:child_process';
import { ConfigError } from '@zerogate/core';
import { describe, expect, it } from 'vitest';
import { parsePlatformConfig, shellCommand } from './config.js';

function problems(yaml: string): readonly string[] {
  try {
    parsePlatformConfig(yaml, '/srv/zerogate.yaml');
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('parsePlatformConfig tracing', () => {
  const SERVICE = 'services:\n  - name: hello\n    command: node server.mjs\n';

  it('is off without a tracing block or with exporter none', () => {
    expect(parsePlatformConfig(SERVICE, '/srv/zerogate.yaml').tracing).toBeUndefined();
    expect(
      parsePlatformConfig(`tracing: { exporter: none }\n${SERVICE}`, '/srv/zerogate.yaml').tracing,
    ).toBeUndefined();
  });

  it('gives the tracing block to every revision, defaults filled in', () => {
    const config = parsePlatformConfig(
      `tracing:\n  exporter: otlp\n  endpoint: http://127.0.0.1:4318/v1/traces\n${SERVICE}`,
      '/srv/zerogate.yaml',
    );
    const expected = {
      exporter: 'otlp',
      endpoint: 'http://127.0.0.1:4318/v1/traces',
      protocol: 'http/protobuf',
      sampleRate: 1,
    };
    expect(config.tracing).toEqual(expected);
    expect(config.services[0]!.revisions[0]!.tracing).toEqual(expected);
  });

  it('names each bad key', () => {
    expect(
      problems(
        `tracing:\n  exporter: jaeger\n  protocol: grpc\n  sampleRate: 2\n  endpoint: 127.0.0.1:9411\n  extra: 1\n${SERVICE}`,
      ),
    ).toEqual([
      expect.stringMatching(/zerogate.yaml:6: tracing.extra: unknown key/),
      expect.stringMatching(/zerogate.yaml:2: tracing.exporter: must be one of zipkin, otlp, none/),
    ]);
    expect(
      problems(
        `tracing:\n  exporter: zipkin\n  protocol: grpc\n  sampleRate: 2\n  endpoint: 127.0.0.1:9411\n${SERVICE}`,
      ),
    ).toEqual([
      expect.stringMatching(/:5: tracing.endpoint: must be an http:\/\/ or https:\/\/ URL/),
      expect.stringMatching(/:3: tracing.protocol: must be one of http\/protobuf, http\/json/),
      expect.stringMatching(/:4: tracing.sampleRate: must be a number from 0 to 1, got 2/),
    ]);
    expect(problems(`tracing: { exporter: zipkin }\n${SERVICE}`)).toEqual([
      expect.stringMatching(/tracing.endpoint: is required/),
    ]);
  });
});

describe('parsePlatformConfig', () => {
  it('fills defaults: one revision at 100 %, port 8080, apps run in the file’s folder', () => {
    const config = parsePlatformConfig(
      'services:\n  - name: hello\n    command: node server.mjs\n',
      '/srv/zerogate.yaml',
    );
    expect(config.ingress).toEqual({ port: 8080, bindAddress: '127.0.0.1' });
    expect(config.pods).toEqual({ drainSeconds: 1, startTimeoutSeconds: 30 });
    const [rev] = config.services[0]!.revisions;
    expect(rev).toMatchObject({
      namespace: 'default',
      service: 'hello',
      name: 'hello-00001',
      traffic: 100,
      cwd: '/srv',
      containerConcurrency: 0,
      timeoutSeconds: 300,
      command: ['/bin/sh', '-c', 'exec node server.mjs'],
    });
  });

  it('lets revisions override the service’s settings and maps autoscaler keys to variables', () => {
    const config = parsePlatformConfig(
      `autoscaler:
  stable-window: 6s
  target-burst-capacity: 0
services:
  - name: app
    command: [node, a.mjs]
    containerConcurrency: 4
    env: { A: 1 }
    annotations: { autoscaling.knative.dev/min-scale: "1" }
    revisions:
      - { traffic: 90 }
      - { name: app-b, traffic: 10, tag: canary, command: [node, b.mjs], env: { B: "x" }, containerConcurrency: 1 }
`,
      '/srv/zerogate.yaml',
    );
    expect(config.autoscalerEnv).toEqual({
      AUTOSCALER_STABLE_WINDOW: '6s',
      AUTOSCALER_TARGET_BURST_CAPACITY: '0',
    });
    const [a, b] = config.services[0]!.revisions;
    expect(a).toMatchObject({
      name: 'app-00001',
      command: ['node', 'a.mjs'],
      containerConcurrency: 4,
      env: { A: '1' },
    });
    expect(b).toMatchObject({
      name: 'app-b',
      tag: 'canary',
      command: ['node', 'b.mjs'],
      containerConcurrency: 1,
      env: { A: '1', B: 'x' },
      annotations: { 'autoscaling.knative.dev/min-scale': '1' },
    });
  });

  it('reads queueProxy (sidecar by default, in-process, overridable per revision) and names any other value', () => {
    const config = parsePlatformConfig(
      `services:
  - name: plain
    command: node a.mjs
  - name: own
    command: node b.mjs
    queueProxy: in-process
    revisions:
      - { traffic: 50 }
      - { traffic: 50, queueProxy: sidecar }
`,
      '/srv/zerogate.yaml',
    );
    expect(config.services.flatMap((s) => s.revisions.map((r) => [r.name, r.queueProxy]))).toEqual([
      ['plain-00001', 'sidecar'],
      ['own-00001', 'in-process'],
      ['own-00002', 'sidecar'],
    ]);
    expect(
      problems(`services:
  - name: app
    command: node a.mjs
    queueProxy: envoy
    revisions:
      - { traffic: 100, queueProxy: 1 }
`),
    ).toEqual([
      '/srv/zerogate.yaml:4: services[0].queueProxy: must be one of sidecar, in-process, got "envoy"',
      '/srv/zerogate.yaml:6: services[0].revisions[0].queueProxy: must be one of sidecar, in-process, got 1',
    ]);
  });

  it('reads terminationGracePeriodSeconds (the revision timeout by default, as Knative sets it) and names a bad one', () => {
    const config = parsePlatformConfig(
      `services:
  - name: plain
    command: node a.mjs
    timeoutSeconds: 120
  - name: long
    command: node b.mjs
    terminationGracePeriodSeconds: 600
    revisions:
      - { traffic: 50 }
      - { traffic: 50, terminationGracePeriodSeconds: 5 }
`,
      '/srv/zerogate.yaml',
    );
    expect(
      config.services.flatMap((s) => s.revisions.map((r) => [r.name, r.terminationGracePeriodSeconds])),
    ).toEqual([
      ['plain-00001', 120],
      ['long-00001', 600],
      ['long-00002', 5],
    ]);
    expect(
      problems(`services:
  - name: app
    command: node a.mjs
    terminationGracePeriodSeconds: -1
`),
    ).toEqual([
      '/srv/zerogate.yaml:4: services[0].terminationGracePeriodSeconds: must be an integer in [0, 86400], got -1',
    ]);
  });

  it('names file, line, key and reason of every problem at once', () => {
    expect(
      problems(`ingress: { port: 70000, host: x }
autoscaler:
  stable-window: soon
  not-a-key: 1
services:
  - name: Bad_Name
    command: []
    revisions:
      - { traffic: 50, tag: a }
      - { traffic: 20, tag: a }
`),
    ).toEqual([
      '/srv/zerogate.yaml:1: ingress.host: unknown key (expected one of: port, bindAddress)',
      '/srv/zerogate.yaml:1: ingress.port: must be an integer in [0, 65535], got 70000',
      expect.stringMatching(/^\/srv\/zerogate\.yaml:4: autoscaler\.not-a-key: unknown key/),
      expect.stringMatching(/^\/srv\/zerogate\.yaml:3: autoscaler\.stable-window: /),
      `/srv/zerogate.yaml:6: services[0].name: must be a DNS label (lower-case letters, digits and '-'), got "Bad_Name"`,
      '/srv/zerogate.yaml:7: services[0].command: must be a non-empty string or a list of strings (the program and its arguments)',
      '/srv/zerogate.yaml:9: services[0].revisions[0].command: is required (here or in services[0])',
      '/srv/zerogate.yaml:10: services[0].revisions[1].command: is required (here or in services[0])',
      '/srv/zerogate.yaml:10: services[0].revisions[1].tag: a appears twice',
      '/srv/zerogate.yaml:9: services[0].revisions: traffic must add up to 100, got 70',
    ]);
  });

  it('reads pods.maxPods, derived from the machine when absent, and names a bad one', () => {
    const yaml = (pods: string) => `pods: ${pods}\nservices:\n  - name: a\n    command: x\n`;
    expect(parsePlatformConfig(yaml('{ maxPods: 7 }'), '/srv/zerogate.yaml').pods.maxPods).toBe(7);
    expect(parsePlatformConfig(yaml('{}'), '/srv/zerogate.yaml').pods.maxPods).toBeUndefined();
    for (const bad of ['0', '-3', '2.5', '"many"', '65001']) {
      expect(problems(yaml(`{ maxPods: ${bad} }`))).toEqual([
        `/srv/zerogate.yaml:1: pods.maxPods: must be an integer in [1, 65000], got ${JSON.stringify(JSON.parse(bad))}`,
      ]);
    }
  });

  it('rejects YAML that does not parse, with its line', () => {
    expect(problems('services:\n  - name: a\n   command: x\n')[0]).toMatch(/^\/srv\/zerogate\.yaml:3: /);
  });

  it('requires a non-empty services list', () => {
    expect(problems('ingress: { port: 1 }\n')).toEqual([
      '/srv/zerogate.yaml:1: services: must be a non-empty list',
    ]);
  });

  it('rejects bad autoscaling annotations with the autoscaler’s own reasons', () => {
    expect(
      problems(`services:
  - name: a
    command: x
    annotations: { autoscaling.knative.dev/min-scale: "3", autoscaling.knative.dev/max-scale: "2" }
`),
    ).toEqual([
      expect.stringMatching(
        /^\/srv\/zerogate\.yaml:4: services\[0\]\.annotations\.autoscaling\.knative\.dev\/max-scale: /,
      ),
    ]);
  });
});

describe('readinessProbe', () => {
  /** The probes of every revision of a file whose one service has `service` lines and `revisions`. */
  function probes(service: string, revisions = '') {
    const config = parsePlatformConfig(
      `services:\n  - name: app\n    command: node a.mjs\n${service}${revisions}`,
      '/srv/zerogate.yaml',
    );
    return config.services[0]!.revisions.map((r) => r.readinessProbe);
  }
  /** The problems of a service whose `readinessProbe` is `probe` (YAML flow mapping). */
  function probeProblems(probe: string): readonly string[] {
    return problems(`services:\n  - name: app\n    command: node a.mjs\n    readinessProbe: ${probe}\n`);
  }

  it('is left out by default (the TCP probe of the app port)', () => {
    expect(probes('')).toEqual([undefined]);
  });

  it('reads httpGet, tcpSocket and grpc with their timing, a revision replacing the service’s whole', () => {
    expect(
      probes(
        `    readinessProbe:
      httpGet:
        path: /healthz
        httpHeaders: [{ name: X-Probe, value: ready }]
        scheme: HTTP
      periodSeconds: 0
      timeoutSeconds: 2
      successThreshold: 3
      failureThreshold: 4
    revisions:
`,
        `      - { traffic: 25 }
      - { traffic: 25, readinessProbe: { tcpSocket: {} } }
      - { traffic: 25, readinessProbe: { tcpSocket: { port: 9000 }, periodSeconds: 5 } }
      - { traffic: 25, readinessProbe: { grpc: { port: 50051, service: health } } }
`,
      ),
    ).toEqual([
      {
        httpGet: { path: '/healthz', httpHeaders: [{ name: 'X-Probe', value: 'ready' }] },
        periodSeconds: 0,
        timeoutSeconds: 2,
        successThreshold: 3,
        failureThreshold: 4,
      },
      { tcpSocket: {} },
      { tcpSocket: { port: 9000 }, periodSeconds: 5 },
      { grpc: { port: 50051, service: 'health' } },
    ]);
    expect(probes('    readinessProbe: { httpGet: {} }\n')).toEqual([{ httpGet: { path: '/' } }]);
    expect(probes('    readinessProbe: { httpGet: { path: /ready, port: 8081 } }\n')).toEqual([
      { httpGet: { path: '/ready', port: 8081 } },
    ]);
  });

  it.each([
    [
      '{ httpGet: { path: /a }, tcpSocket: {} }',
      'must set exactly one of httpGet, tcpSocket or grpc, got httpGet, tcpSocket',
    ],
    ['{ periodSeconds: 1 }', 'must set exactly one of httpGet, tcpSocket or grpc, got none'],
    [
      '{ exec: { command: [true] } }',
      'readinessProbe.exec: unknown key (expected one of: httpGet, tcpSocket, grpc, periodSeconds',
    ],
    ['{ tcpSocket: {}, initialDelaySeconds: 1 }', 'readinessProbe.initialDelaySeconds: unknown key'],
    ['/healthz', 'readinessProbe: must be a mapping'],
    ['{ httpGet: /healthz }', 'readinessProbe.httpGet: must be a mapping'],
    [
      '{ httpGet: { path: healthz } }',
      'readinessProbe.httpGet.path: must start with / and hold no spaces or control characters, got "healthz"',
    ],
    ['{ httpGet: { path: "/a b" } }', 'readinessProbe.httpGet.path: must start with /'],
    ['{ httpGet: { path: "" } }', 'readinessProbe.httpGet.path: must be a non-empty string, got ""'],
    ['{ httpGet: { port: 0 } }', 'readinessProbe.httpGet.port: must be an integer in [1, 65535], got 0'],
    [
      '{ httpGet: { port: http } }',
      'readinessProbe.httpGet.port: must be an integer in [1, 65535], got "http"',
    ],
    ['{ httpGet: { scheme: HTTPS } }', 'readinessProbe.httpGet.scheme: must be one of HTTP, got "HTTPS"'],
    [
      '{ httpGet: { host: 10.0.0.1 } }',
      'readinessProbe.httpGet.host: unknown key (expected one of: path, port, httpHeaders, scheme)',
    ],
    [
      '{ httpGet: { httpHeaders: { X-A: b } } }',
      'readinessProbe.httpGet.httpHeaders: must be a list of {name, value}',
    ],
    [
      '{ httpGet: { httpHeaders: [{ name: "a b", value: c }] } }',
      'readinessProbe.httpGet.httpHeaders[0].name: must be a header name, got "a b"',
    ],
    [
      '{ httpGet: { httpHeaders: [{ name: a, value: 1 }] } }',
      'readinessProbe.httpGet.httpHeaders[0].value: must be a string without CR, LF or NUL',
    ],
    [
      '{ httpGet: { httpHeaders: [{ name: a, value: b, x: 1 }] } }',
      'readinessProbe.httpGet.httpHeaders[0]: unknown key x (expected name, value)',
    ],
    [
      '{ tcpSocket: { port: 70000 } }',
      'readinessProbe.tcpSocket.port: must be an integer in [1, 65535], got 70000',
    ],
    [
      '{ tcpSocket: { host: 127.0.0.1 } }',
      'readinessProbe.tcpSocket.host: unknown key (expected one of: port)',
    ],
    ['{ grpc: { service: 1 } }', 'readinessProbe.grpc.service: must be a string, got 1'],
    [
      '{ tcpSocket: {}, periodSeconds: -1 }',
      'readinessProbe.periodSeconds: must be an integer in [0, 3600], got -1',
    ],
    [
      '{ tcpSocket: {}, timeoutSeconds: 0 }',
      'readinessProbe.timeoutSeconds: must be an integer in [1, 3600], got 0',
    ],
    [
      '{ tcpSocket: {}, successThreshold: 0 }',
      'readinessProbe.successThreshold: must be an integer in [1, 1000], got 0',
    ],
    [
      '{ tcpSocket: {}, failureThreshold: 1.5 }',
      'readinessProbe.failureThreshold: must be an integer in [1, 1000], got 1.5',
    ],
  ])('refuses readinessProbe %s, naming the setting', (probe, reason) => {
    const list = probeProblems(probe);
    expect(list).toHaveLength(1);
    expect(list[0]).toContain(`/srv/zerogate.yaml:4: services[0].`);
    expect(list[0]).toContain(reason);
  });

  it('names a revision’s bad probe by its path', () => {
    expect(
      problems(`services:
  - name: app
    command: node a.mjs
    revisions:
      - { traffic: 100, readinessProbe: { httpGet: { path: x } } }
`),
    ).toEqual([
      '/srv/zerogate.yaml:5: services[0].revisions[0].readinessProbe.httpGet.path: must start with / and hold no spaces or control characters, got "x"',
    ]);
  });
});

describe('the waiting page annotation', () => {
  it('takes "true" or "false", and refuses anything else naming the annotation', () => {
    const config = parsePlatformConfig(
      `services:
  - name: a
    command: x
    annotations: { zerogate.dev/waiting-page: "true" }
`,
      '/srv/zerogate.yaml',
    );
    expect(config.services[0]!.revisions[0]!.annotations['zerogate.dev/waiting-page']).toBe('true');
    expect(
      problems(`services:
  - name: a
    command: x
    annotations: { zerogate.dev/waiting-page: "yes" }
`),
    ).toEqual([
      '/srv/zerogate.yaml:4: services[0].annotations.zerogate.dev/waiting-page: must be "true" or "false", got "yes"',
    ]);
  });
});

describe('the server-timing annotation', () => {
  it('takes "true" or "false", and refuses anything else naming the annotation', () => {
    expect(
      problems(`services:
  - name: a
    command: x
    annotations: { zerogate.dev/server-timing: "off" }
`),
    ).toEqual([
      '/srv/zerogate.yaml:4: services[0].annotations.zerogate.dev/server-timing: must be "true" or "false", got "off"',
    ]);
  });
});

describe('shellCommand', () => {
  it('execs a single simple command, so the app is the process the platform signals', () => {
    expect(shellCommand('node server.mjs --port $PORT > out.log')).toEqual([
      '/bin/sh',
      '-c',
      'exec node server.mjs --port $PORT > out.log',
    ]);
  });

  it('runs lists, pipes, groups and leading assignments whole, behind a shell that waits for them', () => {
    for (const line of [
      'sleep 5; node app.js',
      'cd app && node .',
      'a | b',
      'X=1 node app.js',
      'exec node a',
    ]) {
      expect(shellCommand(line)).toEqual(['/bin/sh', '-c', `trap 'exit 143' TERM\n${line}`]);
    }
  });

  it('runs every command of a list, as the shell would', () => {
    const [program, ...args] = shellCommand("echo one; echo two && X=3 sh -c 'echo $X'");
    expect(execFileSync(program!, args, { encoding: 'utf8' })).toBe('one\ntwo\n3\n');
  });
});

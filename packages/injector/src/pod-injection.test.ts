import type { V1Container, V1EnvVar, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { applyJsonPatch } from '../../../test/support/injector-json-patch.js';
import { type Inject, type InjectionOptions, type InjectionPlan, planInjection } from './pod-injection.js';

const OPTIONS: InjectionOptions = {
  image: 'example.com/zerogate/queue-proxy:1.0',
  resources: { cpuRequest: '25m', memoryRequest: '64Mi', memoryLimit: '512Mi' },
  queueProxyLogLevel: 'info',
  systemNamespace: 'zerogate-system',
};

/** A Pod of Deployment `hello-00001-deployment` as the API server hands it to the webhook: defaults filled in. */
function pod(
  edit: (p: V1Pod & { metadata: object; spec: { containers: V1Container[] } }) => void = () => {},
): V1Pod {
  const p = {
    metadata: {
      generateName: 'hello-00001-deployment-5d8f7c9b4-',
      namespace: 'default',
      labels: {
        'zerogate.dev/inject': 'enabled',
        'serving.knative.dev/revision': 'hello-00001',
        'serving.knative.dev/service': 'hello',
        'pod-template-hash': '5d8f7c9b4',
      } as Record<string, string>,
      annotations: { 'zerogate.dev/container-concurrency': '10' } as Record<string, string>,
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          name: 'hello-00001-deployment-5d8f7c9b4',
          uid: '6f1c7d0e-0000-4000-8000-000000000001',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      containers: [
        {
          name: 'app',
          image: 'example.com/hello',
          imagePullPolicy: 'IfNotPresent',
          ports: [{ containerPort: 8080, protocol: 'TCP' }],
          readinessProbe: {
            httpGet: { path: '/ready', port: 8080, scheme: 'HTTP' },
            timeoutSeconds: 1,
            periodSeconds: 10,
            successThreshold: 1,
            failureThreshold: 3,
          },
        } as V1Container,
      ],
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
    },
  };
  edit(p);
  return p;
}

function inject(p: V1Pod, namespace = 'default'): Inject {
  const plan = planInjection(p, namespace, OPTIONS);
  if (plan.kind !== 'inject') throw new Error(`expected an injection, got ${JSON.stringify(plan)}`);
  return plan;
}

const patched = (p: V1Pod, plan: Inject): V1Pod => applyJsonPatch(p, plan.patch);

function envOf(c: V1Container | undefined): Record<string, V1EnvVar> {
  return Object.fromEntries((c?.env ?? []).map((e) => [e.name, e]));
}

describe('injection', () => {
  it('adds the queue-proxy as a native sidecar with the environment the queue-proxy reads', () => {
    const plan = inject(pod());
    expect(plan.warnings).toEqual([]);
    const out = patched(pod(), plan);
    const sidecars = out.spec?.initContainers ?? [];
    expect(sidecars.map((c) => c.name)).toEqual(['queue-proxy']);
    const qp = sidecars[0]!;
    expect(qp).toMatchObject({
      image: OPTIONS.image,
      restartPolicy: 'Always',
      ports: [
        { name: 'queue-port', containerPort: 8012, protocol: 'TCP' },
        { name: 'https-port', containerPort: 8112, protocol: 'TCP' },
        { name: 'http-queueadm', containerPort: 8022, protocol: 'TCP' },
        { name: 'http-autometric', containerPort: 9090, protocol: 'TCP' },
        { name: 'http-usermetric', containerPort: 9091, protocol: 'TCP' },
      ],
      readinessProbe: {
        httpGet: { port: 8012, httpHeaders: [{ name: 'K-Network-Probe', value: 'queue' }] },
        periodSeconds: 10,
      },
      resources: { requests: { cpu: '25m', memory: '64Mi' }, limits: { memory: '512Mi' } },
      securityContext: {
        runAsNonRoot: true,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
      },
    });
    const env = envOf(qp);
    const values = Object.fromEntries(
      Object.entries(env).map(([k, v]) => [k, v.value ?? v.valueFrom?.fieldRef?.fieldPath]),
    );
    expect(values).toEqual({
      SERVING_NAMESPACE: 'metadata.namespace',
      SERVING_SERVICE: 'hello',
      SERVING_CONFIGURATION: '',
      SERVING_REVISION: 'hello-00001',
      QUEUE_SERVING_PORT: '8012',
      QUEUE_SERVING_TLS_PORT: '8112',
      CONTAINER_CONCURRENCY: '10',
      REVISION_TIMEOUT_SECONDS: '300',
      REVISION_RESPONSE_START_TIMEOUT_SECONDS: '0',
      REVISION_IDLE_TIMEOUT_SECONDS: '0',
      SERVING_POD: 'metadata.name',
      SERVING_POD_IP: 'status.podIP',
      SERVING_LOGGING_CONFIG: '',
      SERVING_LOGGING_LEVEL: 'info',
      USER_PORT: '8080',
      SYSTEM_NAMESPACE: 'zerogate-system',
      SERVING_READINESS_PROBE:
        '{"httpGet":{"path":"/ready","port":8080,"host":"127.0.0.1","scheme":"HTTP"},' +
        '"timeoutSeconds":1,"periodSeconds":10,"successThreshold":1,"failureThreshold":3}',
      ENABLE_HTTP2_AUTO_DETECTION: 'false',
      ENABLE_MULTI_CONTAINER_PROBES: 'false',
      QUEUE_NATIVE_SIDECAR: 'true',
      QUEUE_TERMINATION_GRACE_SECONDS: '300',
    });
  });

  it('moves the readiness probe, adds the drain preStop, PORT and K_* to the app, and a grace period', () => {
    const out = patched(pod(), inject(pod()));
    const app = out.spec!.containers[0]!;
    expect(app.readinessProbe).toBeUndefined();
    expect(app.lifecycle).toEqual({
      preStop: { httpGet: { path: '/wait-for-drain', port: 8022, scheme: 'HTTP' } },
    });
    expect(app.env).toEqual([
      { name: 'PORT', value: '8080' },
      { name: 'K_REVISION', value: 'hello-00001' },
      { name: 'K_CONFIGURATION', value: '' },
      { name: 'K_SERVICE', value: 'hello' },
    ]);
    expect(app.image).toBe('example.com/hello');
    expect(out.spec!.terminationGracePeriodSeconds).toBe(300);
    expect(envOf(out.spec!.initContainers![0])['QUEUE_TERMINATION_GRACE_SECONDS']?.value).toBe('300');
    expect(out.metadata!.labels).toEqual(pod().metadata!.labels);
  });

  it('is idempotent: the patch applied twice adds nothing twice, and an injected Pod gets no patch', () => {
    const plan = inject(pod());
    const once = patched(pod(), plan);
    expect(applyJsonPatch(once, plan.patch)).toEqual(once);
    expect(planInjection(once, 'default', OPTIONS)).toEqual({
      kind: 'unchanged',
      reason: 'already injected',
      warnings: [],
    });
  });

  it("keeps the owner's PORT, preStop, exec probe and longer grace period", () => {
    const p = pod((x) => {
      const app = x.spec.containers[0]!;
      app.env = [{ name: 'PORT', value: '3000' }];
      app.lifecycle = {
        preStop: { exec: { command: ['sleep', '5'] } },
        postStart: { exec: { command: ['true'] } },
      };
      app.readinessProbe = { exec: { command: ['ready'] }, periodSeconds: 10 };
      x.spec.terminationGracePeriodSeconds = 900;
    });
    const plan = inject(p);
    expect(plan.warnings).toEqual([
      'container app sets PORT to "3000", but the queue-proxy forwards to its first containerPort, 8080',
    ]);
    const out = patched(p, plan);
    const app = out.spec!.containers[0]!;
    expect(envOf(app)['PORT']?.value).toBe('3000');
    expect(app.env!.filter((e) => e.name === 'PORT')).toHaveLength(1);
    expect(app.lifecycle).toEqual(p.spec!.containers[0]!.lifecycle);
    expect(app.readinessProbe).toEqual({ exec: { command: ['ready'] }, periodSeconds: 10 });
    expect(out.spec!.terminationGracePeriodSeconds).toBe(900);
    expect(plan.patch.some((op) => op.path === '/spec/terminationGracePeriodSeconds')).toBe(false);
    // The queue-proxy is told the Pod's grace period, so websockets may run until it nearly ends.
    expect(envOf(out.spec!.initContainers![0])['QUEUE_TERMINATION_GRACE_SECONDS']?.value).toBe('900');
    expect(JSON.parse(envOf(out.spec!.initContainers![0])['SERVING_READINESS_PROBE']!.value!)).toMatchObject({
      tcpSocket: { port: 8080 },
    });
  });

  it('adds serving.knative.dev/revision when the name comes from another label', () => {
    const p = pod((x) => {
      const labels = (x.metadata as { labels: Record<string, string> }).labels;
      delete labels['serving.knative.dev/revision'];
      labels['app'] = 'hello-00001';
    });
    const plan = inject(p);
    expect(plan.revision).toMatchObject({ name: 'hello-00001', source: 'app' });
    expect(plan.patch).toContainEqual({
      op: 'add',
      path: '/metadata/labels/serving.knative.dev~1revision',
      value: 'hello-00001',
    });
    expect(patched(p, plan).metadata!.labels!['serving.knative.dev/revision']).toBe('hello-00001');
  });

  it('serves an h2c revision (its port named h2c) on 8013', () => {
    const p = pod((x) => {
      x.spec.containers[0]!.ports = [{ name: 'h2c', containerPort: 8080 }];
    });
    const plan = inject(p);
    expect(plan.h2c).toBe(true);
    const qp = patched(p, plan).spec!.initContainers![0]!;
    expect(envOf(qp)['QUEUE_SERVING_PORT']?.value).toBe('8013');
    expect(qp.ports![0]).toEqual({ name: 'queue-port', containerPort: 8013, protocol: 'TCP' });
    expect(qp.readinessProbe!.httpGet!.port).toBe(8013);
  });

  it('turns the queue-proxy Server-Timing off for a revision annotated zerogate.dev/server-timing: "false"', () => {
    const off = pod((x) => {
      x.metadata.annotations = { ...x.metadata.annotations, 'zerogate.dev/server-timing': 'false' };
    });
    const qp = patched(off, inject(off)).spec!.initContainers![0]!;
    expect(envOf(qp)['QUEUE_SERVER_TIMING']?.value).toBe('false');
    const on = pod();
    expect(envOf(patched(on, inject(on)).spec!.initContainers![0])['QUEUE_SERVER_TIMING']).toBeUndefined();
  });

  it('keeps existing init containers first and other containers mostly as they are', () => {
    const p = pod((x) => {
      x.spec.initContainers = [{ name: 'migrate', image: 'example.com/migrate' }];
      x.spec.containers.push({
        name: 'cache',
        image: 'example.com/cache',
        ports: [{ containerPort: 6379 }],
        readinessProbe: { tcpSocket: { port: 6379 } },
      });
    });
    const plan = inject(p);
    expect(plan.warnings).toEqual([
      "only container app's port 8080 is served through the queue-proxy; cache also declare ports",
    ]);
    const out = patched(p, plan);
    expect(out.spec!.initContainers!.map((c) => c.name)).toEqual(['migrate', 'queue-proxy']);
    const cache = out.spec!.containers[1]!;
    expect(cache.readinessProbe).toEqual({ tcpSocket: { port: 6379 } });
    expect(cache.lifecycle?.preStop?.httpGet?.path).toBe('/wait-for-drain');
    expect(envOf(cache)['PORT']).toBeUndefined();
    expect(envOf(cache)['K_REVISION']?.value).toBe('hello-00001');
  });

  it('warns when the autoscaler will not find the Deployment to scale', () => {
    const bare = pod((x) => {
      delete (x.metadata as { ownerReferences?: unknown }).ownerReferences;
    });
    expect(inject(bare).warnings).toEqual([expect.stringContaining('not managed by a Deployment')]);
    expect(inject(bare).deployment).toBeUndefined();
    const other = pod((x) => {
      const meta = x.metadata as { ownerReferences: { name: string }[] };
      meta.ownerReferences[0]!.name = 'hello-5d8f7c9b4';
    });
    expect(inject(other).deployment).toBe('hello');
    expect(inject(other).warnings).toEqual([
      expect.stringContaining(
        'scales Deployment hello-00001-deployment, but this Pod belongs to Deployment hello',
      ),
    ]);
    expect(inject(pod()).deployment).toBe('hello-00001-deployment');
  });
});

describe('pods left alone', () => {
  const unchanged = (plan: InjectionPlan) => {
    expect(plan.kind).toBe('unchanged');
    return plan as Extract<InjectionPlan, { kind: 'unchanged' }>;
  };

  it('without the opt-in label, or in the system namespace', () => {
    const notOptedIn = pod((x) => {
      (x.metadata as { labels: Record<string, string> }).labels['zerogate.dev/inject'] = 'disabled';
    });
    expect(unchanged(planInjection(notOptedIn, 'default', OPTIONS)).warnings).toEqual([]);
    expect(unchanged(planInjection(pod(), 'zerogate-system', OPTIONS))).toMatchObject({
      reason: 'in the system namespace',
      warnings: [],
    });
  });

  it('that already has a queue-proxy container of its own (a Knative Pod), with a warning', () => {
    const p = pod((x) => {
      x.spec.containers.push({ name: 'queue-proxy', image: 'gcr.io/knative/queue' });
    });
    expect(unchanged(planInjection(p, 'default', OPTIONS)).warnings).toEqual([
      'a container named queue-proxy is already present; the Pod is left as it is',
    ]);
  });
});

describe('bad Pods', () => {
  const unlabelled = (edit: Parameters<typeof pod>[0]) =>
    pod((x) => {
      const labels = (x.metadata as { labels: Record<string, string> }).labels;
      delete labels['serving.knative.dev/revision'];
      labels['zerogate.dev/revision'] = 'hello-00001';
      edit?.(x);
    });

  it('no containerPort: admitted unchanged with a warning, or denied when labelled for a revision', () => {
    const noPort = (x: { spec: { containers: V1Container[] } }) => {
      delete x.spec.containers[0]!.ports;
    };
    expect(planInjection(unlabelled(noPort), 'default', OPTIONS)).toEqual({
      kind: 'unchanged',
      reason: 'no container declares a containerPort, so the queue-proxy has no USER_PORT to forward to',
      warnings: [
        'no container declares a containerPort, so the queue-proxy has no USER_PORT to forward to; admitted without the queue-proxy',
      ],
    });
    const denied = planInjection(pod(noPort), 'default', OPTIONS);
    expect(denied).toEqual({
      kind: 'deny',
      message: expect.stringContaining('no container declares a containerPort'),
    });
    expect((denied as { message: string }).message).toContain('labelled serving.knative.dev/revision');
  });

  it('a port the queue-proxy needs, in any container: the same policy', () => {
    const clash = (x: { spec: { containers: V1Container[]; initContainers?: V1Container[] } }) => {
      x.spec.initContainers = [
        {
          name: 'metrics',
          image: 'example.com/m',
          restartPolicy: 'Always',
          ports: [{ containerPort: 9090 }],
        },
      ];
    };
    const plan = planInjection(unlabelled(clash), 'default', OPTIONS);
    expect(plan).toMatchObject({
      kind: 'unchanged',
      warnings: [expect.stringContaining('container metrics declares port 9090')],
    });
    expect(planInjection(pod(clash), 'default', OPTIONS)).toMatchObject({
      kind: 'deny',
      message: expect.stringContaining('container metrics declares port 9090'),
    });
    const appOn8012 = pod((x) => {
      x.spec.containers[0]!.ports = [{ containerPort: 8012 }];
    });
    expect(planInjection(appOn8012, 'default', OPTIONS)).toMatchObject({ kind: 'deny' });
  });

  it("the node's network: the same policy", () => {
    const hostNetwork = (x: { spec: { hostNetwork?: boolean } }) => {
      x.spec.hostNetwork = true;
    };
    expect(planInjection(unlabelled(hostNetwork), 'default', OPTIONS)).toMatchObject({
      kind: 'unchanged',
      warnings: [expect.stringContaining("node's network")],
    });
    expect(planInjection(pod(hostNetwork), 'default', OPTIONS)).toMatchObject({ kind: 'deny' });
  });

  it('no revision name: admitted unchanged with a warning', () => {
    const p = pod((x) => {
      delete (x.metadata as { labels: Record<string, string> }).labels['serving.knative.dev/revision'];
    });
    expect(planInjection(p, 'default', OPTIONS)).toMatchObject({
      kind: 'unchanged',
      warnings: [expect.stringContaining('no revision label')],
    });
  });

  it('a malformed annotation: denied, naming it, whatever the labels', () => {
    for (const p of [pod(), unlabelled(undefined)]) {
      (p.metadata!.annotations as Record<string, string>)['zerogate.dev/timeout-seconds'] = 'forever';
      expect(planInjection(p, 'default', OPTIONS)).toEqual({
        kind: 'deny',
        message:
          'zerogate injector: annotation zerogate.dev/timeout-seconds must be a whole number from 0 to 3600, got "forever"',
      });
    }
  });
});

describe('in-process mode (zerogate.dev/queue-proxy: in-process)', () => {
  /** The Pod of the injection tests, asking for in-process mode, its app declaring the stats port. */
  const inProcessPod = (edit: Parameters<typeof pod>[0] = () => {}) =>
    pod((x) => {
      (x.metadata as { annotations: Record<string, string> }).annotations['zerogate.dev/queue-proxy'] =
        'in-process';
      x.spec.containers[0]!.ports!.push({ name: 'http-autometric', containerPort: 9090, protocol: 'TCP' });
      edit(x);
    });

  it('adds no sidecar, and gives the app the contract variables, PORT, K_*, the drain preStop and the grace period', () => {
    const plan = inject(inProcessPod());
    expect(plan.warnings).toEqual([]);
    expect(plan).toMatchObject({ userPort: 8080, h2c: false, settings: { queueProxy: 'in-process' } });
    const out = patched(inProcessPod(), plan);
    expect(out.spec!.initContainers).toBeUndefined();
    expect(out.spec!.containers.map((c) => c.name)).toEqual(['app']);
    const app = out.spec!.containers[0]!;
    expect(app.lifecycle).toEqual({
      preStop: { httpGet: { path: '/wait-for-drain', port: 8022, scheme: 'HTTP' } },
    });
    const values = Object.fromEntries(
      Object.entries(envOf(app)).map(([k, v]) => [k, v.value ?? `field ${v.valueFrom?.fieldRef?.fieldPath}`]),
    );
    expect(values).toEqual({
      PORT: '8080',
      K_REVISION: 'hello-00001',
      K_CONFIGURATION: '',
      K_SERVICE: 'hello',
      SERVING_NAMESPACE: 'field metadata.namespace',
      SERVING_POD: 'field metadata.name',
      SERVING_SERVICE: 'hello',
      SERVING_CONFIGURATION: '',
      SERVING_REVISION: 'hello-00001',
      CONTAINER_CONCURRENCY: '10',
      REVISION_TIMEOUT_SECONDS: '300',
      REVISION_RESPONSE_START_TIMEOUT_SECONDS: '0',
      REVISION_IDLE_TIMEOUT_SECONDS: '0',
      SERVING_LOGGING_LEVEL: 'info',
      QUEUE_ADMIN_PORT: '8022',
      QUEUE_STATS_PORT: '9090',
      QUEUE_METRICS_PORT: '9091',
    });
    expect(out.spec!.terminationGracePeriodSeconds).toBe(300);
  });

  it('gives the app the settings attach() reads, as the in-process mode itself reads them', async () => {
    const { loadConfig } = await import('@zerogate/in-process');
    const p = inProcessPod((x) => {
      const annotations = (x.metadata as { annotations: Record<string, string> }).annotations;
      annotations['zerogate.dev/timeout-seconds'] = '60';
      annotations['zerogate.dev/idle-timeout-seconds'] = '15';
    });
    const app = patched(p, inject(p)).spec!.containers[0]!;
    // The downward API's values, as the kubelet fills them in.
    const fields: Record<string, string> = { 'metadata.namespace': 'default', 'metadata.name': 'hello-x' };
    const env = Object.fromEntries(
      (app.env ?? []).map((e) => [e.name, e.value ?? fields[e.valueFrom!.fieldRef!.fieldPath]!]),
    );
    expect(loadConfig(env)).toMatchObject({
      containerConcurrency: 10,
      revisionTimeoutMs: 60_000,
      idleTimeoutMs: 15_000,
      adminPort: 8022,
      statsPort: 9090,
      namespace: 'default',
      service: 'hello',
      revision: 'hello-00001',
      pod: 'hello-x',
    });
  });

  it('turns the in-process Server-Timing off for a revision annotated zerogate.dev/server-timing: "false"', async () => {
    const { loadConfig } = await import('@zerogate/in-process');
    const off = inProcessPod((x) => {
      (x.metadata as { annotations: Record<string, string> }).annotations['zerogate.dev/server-timing'] =
        'false';
    });
    const app = patched(off, inject(off)).spec!.containers[0]!;
    expect(envOf(app)['QUEUE_SERVER_TIMING']?.value).toBe('false');
    const env = Object.fromEntries((app.env ?? []).map((e) => [e.name, e.value ?? 'x']));
    expect(loadConfig(env).serverTiming).toBe(false);
  });

  it("replaces the app's HTTP readiness probe by the kubelet's probe of its own port, with the probe's timing", () => {
    const out = patched(inProcessPod(), inject(inProcessPod()));
    expect(out.spec!.containers[0]!.readinessProbe).toEqual({
      httpGet: {
        path: '/',
        port: 8080,
        scheme: 'HTTP',
        httpHeaders: [{ name: 'K-Network-Probe', value: 'queue' }],
      },
      timeoutSeconds: 1,
      periodSeconds: 10,
      successThreshold: 1,
      failureThreshold: 3,
    });
    const noProbe = inProcessPod((x) => {
      delete x.spec.containers[0]!.readinessProbe;
    });
    expect(patched(noProbe, inject(noProbe)).spec!.containers[0]!.readinessProbe?.httpGet?.port).toBe(8080);
    // An h2c app does not speak the kubelet's HTTP/1.1: a connect to its port, with the same timing.
    const h2c = inProcessPod((x) => {
      x.spec.containers[0]!.ports![0]!.name = 'h2c';
    });
    const h2cPlan = inject(h2c);
    expect(h2cPlan.h2c).toBe(true);
    expect(patched(h2c, h2cPlan).spec!.containers[0]!.readinessProbe).toEqual({
      tcpSocket: { port: 8080 },
      timeoutSeconds: 1,
      periodSeconds: 10,
      successThreshold: 1,
      failureThreshold: 3,
    });
    const exec = inProcessPod((x) => {
      x.spec.containers[0]!.readinessProbe = { exec: { command: ['ready'] } };
    });
    expect(patched(exec, inject(exec)).spec!.containers[0]!.readinessProbe).toEqual({
      exec: { command: ['ready'] },
    });
  });

  it('keeps the variables the Pod sets itself over the injected ones', () => {
    const p = inProcessPod((x) => {
      x.spec.containers[0]!.env = [
        { name: 'QUEUE_DRAIN_QUIET_SECONDS', value: '5' },
        { name: 'SERVING_LOGGING_LEVEL', value: 'debug' },
      ];
    });
    const env = envOf(patched(p, inject(p)).spec!.containers[0]);
    expect(env['SERVING_LOGGING_LEVEL']?.value).toBe('debug');
    expect(env['QUEUE_DRAIN_QUIET_SECONDS']?.value).toBe('5');
    expect(
      patched(p, inject(p)).spec!.containers[0]!.env!.filter((e) => e.name === 'SERVING_LOGGING_LEVEL'),
    ).toHaveLength(1);
  });

  it('is idempotent: the patch applied twice changes nothing, and a patched Pod gets an empty patch', () => {
    const plan = inject(inProcessPod());
    const once = patched(inProcessPod(), plan);
    expect(applyJsonPatch(once, plan.patch)).toEqual(once);
    expect(inject(once).patch).toEqual([]);
  });

  it('refuses an app container without the stats port, naming the port and the annotation, whatever the labels', () => {
    const unlabelled = (x: { metadata: object }) => {
      const labels = (x.metadata as { labels: Record<string, string> }).labels;
      delete labels['serving.knative.dev/revision'];
      labels['zerogate.dev/revision'] = 'hello-00001';
    };
    for (const p of [
      inProcessPod((x) => x.spec.containers[0]!.ports!.pop()),
      inProcessPod((x) => {
        x.spec.containers[0]!.ports!.pop();
        unlabelled(x);
      }),
    ]) {
      expect(planInjection(p, 'default', OPTIONS)).toEqual({
        kind: 'deny',
        message:
          'zerogate injector: annotation zerogate.dev/queue-proxy is in-process, but container app declares no ' +
          "containerPort 9090: the app serves the autoscaler's stats there (QUEUE_STATS_PORT) and the autoscaler " +
          'scrapes it; add { name: http-autometric, containerPort: 9090 } to its ports',
      });
    }
    // On another container it does not count.
    const elsewhere = inProcessPod((x) => {
      x.spec.containers[0]!.ports!.pop();
      x.spec.containers.push({ name: 'metrics', image: 'example.com/m', ports: [{ containerPort: 9090 }] });
    });
    expect(planInjection(elsewhere, 'default', OPTIONS)).toMatchObject({
      kind: 'deny',
      message: expect.stringContaining('container app declares no containerPort 9090'),
    });
  });

  it('refuses no containerPort at all, a side port first, a side port on another container, and the node network', () => {
    const denied = (p: V1Pod) => {
      const plan = planInjection(p, 'default', OPTIONS);
      expect(plan.kind).toBe('deny');
      return (plan as { message: string }).message;
    };
    expect(
      denied(
        inProcessPod((x) => {
          delete x.spec.containers[0]!.ports;
        }),
      ),
    ).toContain('is in-process, but no container declares a containerPort');
    expect(
      denied(
        inProcessPod((x) => {
          x.spec.containers[0]!.ports!.reverse();
        }),
      ),
    ).toContain("container app's first containerPort is 9090");
    expect(
      denied(
        inProcessPod((x) => {
          x.spec.initContainers = [
            {
              name: 'admin',
              image: 'example.com/a',
              restartPolicy: 'Always',
              ports: [{ containerPort: 8022 }],
            },
          ];
        }),
      ),
    ).toContain('container admin declares port 8022, which the app app serves');
    expect(
      denied(
        inProcessPod((x) => {
          (x.spec as { hostNetwork?: boolean }).hostNetwork = true;
        }),
      ),
    ).toContain("the Pod uses the node's network");
  });

  it('allows the sidecar ports the app does not take (8012, 8013, 8112) on its containers', () => {
    const p = inProcessPod((x) => {
      x.spec.containers[0]!.ports![0]!.containerPort = 8012;
    });
    expect(inject(p).userPort).toBe(8012);
  });

  it('refuses a bad mode, naming the annotation and the value', () => {
    const p = pod((x) => {
      (x.metadata as { annotations: Record<string, string> }).annotations['zerogate.dev/queue-proxy'] =
        'none';
    });
    expect(planInjection(p, 'default', OPTIONS)).toEqual({
      kind: 'deny',
      message:
        'zerogate injector: annotation zerogate.dev/queue-proxy must be one of sidecar, in-process, got "none"',
    });
  });
});

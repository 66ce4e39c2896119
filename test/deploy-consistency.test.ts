import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type {
  V1CustomResourceDefinition,
  V1Deployment,
  V1MutatingWebhookConfiguration,
  V1PodDisruptionBudget,
  V1Service,
  V2HorizontalPodAutoscaler,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  idOf,
  KUBECTL,
  type KubeObject,
  kustomizations,
  only,
  podTemplates,
  render,
  select,
} from './support/manifests.js';
import {
  BASE_COMPONENTS,
  importBuilt,
  injectorSecrets,
  listenerPorts,
  type OurContainer,
  ourContainer,
  ourContainers,
  portNumber,
  probesOf,
  readManifestConfig,
  type Secrets,
  secretFiles,
} from './support/manifests-components.js';
import { dockerfileOf, parseDockerfile } from './support/manifests-dockerfile.js';
import { ROOT } from './support/processes.js';
import { selfSignedTls, type TestTls } from './support/tls.js';

const VERSION = (JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as { version: string })
  .version;
/** Our images, as the manifests must name them: one registry, the release's version. */
const OUR_IMAGES = {
  activator: `ghcr.io/zerogate/activator:${VERSION}`,
  queueProxy: `ghcr.io/zerogate/queue-proxy:${VERSION}`,
};
/** The Node.js base image of our Dockerfiles, which the examples run their app on. */
const NODE_IMAGE = parseDockerfile('Dockerfile.activator').args['NODE_IMAGE'];

const SYSTEM = 'zerogate-system';

let tls: TestTls;
/** The injector's Secret. */
let secrets: Secrets;

beforeAll(() => {
  tls = selfSignedTls(`injector.${SYSTEM}.svc`);
  secrets = injectorSecrets(tls);
});
afterAll(() => tls?.remove());

/** Loads a container's configuration from its manifest, with the injector's Secret. */
const reading = (c: OurContainer) => readManifestConfig(c, secrets);

describe.skipIf(!KUBECTL)('images', () => {
  it('every container runs one of our images at this version, or the examples’ Node.js base', () => {
    const bad: string[] = [];
    for (const { dir } of kustomizations().filter((k) => k.kind === 'Kustomization')) {
      for (const t of podTemplates(render(dir))) {
        for (const c of [...t.spec.containers, ...(t.spec.initContainers ?? [])]) {
          const image = c.image ?? '';
          const ok =
            Object.values(OUR_IMAGES).includes(image) ||
            (dir.startsWith('deploy/examples/') && image === NODE_IMAGE) ||
            // Knative's own objects in the fixture, which the component leaves alone.
            (dir.startsWith('deploy/testdata/') && image.startsWith('gcr.io/knative-releases/'));
          if (!ok) bad.push(`${dir}: ${idOf(t.owner)} ${c.name}: ${image}`);
        }
      }
    }
    expect(bad).toEqual([]);
  });

  it('every object of the base is labelled with this version', () => {
    const wrong = render('deploy/base')
      .filter((o) => o.metadata.labels?.['app.kubernetes.io/version'] !== VERSION)
      .map(idOf);
    expect(wrong).toEqual([]);
  });

  it('the queue-proxy image the injector injects, and the one Knative is told to inject, are ours', () => {
    const injector = only<V1Deployment>(render('deploy/base'), 'Deployment', 'injector', SYSTEM);
    const env = injector.spec!.template.spec!.containers[0]!.env ?? [];
    expect(env.find((e) => e.name === 'INJECTOR_QUEUE_PROXY_IMAGE')?.value).toBe(OUR_IMAGES.queueProxy);
    const config = only<{ data: Record<string, string> }>(
      render('deploy/testdata/knative-serving'),
      'ConfigMap',
      'config-deployment',
      'knative-serving',
    );
    expect(config.data['queue-sidecar-image']).toBe(OUR_IMAGES.queueProxy);
  });

  it('the Node.js base image runs the Node.js this repository is built and tested with', () => {
    const node = (
      JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as {
        devDependencies: Record<string, string>;
      }
    ).devDependencies['node'];
    expect(NODE_IMAGE).toBe(`node:${node}-bookworm-slim`);
    expect(parseDockerfile('Dockerfile.queue-proxy').args['NODE_IMAGE']).toBe(NODE_IMAGE);
  });
});

describe.skipIf(!KUBECTL)('our containers against the code they run', () => {
  it('the base runs the activator, the autoscaler and the injector, each from our images', () => {
    expect(
      ourContainers('deploy/base')
        .map((c) => [c.where, c.component.name])
        .sort(),
    ).toEqual([
      ['Deployment zerogate-system/activator activator', 'activator'],
      ['Deployment zerogate-system/autoscaler autoscaler', 'autoscaler'],
      ['Deployment zerogate-system/injector injector', 'injector'],
    ]);
  });

  it.each(
    BASE_COMPONENTS.map((c) => c.name),
  )('%s: its configuration loads from the manifest, and it reads every variable the manifest sets', async (name) => {
    const c = ourContainer('deploy/base', name);
    const r = await reading(c);
    expect(r.problems, 'required variables missing or values rejected').toEqual([]);
    expect(
      Object.keys(c.env).filter((v) => !r.read.includes(v)),
      'set but read by nothing',
    ).toEqual([]);
  });

  it.each(
    BASE_COMPONENTS.map((c) => c.name),
  )('%s: declares exactly the ports it listens on, and probes one of them', async (name) => {
    const c = ourContainer('deploy/base', name);
    const r = await reading(c);
    const listening = Object.values(listenerPorts(c.component, r.config)).sort();
    const declared = (c.container.ports ?? []).map((p) => p.containerPort).sort();
    expect(declared).toEqual(listening);
    const probes = probesOf(c.container);
    expect(probes.map(([kind]) => kind).sort()).toEqual(['livenessProbe', 'readinessProbe']);
    for (const [kind, probe] of probes) {
      expect(probe.httpGet, kind).toBeDefined();
      expect(listening, kind).toContain(portNumber(probe.httpGet!.port, c.container));
      // The injector serves HTTPS only; the others plain HTTP.
      expect(probe.httpGet!.scheme ?? 'HTTP', kind).toBe(name === 'injector' ? 'HTTPS' : 'HTTP');
    }
  });

  it('in Knative, our activator loads from Knative’s environment and serves the ports Knative routes to', async () => {
    const [c] = ourContainers('deploy/testdata/knative-serving');
    expect(c?.component.name).toBe('activator');
    const r = await reading(c!);
    expect(r.problems).toEqual([]);
    // EndpointSlices first: Knative's role refuses them, and the activator falls back to Endpoints itself.
    expect((r.config as { useEndpoints: boolean }).useEndpoints).toBe(false);
    const listening = Object.values(listenerPorts(c!.component, r.config));
    for (const [kind, probe] of probesOf(c!.container)) {
      expect(listening, kind).toContain(portNumber(probe.httpGet?.port, c!.container));
    }
    const service = only<V1Service>(
      render('deploy/testdata/knative-serving'),
      'Service',
      'activator-service',
      'knative-serving',
    );
    for (const name of ['http', 'http2', 'http-metrics']) {
      const port = service.spec!.ports!.find((p) => p.name === name)!;
      expect(listening, name).toContain(portNumber(port.targetPort, c!.container));
    }
  });
});

describe.skipIf(!KUBECTL)('wiring inside the base', () => {
  const objects = () => render('deploy/base');

  /** The one Deployment whose Pods a label selector picks, in a namespace. */
  function selected(
    selector: Record<string, string>,
    namespace: string | undefined,
  ): V1Deployment & KubeObject {
    const matches = select<V1Deployment>(objects(), 'Deployment').filter((d) => {
      const labels = d.spec!.template.metadata?.labels ?? {};
      return (
        d.metadata.namespace === namespace && Object.entries(selector).every(([k, v]) => labels[k] === v)
      );
    });
    expect(matches.map(idOf), JSON.stringify(selector)).toHaveLength(1);
    return matches[0]!;
  }

  it('every Deployment selects its own Pods, and runs as a service account of the manifests', () => {
    for (const d of select<V1Deployment>(objects(), 'Deployment')) {
      const labels = d.spec!.template.metadata!.labels!;
      expect(
        Object.entries(d.spec!.selector.matchLabels!).every(([k, v]) => labels[k] === v),
        idOf(d),
      ).toBe(true);
      expect(
        select(objects(), 'ServiceAccount', d.spec!.template.spec!.serviceAccountName, d.metadata.namespace),
      ).toHaveLength(1);
    }
  });

  it('every Service selects one Deployment, and each target port is one its container serves', async () => {
    for (const s of select<V1Service>(objects(), 'Service')) {
      const d = selected(s.spec!.selector!, s.metadata.namespace);
      const container = d.spec!.template.spec!.containers[0]!;
      const [ours] = ourContainers('deploy/base').filter(
        (c) => c.template.owner.metadata.name === d.metadata.name,
      );
      const r = ours && (await reading(ours));
      for (const p of s.spec!.ports!) {
        const target = portNumber(p.targetPort ?? p.port, container);
        expect(
          container.ports?.map((cp) => cp.containerPort),
          `${idOf(s)} ${p.name}`,
        ).toContain(target);
        if (r) expect(Object.values(listenerPorts(ours!.component, r.config))).toContain(target);
      }
    }
  });

  it('disruption budgets and the activator’s HorizontalPodAutoscaler find what they manage', () => {
    for (const pdb of select<V1PodDisruptionBudget>(objects(), 'PodDisruptionBudget')) {
      selected(pdb.spec!.selector!.matchLabels!, pdb.metadata.namespace);
    }
    const hpa = only<V2HorizontalPodAutoscaler>(objects(), 'HorizontalPodAutoscaler', 'activator', SYSTEM);
    const target = only<V1Deployment>(
      objects(),
      hpa.spec!.scaleTargetRef.kind,
      hpa.spec!.scaleTargetRef.name,
      SYSTEM,
    );
    expect(target.spec!.replicas, 'the HPA owns the count').toBeUndefined();
    expect(hpa.spec!.metrics!.map((m) => m.resource?.name)).toEqual(['cpu']);
    expect(target.spec!.template.spec!.containers[0]!.resources?.requests?.['cpu']).toBeDefined();
  });

  it('the activator reports to the autoscaler Service, which reaches the autoscaler’s stat server', async () => {
    const activator = ourContainer('deploy/base', 'activator');
    const autoscaler = ourContainer('deploy/base', 'autoscaler');
    const url = new URL(activator.env['AUTOSCALER_URL']!);
    expect(url.protocol).toBe('ws:');
    const [name, namespace, svc, ...domain] = url.hostname.split('.');
    expect([svc, domain.join('.')]).toEqual(['svc', 'cluster.local']);
    const service = only<V1Service>(objects(), 'Service', name!, namespace);
    expect(selected(service.spec!.selector!, namespace).metadata.name).toBe('autoscaler');
    const port = service.spec!.ports!.find((p) => p.port === Number(url.port))!;
    const r = await reading(autoscaler);
    expect(portNumber(port.targetPort, autoscaler.container)).toBe(
      listenerPorts(autoscaler.component, r.config)['stats'],
    );
  });

  it('the webhook calls the injector’s Service on the port and path it serves, never for its own namespace', async () => {
    const webhooks = select<V1MutatingWebhookConfiguration>(objects(), 'MutatingWebhookConfiguration');
    expect(webhooks).toHaveLength(1);
    const [hook] = webhooks[0]!.webhooks!;
    const ref = hook!.clientConfig.service!;
    expect(ref.path).toBe('/mutate-pods');
    const service = only<V1Service>(objects(), 'Service', ref.name, ref.namespace);
    expect(selected(service.spec!.selector!, ref.namespace).metadata.name).toBe('injector');
    const injector = ourContainer('deploy/base', 'injector');
    const port = service.spec!.ports!.find((p) => p.port === (ref.port ?? 443))!;
    expect(hook!.namespaceSelector?.matchExpressions).toEqual([
      { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [ref.namespace] },
    ]);
    const r = await reading(injector);
    const config = r.config as {
      systemNamespace: string;
      apiTimeoutMs: number;
      activatorService?: { namespace: string; name: string };
    };
    expect(portNumber(port.targetPort, injector.container)).toBe(
      listenerPorts(injector.component, r.config)['https'],
    );
    expect(config.systemNamespace).toBe(ref.namespace);
    // The API server waits timeoutSeconds for the webhook; the injector's own API calls must end sooner.
    expect(hook!.timeoutSeconds! * 1000).toBeGreaterThan(config.apiTimeoutMs);
    if (config.activatorService) {
      const activatorService = only<V1Service>(
        objects(),
        'Service',
        config.activatorService.name,
        config.activatorService.namespace,
      );
      expect(
        selected(activatorService.spec!.selector!, config.activatorService.namespace).metadata.name,
      ).toBe('activator');
    }
  });

  it('the webhook: opt-in Pods only, created only, v1 reviews, and its failure policy and side effects as designed', () => {
    const [hook] = only<V1MutatingWebhookConfiguration>(
      objects(),
      'MutatingWebhookConfiguration',
      'zerogate-injector',
    ).webhooks!;
    expect(hook!.objectSelector).toEqual({ matchLabels: { 'zerogate.dev/inject': 'enabled' } });
    expect(hook!.rules).toEqual([
      {
        operations: ['CREATE'],
        apiGroups: [''],
        apiVersions: ['v1'],
        resources: ['pods'],
        scope: 'Namespaced',
      },
    ]);
    expect(hook!.admissionReviewVersions).toEqual(['v1']);
    expect(hook!.failurePolicy).toBe('Fail');
    expect(hook!.sideEffects).toBe('NoneOnDryRun');
    expect(hook!.reinvocationPolicy).toBe('IfNeeded');
    expect(hook!.timeoutSeconds).toBeGreaterThan(0);
    expect(hook!.timeoutSeconds).toBeLessThanOrEqual(30);
    // A Fail policy with one injector would block labelled Pods during every injector rollout.
    expect(
      only<V1Deployment>(objects(), 'Deployment', 'injector', SYSTEM).spec!.replicas,
    ).toBeGreaterThanOrEqual(2);
  });

  it('the injector reads its certificate from the Secret it mounts', async () => {
    const injector = ourContainer('deploy/base', 'injector');
    const files = secretFiles(injector.template.spec, injector.container, secrets);
    expect([...files.keys()].sort()).toEqual(
      [injector.env['INJECTOR_TLS_CERT_FILE'], injector.env['INJECTOR_TLS_KEY_FILE']].sort(),
    );
    const volume = injector.template.spec.volumes!.find(
      (v) => v.secret?.secretName === 'zerogate-injector-tls',
    );
    expect(volume).toBeDefined();
  });

  it('the activator’s grace period covers its drain, the longest revision timeout and its websocket grace', async () => {
    const activator = ourContainer('deploy/base', 'activator');
    const crd = only<V1CustomResourceDefinition>(
      objects(),
      'CustomResourceDefinition',
      'revisions.serving.knative.dev',
    );
    const spec = crd.spec.versions[0]!.schema!.openAPIV3Schema!.properties!['spec']!;
    const longest = spec.properties!['timeoutSeconds']!.maximum!;
    const r = await reading(activator);
    const { drainMs, upgradeGraceMs } = r.config as { drainMs: number; upgradeGraceMs: number };
    expect(activator.template.spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(
      (drainMs + upgradeGraceMs) / 1000 + longest,
    );
  });

  it('the Revision definition allows every value the injector writes into a Revision', async () => {
    const limits = await importBuilt<{ MAX_TIMEOUT_SECONDS: number; MAX_CONTAINER_CONCURRENCY: number }>(
      'packages/injector/dist/revision-settings.js',
    );
    const crd = only<V1CustomResourceDefinition>(
      objects(),
      'CustomResourceDefinition',
      'revisions.serving.knative.dev',
    );
    const fields = crd.spec.versions[0]!.schema!.openAPIV3Schema!.properties!['spec']!.properties!;
    expect(fields['containerConcurrency']!.maximum).toBeGreaterThanOrEqual(limits.MAX_CONTAINER_CONCURRENCY);
    for (const f of ['timeoutSeconds', 'responseStartTimeoutSeconds', 'idleTimeoutSeconds']) {
      expect(fields[f]!.maximum, f).toBeGreaterThanOrEqual(limits.MAX_TIMEOUT_SECONDS);
    }
  });
});

describe.skipIf(!KUBECTL)('Pod security and resources', () => {
  /** The Pods the base and the examples create (Knative's fixture is Knative's business). */
  const templates = () =>
    [
      'deploy/base',
      'deploy/examples/hello/standalone',
      'deploy/examples/hello/knative/2-hello-00002',
    ].flatMap((dir) => podTemplates(render(dir)));

  it('every container is non-root, read-only, unprivileged, with no capabilities and the runtime’s seccomp profile', () => {
    const problems: string[] = [];
    for (const t of templates()) {
      const pod = t.spec.securityContext ?? {};
      for (const c of t.spec.containers) {
        const s = c.securityContext ?? {};
        const where = `${idOf(t.owner)} ${c.name}`;
        if ((s.runAsNonRoot ?? pod.runAsNonRoot) !== true) problems.push(`${where}: runAsNonRoot`);
        if (s.readOnlyRootFilesystem !== true) problems.push(`${where}: readOnlyRootFilesystem`);
        if (s.allowPrivilegeEscalation !== false) problems.push(`${where}: allowPrivilegeEscalation`);
        if (JSON.stringify(s.capabilities) !== JSON.stringify({ drop: ['ALL'] }))
          problems.push(`${where}: capabilities`);
        if ((s.seccompProfile ?? pod.seccompProfile)?.type !== 'RuntimeDefault')
          problems.push(`${where}: seccompProfile`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('every container requests CPU and memory and has a memory limit; ours a CPU limit too', () => {
    const problems: string[] = [];
    for (const t of templates()) {
      for (const c of t.spec.containers) {
        const r = c.resources ?? {};
        const where = `${idOf(t.owner)} ${c.name}`;
        if (!r.requests?.['cpu'] || !r.requests['memory']) problems.push(`${where}: requests`);
        if (!r.limits?.['memory']) problems.push(`${where}: memory limit`);
        if (dockerfileOf(c.image ?? '') && !r.limits?.['cpu']) problems.push(`${where}: cpu limit`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('the namespace enforces the restricted Pod Security Standard the Pods meet', () => {
    const ns = only(render('deploy/base'), 'Namespace', SYSTEM);
    expect(ns.metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
  });
});

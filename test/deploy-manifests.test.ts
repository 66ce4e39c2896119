import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type {
  V1Container,
  V1CustomResourceDefinition,
  V1Deployment,
  V1JSONSchemaProps,
} from '@kubernetes/client-node';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { describe, expect, it } from 'vitest';
import {
  idOf,
  KUBECTL,
  type KubeObject,
  kustomizations,
  only,
  parseYamlObjects,
  podTemplates,
  render,
  select,
} from './support/manifests.js';
import { structuralProblems, validateAgainst, validateObject } from './support/manifests-schema.js';
import { ROOT } from './support/processes.js';

/** Every kustomization that renders on its own (a Component renders only inside one, see testdata). */
const BUILDS = kustomizations().filter((k) => k.kind === 'Kustomization');

/** Renders `dir` and returns its objects; the tests below render each folder once (render caches). */
const objectsOf = (dir: string) => render(dir);

describe.skipIf(!KUBECTL)('every kustomization under deploy/', () => {
  it('includes the base, the Knative component, its fixture and both example ways', () => {
    expect(kustomizations()).toEqual(
      expect.arrayContaining([
        { dir: 'deploy/base', kind: 'Kustomization' },
        { dir: 'deploy/overlays/knative', kind: 'Component' },
        { dir: 'deploy/testdata/knative-serving', kind: 'Kustomization' },
        { dir: 'deploy/examples/hello/standalone', kind: 'Kustomization' },
        { dir: 'deploy/examples/hello/knative/1-hello-00001', kind: 'Kustomization' },
        { dir: 'deploy/examples/hello/knative/2-hello-00002', kind: 'Kustomization' },
      ]),
    );
  });

  it.each(
    BUILDS.map((k) => k.dir),
  )('%s renders, and every object passes its schema with no unknown key', (dir) => {
    const objects = objectsOf(dir);
    expect(objects.length).toBeGreaterThan(0);
    const problems = objects.flatMap((o) => validateObject(o).map((p) => `${idOf(o)}: ${p}`));
    expect(problems).toEqual([]);
    const ids = objects.map(idOf);
    expect(
      ids.filter((id, i) => ids.indexOf(id) !== i),
      'objects defined twice',
    ).toEqual([]);
  });
});

describe.skipIf(!KUBECTL)('the strict schema check', () => {
  const activator = () => only<V1Deployment>(objectsOf('deploy/base'), 'Deployment', 'activator');
  const container = (d: V1Deployment) =>
    d.spec!.template.spec!.containers[0] as V1Container & Record<string, unknown>;

  it('rejects a misspelled container field that kubernetes-models alone accepts', () => {
    const d = activator();
    container(d)['imagePullPolicyy'] = 'Always';
    expect(() => new Deployment(structuredClone(d) as never).validate()).not.toThrow();
    expect(validateObject(d)).toEqual([
      '.spec.template.spec.containers[0].imagePullPolicyy: not in the schema',
    ]);
  });

  it('rejects unknown keys at any depth, and in metadata, but not in label maps', () => {
    const d = activator();
    (container(d).securityContext!.capabilities as Record<string, unknown>)['dorp'] = ['ALL'];
    (d.metadata as unknown as Record<string, unknown>)['label'] = { a: 'b' };
    d['specs'] = {};
    d.spec!.template.metadata!.labels!['any-label'] = 'is fine';
    expect(validateObject(d).sort()).toEqual([
      '.metadata.label: not in the schema',
      '.spec.template.spec.containers[0].securityContext.capabilities.dorp: not in the schema',
      '.specs: not in the schema',
    ]);
  });

  it('still reports what kubernetes-models reports: a wrong type', () => {
    const d = activator();
    (d.spec as unknown as Record<string, unknown>)['replicas'] = 'two';
    expect(validateObject(d).join('\n')).toMatch(/replicas/);
  });

  it('checks a Knative Service, a Gateway API route and a CRD schema strictly too', () => {
    const ksvc = only(objectsOf('deploy/examples/hello/knative/2-hello-00002'), 'Service', 'hello', 'hello');
    const template = (ksvc['spec'] as { template: { spec: { containers: Record<string, unknown>[] } } })
      .template;
    template.spec.containers[0]!['bogus'] = 1;
    (ksvc['spec'] as { traffic: Record<string, unknown>[] }).traffic[0]!['percnt'] = 90;
    expect(validateObject(ksvc).sort()).toEqual([
      '.spec.template.spec.containers[0].bogus: not in the schema',
      '.spec.traffic[0].percnt: not in the schema',
    ]);

    const route = only(objectsOf('deploy/examples/hello/standalone'), 'HTTPRoute', 'hello');
    (route['spec'] as { rules: Record<string, unknown>[] }).rules[0]!['backendRef'] = [];
    expect(validateObject(route)).toEqual(['.spec.rules[0].backendRef: not in the schema']);

    const crd = only<V1CustomResourceDefinition>(
      objectsOf('deploy/base'),
      'CustomResourceDefinition',
      'revisions.serving.knative.dev',
    );
    const spec = crd.spec.versions[0]!.schema!.openAPIV3Schema!.properties!['spec']!;
    (spec.properties!['timeoutSeconds'] as Record<string, unknown>)['maximun'] = 600;
    (spec as Record<string, unknown>)['x-kubernetes-preserve-unknown-fields'] = 'yes';
    expect(validateObject(crd).sort()).toEqual([
      '.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.timeoutSeconds.maximun: not in the schema',
      '.spec.versions[0].schema.openAPIV3Schema.properties.spec.x-kubernetes-preserve-unknown-fields must be a boolean',
    ]);
  });

  it('knows no schema for a kind it was not given', () => {
    expect(validateObject({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } })).toEqual(
      ['no schema for example.com/v1/Widget'],
    );
  });
});

/** The Revision fields the activator and the autoscaler read (`endpoint-source-kubernetes.ts`, `revision-watcher.ts`). */
const REVISION_FIELDS_READ = [
  'containerConcurrency',
  'timeoutSeconds',
  'responseStartTimeoutSeconds',
  'idleTimeoutSeconds',
];

describe.skipIf(!KUBECTL)('the Revision definition of the base', () => {
  const crd = () =>
    only<V1CustomResourceDefinition>(
      objectsOf('deploy/base'),
      'CustomResourceDefinition',
      'revisions.serving.knative.dev',
    );
  const schema = () => crd().spec.versions[0]!.schema!.openAPIV3Schema!;

  it("is Knative's resource: same group, names, scope and version, with status as a subresource", () => {
    const { spec } = crd();
    expect(spec.group).toBe('serving.knative.dev');
    expect(spec.scope).toBe('Namespaced');
    expect(spec.names).toMatchObject({ kind: 'Revision', plural: 'revisions', singular: 'revision' });
    expect(spec.versions.map((v) => [v.name, v.served, v.storage])).toEqual([['v1', true, true]]);
    expect(spec.versions[0]!.subresources?.status).toEqual({});
  });

  it('has a structural schema typing every field the components read, and keeps everything else', () => {
    expect(structuralProblems(schema())).toEqual([]);
    const spec = schema().properties!['spec']! as V1JSONSchemaProps & Record<string, unknown>;
    for (const field of REVISION_FIELDS_READ) {
      expect(spec.properties?.[field], field).toMatchObject({ type: 'integer', minimum: 0 });
    }
    expect(spec['x-kubernetes-preserve-unknown-fields']).toBe(true);
    expect(
      (schema().properties!['status'] as Record<string, unknown>)['x-kubernetes-preserve-unknown-fields'],
    ).toBe(true);
  });

  it('accepts a Revision as Knative writes it, and rejects out-of-range numbers', () => {
    const revision = {
      apiVersion: 'serving.knative.dev/v1',
      kind: 'Revision',
      metadata: {
        name: 'hello-00001',
        namespace: 'hello',
        annotations: { 'autoscaling.knative.dev/target': '10' },
      },
      spec: {
        containerConcurrency: 10,
        timeoutSeconds: 300,
        responseStartTimeoutSeconds: 0,
        idleTimeoutSeconds: 0,
        enableServiceLinks: false,
        containers: [
          { name: 'user-container', image: 'example.com/hello', ports: [{ containerPort: 8080 }] },
        ],
      },
      status: { conditions: [{ type: 'Ready', status: 'True' }], actualReplicas: 1 },
    };
    expect(validateAgainst(revision, schema())).toEqual([]);
    const bad = structuredClone(revision);
    bad.spec.containerConcurrency = -1;
    bad.spec.timeoutSeconds = 99_999;
    expect(validateAgainst(bad, schema())).toEqual([
      '.spec.containerConcurrency: must be at least 0',
      '.spec.timeoutSeconds: must be at most 3600',
    ]);
  });
});

/** A JSON path to every difference between two values; list items with a `name` are matched by it. */
function differences(a: unknown, b: unknown, path = ''): string[] {
  if (a === b) return [];
  if (Array.isArray(a) && Array.isArray(b)) {
    const named = (l: unknown[]) =>
      l.every((x) => typeof (x as { name?: unknown })?.name === 'string')
        ? new Map(l.map((x) => [(x as { name: string }).name, x]))
        : undefined;
    const na = named(a);
    const nb = named(b);
    if (na && nb) {
      const keys = [...new Set([...na.keys(), ...nb.keys()])];
      return keys.flatMap((k) => differences(na.get(k), nb.get(k), `${path}[${k}]`));
    }
    const n = Math.max(a.length, b.length);
    return Array.from({ length: n }, (_, i) => differences(a[i], b[i], `${path}[${i}]`)).flat();
  }
  const isObj = (v: unknown) => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (isObj(a) && isObj(b)) {
    const ra = a as Record<string, unknown>;
    const rb = b as Record<string, unknown>;
    const keys = [...new Set([...Object.keys(ra), ...Object.keys(rb)])].sort();
    return keys.flatMap((k) => differences(ra[k], rb[k], `${path}.${k}`));
  }
  return [path];
}

describe.skipIf(!KUBECTL)('the Knative component over Knative Serving’s own objects', () => {
  const fixture = () =>
    parseYamlObjects(
      readFileSync(resolve(ROOT, 'deploy/testdata/knative-serving/serving-core.yaml'), 'utf8'),
      'serving-core.yaml',
    );

  it('changes exactly the queue-proxy image and the activator image; adds and removes nothing', () => {
    const before = new Map(fixture().map((o) => [idOf(o), o]));
    const after = new Map(objectsOf('deploy/testdata/knative-serving').map((o) => [idOf(o), o]));
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    const changed = [...after].flatMap(([id, o]) => differences(before.get(id), o).map((p) => `${id} ${p}`));
    expect(changed.sort()).toEqual([
      'ConfigMap knative-serving/config-deployment .data.queue-sidecar-image',
      'Deployment knative-serving/activator .spec.template.spec.containers[activator].image',
    ]);
  });

  it('puts our images there, and leaves Knative’s autoscaler alone', () => {
    const objects = objectsOf('deploy/testdata/knative-serving');
    const config = only<{ data: Record<string, string> }>(
      objects,
      'ConfigMap',
      'config-deployment',
      'knative-serving',
    );
    expect(config.data['queue-sidecar-image']).toMatch(/^ghcr\.io\/zerogate\/queue-proxy:/);
    const container = (name: string) =>
      only<V1Deployment>(objects, 'Deployment', name, 'knative-serving').spec!.template.spec!.containers[0]!;
    expect(container('activator').image).toMatch(/^ghcr\.io\/zerogate\/activator:/);
    expect(container('autoscaler').image).toMatch(/^gcr\.io\/knative-releases\//);
  });

  it('fails to render without Knative’s objects rather than create half of them', () => {
    expect(() => render('deploy/overlays/knative')).toThrow();
  });
});

describe.skipIf(!KUBECTL)('the hello examples', () => {
  it('ship examples/hello/server.mjs unchanged', () => {
    const original = readFileSync(resolve(ROOT, 'examples/hello/server.mjs'), 'utf8');
    expect(readFileSync(resolve(ROOT, 'deploy/examples/hello/app/server.mjs'), 'utf8')).toBe(original);
    const config = only<{ data: Record<string, string> }>(
      objectsOf('deploy/examples/hello/standalone'),
      'ConfigMap',
      'hello-server',
      'hello',
    );
    expect(config.data['server.mjs']).toBe(original);
  });

  it('standalone: two revisions as `<revision>-deployment`, opted in, with the app on $PORT', () => {
    const objects = objectsOf('deploy/examples/hello/standalone');
    const revisions = select<V1Deployment>(objects, 'Deployment').map((d) => {
      const labels = d.spec!.template.metadata!.labels!;
      const revision = labels['serving.knative.dev/revision']!;
      expect(d.metadata.name).toBe(`${revision}-deployment`);
      expect(labels['zerogate.dev/inject']).toBe('enabled');
      expect(d.spec!.selector.matchLabels).toEqual({ 'serving.knative.dev/revision': revision });
      // The autoscaler owns the replica count.
      expect(d.spec!.replicas).toBeUndefined();
      const app = d.spec!.template.spec!.containers[0]!;
      const port = Number(app.env?.find((e) => e.name === 'PORT')?.value);
      expect(app.ports?.map((p) => p.containerPort)).toEqual([port]);
      return revision;
    });
    expect(revisions.sort()).toEqual(['hello-00001', 'hello-00002']);
  });

  it('standalone: the route splits 90/10 between the revisions’ public Services, naming each revision', () => {
    const objects = objectsOf('deploy/examples/hello/standalone');
    const route = only<{
      spec: {
        rules: {
          backendRefs: {
            name: string;
            port: number;
            weight: number;
            filters: { requestHeaderModifier: { set: { name: string; value: string }[] } }[];
          }[];
        }[];
      };
    }>(objects, 'HTTPRoute', 'hello', 'hello');
    expect(route.apiVersion).toBe('gateway.networking.k8s.io/v1');
    const backends = route.spec.rules.flatMap((r) => r.backendRefs);
    expect(backends.map((b) => [b.name, b.port, b.weight])).toEqual([
      ['hello-00001', 80, 90],
      ['hello-00002', 80, 10],
    ]);
    const revisions = podTemplates(objects).map((t) => t.labels['serving.knative.dev/revision']);
    for (const b of backends) {
      expect(revisions).toContain(b.name);
      const headers = b.filters.flatMap((f) => f.requestHeaderModifier.set);
      expect(headers).toEqual([
        { name: 'Knative-Serving-Revision', value: b.name },
        { name: 'Knative-Serving-Namespace', value: route.metadata.namespace },
      ]);
    }
  });

  it('Knative: step 1 makes hello-00001; step 2 makes hello-00002 and splits 90/10, the template otherwise unchanged', () => {
    type Ksvc = KubeObject & {
      spec: { template: { metadata: { name: string }; spec: unknown }; traffic: Record<string, unknown>[] };
    };
    const step = (dir: string) => only<Ksvc>(objectsOf(dir), 'Service', 'hello', 'hello');
    const first = step('deploy/examples/hello/knative/1-hello-00001');
    const second = step('deploy/examples/hello/knative/2-hello-00002');
    expect(first.apiVersion).toBe('serving.knative.dev/v1');
    expect(first.spec.template.metadata.name).toBe('hello-00001');
    expect(first.spec.traffic).toEqual([{ latestRevision: true, percent: 100 }]);
    expect(second.spec.template.metadata.name).toBe('hello-00002');
    expect(second.spec.traffic).toEqual([
      { revisionName: 'hello-00001', percent: 90 },
      { revisionName: 'hello-00002', percent: 10 },
    ]);
    expect(second.spec.template.spec).toEqual(first.spec.template.spec);
  });
});

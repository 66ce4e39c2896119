/**
 * Knative Serving's release on a one-node cluster, installed as an operator installs it: its CRDs,
 * config maps, roles and Deployments from the module `build-knative.sh` fetched (nothing of Knative's is
 * kept in this repository), with or without our Kustomize Component (deploy/overlays/knative) over it,
 * and the networking layer's stand-in, since no Knative ingress runs here.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { knativeSources } from './binaries.js';
import { KnativeIngressStandIn } from './knative-ingress.js';
import { type OneNodeCluster, REPO_ROOT } from './one-node-cluster.js';

/** Knative's system namespace. */
export const KNATIVE_NAMESPACE = 'knative-serving';

/** The two data planes: Knative's release with our component over it, and Knative's release unmodified. */
export const DATA_PLANES = {
  ours: { activator: 'ghcr.io/zerogate/activator:0.1.0', queue: 'ghcr.io/zerogate/queue-proxy:0.1.0' },
  knative: {
    activator: 'ko://knative.dev/serving/cmd/activator',
    queue: 'ko://knative.dev/serving/cmd/queue',
  },
} as const;

/** Which data plane runs under Knative's control plane. */
export type DataPlane = keyof typeof DATA_PLANES;

/** Every `.yaml` under `dir`, sorted by path, as the release concatenates them. */
function yamlFiles(dir: string): string[] {
  return readdirSync(dir)
    .map((name) => join(dir, name))
    .flatMap((path) =>
      statSync(path).isDirectory() ? yamlFiles(path) : path.endsWith('.yaml') ? [path] : [],
    )
    .sort();
}

/**
 * Writes, under `dir`, Knative Serving's release as one file (its CRDs, those of knative.dev/networking
 * and caching, then serving's core and config-network) and an operator's kustomization over it, with our
 * component for `ours`; returns the kustomization's folder.
 */
export function writeOperatorKustomization(dir: string, plane: DataPlane): string {
  const { serving, networking, caching } = knativeSources();
  const files = [
    ...yamlFiles(join(serving, 'config/core/300-resources')),
    ...['certificate', 'domain-claim', 'ingress', 'serverlessservice'].map((n) =>
      join(networking, 'config', `${n}.yaml`),
    ),
    join(caching, 'config/image.yaml'),
    ...yamlFiles(join(serving, 'config/core')).filter((f) => !f.includes('/300-resources/')),
    join(networking, 'config/config-network.yaml'),
  ];
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'serving-core.yaml'),
    files.map((f) => `---\n${readFileSync(f, 'utf8')}\n`).join(''),
  );
  writeFileSync(
    join(dir, 'kustomization.yaml'),
    plane === 'ours'
      ? `resources: [serving-core.yaml]\ncomponents: [${relative(dir, join(REPO_ROOT, 'deploy/overlays/knative'))}]\n`
      : 'resources: [serving-core.yaml]\n',
  );
  return dir;
}

/** Renders the operator's kustomization for `plane` (written under `dir`) with the built kubectl. */
export function renderRelease(cluster: OneNodeCluster, dir: string, plane: DataPlane): Promise<string> {
  return cluster.kubectl([
    'kustomize',
    '--load-restrictor=LoadRestrictionsNone',
    writeOperatorKustomization(dir, plane),
  ]);
}

/**
 * The CustomResourceDefinitions of kustomize's output (documents split on `---` lines, each with its
 * top-level `kind` at the start of a line), applied before the rest as `kubectl apply` of a release does
 * in two passes; a selector would not do, since kubectl maps every object's kind before filtering.
 */
export function customResourceDefinitions(rendered: string): string {
  return rendered
    .split(/^---\n/m)
    .filter((doc) => /^kind: CustomResourceDefinition$/m.test(doc))
    .join('---\n');
}

/** What {@link installKnativeRelease} changes from Knative's defaults besides the data plane. */
export interface ReleaseSettings {
  /** `config-autoscaler` keys, e.g. short windows so that revisions go to zero in seconds. */
  readonly autoscaler?: Readonly<Record<string, string>>;
}

/**
 * Installs Knative's release with `plane`'s data plane on `cluster`, as `kubectl apply` does it (CRDs
 * first, so that the objects of their kinds find them), and starts the networking stand-in on
 * 10.240.0.2; the caller stops the stand-in.
 */
export async function installKnativeRelease(
  cluster: OneNodeCluster,
  plane: DataPlane,
  workDir: string,
  settings: ReleaseSettings = {},
): Promise<KnativeIngressStandIn> {
  const rendered = await renderRelease(cluster, join(workDir, 'knative'), plane);
  await cluster.kubectl(['apply', '-f', '-'], { input: customResourceDefinitions(rendered) });
  await cluster.kubectl(['wait', '--for=condition=Established', 'crd', '--all', '--timeout=60s']);
  await cluster.kubectl(['apply', '-f', '-'], { input: rendered });
  // What this machine needs that a cluster with a registry does not: images are not resolved to digests
  // (there is no registry to ask).
  await patchConfigMap(cluster, 'config-deployment', {
    'registries-skipping-tag-resolving': 'index.docker.io,docker.io,ghcr.io',
  });
  if (settings.autoscaler) await patchConfigMap(cluster, 'config-autoscaler', settings.autoscaler);
  return KnativeIngressStandIn.start({
    api: cluster.plane.client('ingress', 'zerogate-ingress', ['system:masters']),
    address: '10.240.0.2',
  });
}

/** Merges `data` into one of Knative's config maps. */
function patchConfigMap(
  cluster: OneNodeCluster,
  name: string,
  data: Readonly<Record<string, string>>,
): Promise<string> {
  return cluster.kubectl([
    'patch',
    'configmap',
    name,
    '-n',
    KNATIVE_NAMESPACE,
    '--type=merge',
    '-p',
    JSON.stringify({ data }),
  ]);
}

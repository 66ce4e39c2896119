/**
 * What an image means on this node, which has no container runtime: the image's configuration (entry
 * point, working directory, environment) and which folders of this machine stand in for its filesystem.
 * Our two images are this checkout's build, mounted where the images keep it (`/app`, as the Dockerfiles
 * say); the Node.js base image is this project's Node.
 */
import { dirname } from 'node:path';

/** An image as the node runs it. */
export interface ImageConfig {
  readonly entrypoint: readonly string[];
  readonly workingDir: string;
  readonly env: Readonly<Record<string, string>>;
  /** Host folders mounted into every container of the image: host path → container path. */
  readonly mounts: readonly { readonly source: string; readonly target: string }[];
}

/** One row: images whose name matches `pattern`. */
export interface ImageRow {
  readonly pattern: RegExp;
  readonly config: ImageConfig;
}

/** An image the table has no row for (the kubelet: ErrImagePull). */
export class UnknownImageError extends Error {
  constructor(image: string) {
    super(`image ${image} is not in the node's image table`);
    this.name = 'UnknownImageError';
  }
}

/**
 * The rows for this project's images and the Node.js image, given the repository root (built) and the
 * Node.js binary to run; with `knativeBin` (the folder `build-knative.sh` fills), Knative Serving's own
 * images too (`ko://knative.dev/serving/cmd/<name>` as its config names them, or a release's
 * `gcr.io/knative-releases/knative.dev/serving/cmd/<name>`), each the static binary of that name.
 */
export function projectImages(
  repoRoot: string,
  nodeBinary = process.execPath,
  knativeBin?: string,
): ImageRow[] {
  const path = `${dirname(nodeBinary)}:/usr/local/bin:/usr/bin:/bin`;
  const ours = (main: string): ImageConfig => ({
    entrypoint: ['node', main],
    workingDir: '/app',
    env: { PATH: path, NODE_ENV: 'production' },
    mounts: [{ source: repoRoot, target: '/app' }],
  });
  return [
    { pattern: /^ghcr\.io\/zerogate\/queue-proxy(:|@|$)/, config: ours('packages/queue-proxy/dist/main.js') },
    { pattern: /^ghcr\.io\/zerogate\/activator(:|@|$)/, config: ours('packages/activator/dist/main.js') },
    {
      pattern: /^(docker\.io\/)?(library\/)?node(:|@|$)/,
      config: { entrypoint: [], workingDir: '/', env: { PATH: path }, mounts: [] },
    },
    ...(knativeBin === undefined ? [] : knativeImages(knativeBin)),
  ];
}

/** Knative Serving's component images, each its binary in `bin`. */
function knativeImages(bin: string): ImageRow[] {
  return ['activator', 'autoscaler', 'controller', 'queue', 'webhook'].map((name) => ({
    pattern: new RegExp(`^(ko://|gcr\\.io/knative-releases/)knative\\.dev/serving/cmd/${name}(:|@|$)`),
    config: {
      entrypoint: [`${bin}/${name}`],
      workingDir: '/',
      env: { PATH: '/usr/local/bin:/usr/bin:/bin', KO_DATA_PATH: '/var/run/ko' },
      mounts: [],
    },
  }));
}

/** The image's configuration; throws {@link UnknownImageError} when no row matches. */
export function lookupImage(rows: readonly ImageRow[], image: string): ImageConfig {
  const row = rows.find((r) => r.pattern.test(image));
  if (!row) throw new UnknownImageError(image);
  return row.config;
}

/** The argv a container runs: Kubernetes' command/args over the image's entry point (and its cmd, none here). */
export function containerArgv(
  image: ImageConfig,
  command: readonly string[] | undefined,
  args: readonly string[] | undefined,
): string[] {
  if (command && command.length > 0) return [...command, ...(args ?? [])];
  return [...image.entrypoint, ...(args ?? [])];
}

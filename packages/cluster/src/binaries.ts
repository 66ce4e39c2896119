/**
 * Where the Kubernetes binaries live: `build.sh` builds one pinned release (`versions.env`) from the Go
 * module proxy into a cache outside the checkout, one folder per version.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** This package's folder (the source and the build both sit one level below it). */
const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));

/** The version pins `build.sh` builds, from `versions.env`. */
export const VERSIONS: Readonly<Record<string, string>> = parseEnvFile(
  readFileSync(join(PACKAGE_DIR, 'versions.env'), 'utf8'),
);

/** The pinned Kubernetes release. */
export const KUBE_VERSION = VERSIONS['KUBE_VERSION']!;

/**
 * The cache folder, as the build scripts compute it: `ZEROGATE_CACHE`, else `$XDG_CACHE_HOME/zerogate`,
 * else `~/.cache/zerogate` (an empty variable counts as unset, as in the scripts' `${VAR:-…}`).
 */
export function cacheRoot(
  env: Readonly<Record<string, string | undefined>> = process.env,
  home: string = homedir(),
): string {
  return env['ZEROGATE_CACHE'] || join(env['XDG_CACHE_HOME'] || join(home, '.cache'), 'zerogate');
}

/** The folder of the Knative Serving binaries `build-knative.sh` builds for `version`. */
export function knativeBinDir(
  version: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
  home: string = homedir(),
): string {
  return join(cacheRoot(env, home), `knative-serving-${version}`, 'bin');
}

/** The folder of the built binaries (kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, etcd). */
export const KUBE_BIN = join(cacheRoot(), `kube-${KUBE_VERSION}`, 'bin');

/** The pinned Knative Serving release (`build-knative.sh`). */
export const KNATIVE_SERVING_VERSION = VERSIONS['KNATIVE_SERVING_VERSION']!;

/** The folder of the built Knative Serving binaries (activator, autoscaler, controller, queue, webhook). */
export const KNATIVE_BIN = knativeBinDir(KNATIVE_SERVING_VERSION);

/** Where Knative's release YAML is: the module cache folders `build-knative.sh` records. */
export interface KnativeSources {
  /** knative.dev/serving: `config/core`. */
  readonly serving: string;
  /** knative.dev/networking: `config/*.yaml` (its CRDs and config-network). */
  readonly networking: string;
  /** knative.dev/caching: `config/image.yaml`. */
  readonly caching: string;
}

/** Knative's built sources; throws saying how to build them when missing. */
export function knativeSources(): KnativeSources {
  const file = join(dirname(KNATIVE_BIN), 'config.env');
  if (!existsSync(file)) throw new Error(`${file} is missing: run \`npm run knative:build\` first`);
  const dirs = parseEnvFile(readFileSync(file, 'utf8'));
  return {
    serving: dirs['SERVING_DIR']!,
    networking: dirs['NETWORKING_DIR']!,
    caching: dirs['CACHING_DIR']!,
  };
}

/** The Jaeger release `build-jaeger.sh` builds (Jaeger v2; its Go module keeps v1.x tags). */
export const JAEGER_VERSION = VERSIONS['JAEGER_VERSION']!;

/** Where `build-jaeger.sh` leaves `jaeger`, the trace backend of the tracing tests. */
export const JAEGER_BIN = join(cacheRoot(), `jaeger-${JAEGER_VERSION}`, 'bin');

/** The programs `build.sh` leaves in {@link KUBE_BIN}. */
export const KUBE_PROGRAMS = [
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kubectl',
  'etcd',
] as const;

/** The path of a built program; throws saying how to build it when it is missing. */
export function kubeBinary(name: (typeof KUBE_PROGRAMS)[number]): string {
  const path = join(KUBE_BIN, name);
  if (!existsSync(path)) throw new Error(`${path} is missing: run \`npm run cluster:build\` first`);
  return path;
}

/** `KEY=value` lines, as `versions.env` holds them; blank lines and `#` comments ignored. */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^\s*([A-Z0-9_]+)=(.*?)\s*$/.exec(line);
    if (match) out[match[1]!] = match[2]!;
  }
  return out;
}

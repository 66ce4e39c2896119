/**
 * A Pod's volumes made real as folders of the node: emptyDir, ConfigMap, Secret, downward API and
 * projected volumes (the ServiceAccount token the apiserver issues for this Pod, `kube-root-ca.crt`,
 * the namespace), each written into `<podDir>/volumes/<name>` for its containers to mount.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fieldValue } from './container-env.js';
import type { KeyToPath, KeyValues, Pod, Volume } from './pod-spec.js';

/** What volumes read from the API. */
export interface VolumeSources {
  readonly podIp: string;
  readonly hostIp: string;
  readonly configMap: (name: string) => Promise<KeyValues | undefined>;
  readonly secret: (name: string) => Promise<KeyValues | undefined>;
  /** A token for the Pod's ServiceAccount, bound to the Pod (TokenRequest). */
  readonly serviceAccountToken: (audience: string | undefined, expirationSeconds: number) => Promise<string>;
}

/** Writes every volume of `pod` under `podDir`; resolves with volume name → folder. */
export async function materializeVolumes(
  pod: Pod,
  podDir: string,
  sources: VolumeSources,
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const volume of pod.spec.volumes ?? []) {
    const dir = join(podDir, 'volumes', volume.name);
    mkdirSync(dir, { recursive: true });
    await writeVolume(pod, volume, dir, sources);
    out.set(volume.name, dir);
  }
  return out;
}

async function writeVolume(pod: Pod, volume: Volume, dir: string, sources: VolumeSources): Promise<void> {
  if (volume.emptyDir) return;
  if (volume.configMap) {
    const ref = volume.configMap;
    writeKeys(dir, `configmap ${ref.name}`, await sources.configMap(ref.name), ref.items, ref.optional);
  } else if (volume.secret) {
    const ref = volume.secret;
    writeKeys(dir, `secret ${ref.secretName}`, await sources.secret(ref.secretName), ref.items, ref.optional);
  } else if (volume.downwardAPI) {
    writeDownward(pod, dir, volume.downwardAPI.items, sources);
  } else if (volume.projected) {
    for (const source of volume.projected.sources) {
      if (source.serviceAccountToken) {
        const { path, audience, expirationSeconds = 3600 } = source.serviceAccountToken;
        writeFile(dir, path, await sources.serviceAccountToken(audience, expirationSeconds));
      } else if (source.configMap) {
        const ref = source.configMap;
        writeKeys(dir, `configmap ${ref.name}`, await sources.configMap(ref.name), ref.items, ref.optional);
      } else if (source.secret) {
        const ref = source.secret;
        writeKeys(dir, `secret ${ref.name}`, await sources.secret(ref.name), ref.items, ref.optional);
      } else if (source.downwardAPI) {
        writeDownward(pod, dir, source.downwardAPI.items, sources);
      }
    }
  } else {
    throw new Error(
      `volume ${volume.name}: this node supports emptyDir, configMap, secret, downwardAPI and projected`,
    );
  }
}

function writeKeys(
  dir: string,
  what: string,
  values: KeyValues | undefined,
  items: readonly KeyToPath[] | undefined,
  optional: boolean | undefined,
): void {
  if (!values) {
    if (optional) return;
    throw new Error(`${what} not found`);
  }
  if (!items) {
    for (const [key, value] of values) writeFile(dir, key, value);
    return;
  }
  for (const item of items) {
    const value = values.get(item.key);
    if (value === undefined) throw new Error(`${what} has no key ${item.key}`);
    writeFile(dir, item.path, value);
  }
}

function writeDownward(
  pod: Pod,
  dir: string,
  items: readonly { path: string; fieldRef?: { fieldPath: string } }[],
  ips: { podIp: string; hostIp: string },
): void {
  for (const item of items) {
    if (item.fieldRef) writeFile(dir, item.path, fieldValue(pod, item.fieldRef.fieldPath, ips));
  }
}

function writeFile(dir: string, path: string, content: string | Buffer): void {
  const file = join(dir, path);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, content, { mode: 0o644 });
}

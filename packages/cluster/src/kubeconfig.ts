/**
 * Kubeconfig files (JSON, which every client reads as YAML) for one cluster: a user by client certificate
 * or by bearer token.
 */
import { writeFileSync } from 'node:fs';

/** How a kubeconfig's user proves who it is. */
export type Credentials =
  | { readonly clientCertificate: string; readonly clientKey: string }
  | { readonly token: string };

/** Writes a kubeconfig for `server` (trusting `caFile`) with `credentials` to `path`; returns `path`. */
export function writeKubeconfig(
  path: string,
  server: string,
  caFile: string,
  credentials: Credentials,
): string {
  const user =
    'token' in credentials
      ? { token: credentials.token }
      : { 'client-certificate': credentials.clientCertificate, 'client-key': credentials.clientKey };
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'zerogate', cluster: { server, 'certificate-authority': caFile } }],
    users: [{ name: 'user', user }],
    contexts: [{ name: 'zerogate', context: { cluster: 'zerogate', user: 'user' } }],
    'current-context': 'zerogate',
  };
  writeFileSync(path, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  return path;
}

import { hostWithoutPort, plainAddress } from '@zerogate/core';

/** A revision named by a request. */
export interface RevisionRef {
  readonly namespace: string;
  readonly name: string;
}

/**
 * Finds the revision a request is for (docs/activator.md §3.2): the `Knative-Serving-Revision` and
 * `Knative-Serving-Namespace` headers the ingress adds, else a Host of the form
 * `<rev>.<ns>.svc[.<cluster-domain>][:port]`. Returns undefined when neither names one.
 */
export function identifyRevision(
  revision: string | undefined,
  namespace: string | undefined,
  host: string | undefined,
  clusterDomain: string,
): RevisionRef | undefined {
  if (revision && namespace) return { namespace, name: revision };
  if (!host) return undefined;
  const name = plainAddress(hostWithoutPort(host)).toLowerCase();
  const parts = name.split('.');
  if (parts.length < 3 || parts[2] !== 'svc' || !parts[0] || !parts[1]) return undefined;
  const rest = parts.slice(3).join('.');
  if (rest !== '' && rest !== clusterDomain) return undefined;
  return { namespace: parts[1], name: parts[0] };
}

/**
 * Which revision a request's Host names: `<service>.<namespace>.localhost` (or `.svc`,
 * `.svc.cluster.local`) picks one of the service's revisions by traffic share, and
 * `<tag>-<service>.<namespace>.…` the tagged revision alone.
 */
import { hostWithoutPort } from '@zerogate/core';
import type { RevisionPods } from './revision-pods.js';

const SUFFIXES = ['.localhost', '.svc.cluster.local', '.svc'];

/**
 * Smooth weighted round robin (nginx's): over any run of 100 requests each revision gets exactly its
 * share, spread out rather than in blocks, so a 90/10 split is 10 % from the first hundred on.
 */
class WeightedChoice {
  private readonly current: number[];

  constructor(
    private readonly entries: readonly { readonly revision: RevisionPods; readonly weight: number }[],
  ) {
    this.current = entries.map(() => 0);
  }

  next(): RevisionPods | undefined {
    let total = 0;
    let best = -1;
    for (let i = 0; i < this.entries.length; i++) {
      const weight = this.entries[i]!.weight;
      if (weight === 0) continue;
      total += weight;
      this.current[i]! += weight;
      if (best === -1 || this.current[i]! > this.current[best]!) best = i;
    }
    if (best === -1) return undefined;
    this.current[best]! -= total;
    return this.entries[best]!.revision;
  }
}

/** The platform's routing table. */
export class Routes {
  private readonly byName = new Map<string, WeightedChoice | RevisionPods>();

  /** `services`: each service's revisions with their traffic share and tag. */
  constructor(
    services: readonly {
      readonly namespace: string;
      readonly name: string;
      readonly revisions: readonly RevisionPods[];
    }[],
  ) {
    for (const service of services) {
      const base = `${service.name}.${service.namespace}`;
      this.byName.set(
        base,
        new WeightedChoice(
          service.revisions.map((revision) => ({ revision, weight: revision.config.traffic })),
        ),
      );
      for (const revision of service.revisions) {
        if (revision.config.tag) this.byName.set(`${revision.config.tag}-${base}`, revision);
      }
    }
  }

  /** The revision for a request with this Host header, or undefined when no route matches. */
  resolve(host: string | undefined): RevisionPods | undefined {
    if (!host) return undefined;
    const key = routeKey(host);
    if (key === undefined) return undefined;
    const route = this.byName.get(key);
    return route instanceof WeightedChoice ? route.next() : route;
  }
}

/** `<name>.<namespace>` of a Host, without port and domain suffix; undefined for other hosts. */
function routeKey(host: string): string | undefined {
  let name = hostWithoutPort(host).toLowerCase();
  if (name.endsWith('.')) name = name.slice(0, -1);
  const suffix = SUFFIXES.find((s) => name.endsWith(s));
  if (suffix === undefined) return undefined;
  name = name.slice(0, -suffix.length);
  return name.split('.').length === 2 ? name : undefined;
}

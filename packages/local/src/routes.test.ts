import { describe, expect, it } from 'vitest';
import type { RevisionPods } from './revision-pods.js';
import { Routes } from './routes.js';

function revision(name: string, traffic: number, tag?: string): RevisionPods {
  return { name, config: { traffic, tag } } as unknown as RevisionPods;
}

describe('Routes', () => {
  const v1 = revision('app-00001', 90);
  const v2 = revision('app-00002', 10, 'canary');
  const routes = new Routes([{ namespace: 'default', name: 'app', revisions: [v1, v2] }]);

  it('splits by traffic share exactly over every hundred requests, interleaved', () => {
    const picks = Array.from({ length: 1000 }, () => routes.resolve('app.default.localhost'));
    expect(picks.filter((r) => r === v2).length).toBe(100);
    // Spread out, not in one block: no two canary picks within five requests of each other.
    const at = picks.flatMap((r, i) => (r === v2 ? [i] : []));
    expect(at.slice(1).every((i, k) => i - at[k]! >= 5)).toBe(true);
  });

  it('accepts .localhost, .svc and .svc.cluster.local with any port, in any case', () => {
    for (const host of [
      'app.default.svc',
      'APP.default.svc.cluster.local',
      'app.default.localhost:8080',
      'app.default.svc.',
    ]) {
      expect(routes.resolve(host)).toBeDefined();
    }
  });

  it('routes a tag to its revision alone', () => {
    for (let i = 0; i < 10; i++) expect(routes.resolve('canary-app.default.localhost:8080')).toBe(v2);
  });

  it('knows no other host', () => {
    for (const host of [
      undefined,
      '',
      'localhost',
      '127.0.0.1:8080',
      'app.other.localhost',
      'x.app.default.localhost',
      'beta-app.default.localhost',
    ]) {
      expect(routes.resolve(host)).toBeUndefined();
    }
  });
});

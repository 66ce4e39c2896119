import { describe, expect, it } from 'vitest';
import type { KnativeQueue } from '../knative-queue.js';
import {
  commandLabel,
  compareWithKnative,
  type DerivedRow,
  microsecondsPerRequest,
  parseCompares,
} from './queue-proxy.js';

describe('commandLabel', () => {
  it("is the base name of the command's first word", () => {
    expect(commandLabel('/opt/knative/queue -v')).toBe('queue');
    expect(commandLabel('  node dist/main.js')).toBe('node');
  });
});

describe('parseCompares', () => {
  const built: KnativeQueue = { version: 'v0.44.1', path: '/cache/knative-serving-v0.44.1/bin/queue' };
  const locate = () => built;
  const missing = () => {
    throw new Error('not built; run `npm run knative:build` first');
  };

  it("runs `knative` as Knative's built binary, directly, labelled knative", () => {
    const { compares, problems } = parseCompares(['knative'], [], locate);
    expect(problems).toEqual([]);
    expect(compares).toEqual([{ name: 'knative', command: built.path, argv: [built.path], knative: built }]);
  });

  it('runs any other value through sh -c, labelled by --compare-name or its first word', () => {
    const { compares, problems } = parseCompares(['/tmp/q -x', 'node other.js'], ['mine'], missing);
    expect(problems).toEqual([]);
    expect(compares.map(({ name, argv }) => [name, argv])).toEqual([
      ['mine', ['sh', '-c', '/tmp/q -x']],
      ['node', ['sh', '-c', 'node other.js']],
    ]);
  });

  it('passes on the locator’s failure, which names npm run knative:build', () => {
    const { compares, problems } = parseCompares(['knative'], [], missing);
    expect(compares).toEqual([]);
    expect(problems).toEqual(['not built; run `npm run knative:build` first']);
  });

  it('rejects two targets with one label and more names than commands', () => {
    const { problems } = parseCompares(['knative', '/opt/knative'], [], locate);
    expect(problems).toEqual([
      'two targets are labelled "knative": give each --compare its own --compare-name',
    ]);
    expect(parseCompares(['a'], ['x', 'y'], locate).problems).toContain(
      '--compare-name given more often than --compare',
    );
    expect(parseCompares(['/bin/queue-proxy'], [], locate).problems).toHaveLength(1);
  });
});

function row(kind: DerivedRow['kind'], cc: number | undefined, figures: Partial<DerivedRow>): DerivedRow {
  return {
    label: `${kind} cc${cc}`,
    kind,
    cc,
    rps: 1000,
    p50Ms: 1,
    p99Ms: 2,
    addedP50Ms: undefined,
    addedP99Ms: undefined,
    cpuSecondsPer10k: undefined,
    coreUtilisation: undefined,
    rssIdleMiB: undefined,
    rssLoadedMiB: undefined,
    rssAnonIdleMiB: undefined,
    rssAnonLoadedMiB: undefined,
    throughputVsBare: undefined,
    cpuVsBare: undefined,
    failures: 0,
    ...figures,
  };
}

describe('compareWithKnative', () => {
  it('divides ours by Knative’s at the same CC', () => {
    const rows = [
      row('direct', undefined, { rps: 5000 }),
      row('queue-proxy', 0, {
        rps: 3000,
        cpuSecondsPer10k: 0.5,
        rssLoadedMiB: 60,
        rssAnonLoadedMiB: 20,
        rssIdleMiB: 50,
      }),
      row('queue-proxy', 10, { rps: 2000, cpuSecondsPer10k: 0.6, rssLoadedMiB: 66, rssAnonLoadedMiB: 24 }),
      row('knative', 10, { rps: 4000, cpuSecondsPer10k: 0.3, rssLoadedMiB: 22, rssAnonLoadedMiB: 8 }),
      row('knative', 0, {
        rps: 2000,
        cpuSecondsPer10k: 0.25,
        rssLoadedMiB: 20,
        rssAnonLoadedMiB: 5,
        rssIdleMiB: 10,
      }),
    ];
    const [cc0, cc10] = compareWithKnative(100, rows);
    expect(cc0).toMatchObject({
      connections: 100,
      cc: 0,
      throughput: 1.5,
      cpuPerRequest: 2,
      rssLoaded: 3,
      rssAnonLoaded: 4,
      rssIdle: 5,
    });
    expect(cc0?.knative.label).toBe('knative cc0');
    expect(cc10).toMatchObject({
      cc: 10,
      throughput: 0.5,
      cpuPerRequest: 2,
      rssLoaded: 3,
      rssAnonLoaded: 3,
      rssIdle: undefined,
    });
  });

  it('leaves out our rows that have no Knative partner', () => {
    expect(compareWithKnative(1, [row('queue-proxy', 0, {}), row('knative', 10, {})])).toEqual([]);
    expect(compareWithKnative(1, [row('queue-proxy', 0, {}), row('compare', 0, {})])).toEqual([]);
  });
});

describe('microsecondsPerRequest', () => {
  it('turns CPU seconds per 10,000 requests into microseconds per request', () => {
    expect(microsecondsPerRequest(0.5)).toBeCloseTo(50);
    expect(microsecondsPerRequest(undefined)).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import type { KnativeQueue } from '../knative-queue.js';
import {
  commandLabel,
  knativeRatios,
  knativeTables,
  microsecondsPerRequest,
  parseCompares,
} from './compare.js';

const RESERVED = ['direct', 'queue-proxy'];

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
    const { compares, problems } = parseCompares(['knative'], [], locate, RESERVED);
    expect(problems).toEqual([]);
    expect(compares).toEqual([{ name: 'knative', command: built.path, argv: [built.path], knative: built }]);
  });

  it('runs any other value through sh -c, labelled by --compare-name or its first word', () => {
    const { compares, problems } = parseCompares(['/tmp/q -x', 'node other.js'], ['mine'], missing, RESERVED);
    expect(problems).toEqual([]);
    expect(compares.map(({ name, argv }) => [name, argv])).toEqual([
      ['mine', ['sh', '-c', '/tmp/q -x']],
      ['node', ['sh', '-c', 'node other.js']],
    ]);
  });

  it('passes on the locator’s failure, which names npm run knative:build', () => {
    const { compares, problems } = parseCompares(['knative'], [], missing, RESERVED);
    expect(compares).toEqual([]);
    expect(problems).toEqual(['not built; run `npm run knative:build` first']);
  });

  it('rejects two targets with one label and more names than commands', () => {
    const { problems } = parseCompares(['knative', '/opt/knative'], [], locate, RESERVED);
    expect(problems).toEqual([
      'two targets are labelled "knative": give each --compare its own --compare-name',
    ]);
    expect(parseCompares(['a'], ['x', 'y'], locate, RESERVED).problems).toContain(
      '--compare-name given more often than --compare',
    );
    expect(parseCompares(['/bin/queue-proxy'], [], locate, RESERVED).problems).toHaveLength(1);
  });
});

describe('knativeRatios', () => {
  it('divides each of our figures by Knative’s', () => {
    const ours = {
      rate: 3000,
      cpuSecondsPer10k: 0.5,
      rssLoadedMiB: 60,
      rssAnonLoadedMiB: 20,
      pssLoadedMiB: 36,
      rssIdleMiB: 50,
    };
    const knative = {
      rate: 2000,
      cpuSecondsPer10k: 0.25,
      rssLoadedMiB: 20,
      rssAnonLoadedMiB: 5,
      pssLoadedMiB: 6,
      rssIdleMiB: 10,
    };
    expect(knativeRatios(ours, knative)).toEqual({
      throughput: 1.5,
      cpuPerRequest: 2,
      rssLoaded: 3,
      rssAnonLoaded: 4,
      pssLoaded: 6,
      rssIdle: 5,
    });
  });

  it('gives no ratio where either side lacks the figure or Knative’s is zero', () => {
    const ours = {
      rate: 10,
      cpuSecondsPer10k: undefined,
      rssLoadedMiB: 60,
      rssAnonLoadedMiB: 1,
      pssLoadedMiB: 4,
      rssIdleMiB: 1,
    };
    const knative = {
      rate: 0,
      cpuSecondsPer10k: 1,
      rssLoadedMiB: 20,
      rssAnonLoadedMiB: 1,
      pssLoadedMiB: undefined,
      rssIdleMiB: undefined,
    };
    expect(knativeRatios(ours, knative)).toEqual({
      throughput: undefined,
      cpuPerRequest: undefined,
      rssLoaded: 3,
      rssAnonLoaded: 1,
      pssLoaded: undefined,
      rssIdle: undefined,
    });
  });
});

describe('microsecondsPerRequest', () => {
  it('turns CPU seconds per 10,000 requests into microseconds per request', () => {
    expect(microsecondsPerRequest(0.5)).toBeCloseTo(50);
    expect(microsecondsPerRequest(undefined)).toBeUndefined();
  });
});

describe('knativeTables', () => {
  const ours = {
    rate: 3000,
    cpuSecondsPer10k: 0.5,
    rssLoadedMiB: 60,
    rssAnonLoadedMiB: 20,
    pssLoadedMiB: 36,
    rssIdleMiB: 50,
  };
  const knative = {
    rate: 2000,
    cpuSecondsPer10k: 0.25,
    rssLoadedMiB: 20,
    rssAnonLoadedMiB: 5,
    pssLoadedMiB: 6,
    rssIdleMiB: 10,
  };

  it('prints throughput and CPU in one table, RSS, RssAnon and PSS in another', () => {
    const [cpu, memory, ...rest] = knativeTables(['connections', 'CC'], 'req', [
      { lead: ['10', '0'], ours, knative, ratios: knativeRatios(ours, knative) },
    ]);
    expect(rest).toEqual([]);
    expect(cpu?.headers).toEqual([
      'connections',
      'CC',
      'req/s ×kn',
      'CPU µs/req ours',
      'CPU µs/req kn',
      'CPU ×kn',
    ]);
    expect(cpu?.rows).toEqual([['10', '0', '1.50×', '50.0', '25.0', '2.00×']]);
    expect(memory?.headers).toEqual([
      'connections',
      'CC',
      'RSS ours',
      'RSS kn',
      'RSS ×kn',
      'RssAnon ours',
      'RssAnon kn',
      'RssAnon ×kn',
      'PSS ours',
      'PSS kn',
      'PSS ×kn',
    ]);
    expect(memory?.rows).toEqual([
      ['10', '0', '60.0', '20.0', '3.00×', '20.0', '5.0', '4.00×', '36.0', '6.0', '6.00×'],
    ]);
  });

  it('names rates and CPU per call for calls', () => {
    const [cpu] = knativeTables(['calls in flight'], 'call', []);
    expect(cpu?.headers).toEqual([
      'calls in flight',
      'calls/s ×kn',
      'CPU µs/call ours',
      'CPU µs/call kn',
      'CPU ×kn',
    ]);
  });
});

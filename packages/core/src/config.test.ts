import { describe, expect, it } from 'vitest';
import { ConfigError, type Env, EnvReader } from './config.js';

/** Runs `read` against `env` and returns the ConfigError that `finish` throws, if any. */
function problemsOf(env: Env, read: (r: EnvReader) => void): readonly string[] {
  const r = new EnvReader(env);
  read(r);
  try {
    r.finish();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  return [];
}

describe('EnvReader.required', () => {
  it('returns a present value', () => {
    const r = new EnvReader({ A: 'x' });
    expect(r.required('A')).toBe('x');
    expect(() => r.finish()).not.toThrow();
  });

  it('accepts a present but empty value, as envconfig does', () => {
    const r = new EnvReader({ A: '' });
    expect(r.required('A')).toBe('');
    expect(() => r.finish()).not.toThrow();
  });

  it('reports a missing value by name', () => {
    expect(problemsOf({}, (r) => r.required('SERVING_POD'))).toEqual([
      'SERVING_POD: is required but not set',
    ]);
  });
});

describe('EnvReader.string and raw', () => {
  it('falls back when unset or empty', () => {
    const r = new EnvReader({ A: '', B: 'b' });
    expect(r.string('A', 'dflt')).toBe('dflt');
    expect(r.string('B', 'dflt')).toBe('b');
    expect(r.string('C', 'dflt')).toBe('dflt');
    expect(r.raw('A')).toBeUndefined();
    expect(r.raw('B')).toBe('b');
  });
});

describe('EnvReader.int', () => {
  it('parses integers, signs and surrounding spaces included', () => {
    const r = new EnvReader({ A: '42', B: '-7', C: '+3', D: ' 12 ' });
    expect(r.int('A', undefined)).toBe(42);
    expect(r.int('B', undefined)).toBe(-7);
    expect(r.int('C', undefined)).toBe(3);
    expect(r.int('D', undefined)).toBe(12);
    expect(() => r.finish()).not.toThrow();
  });

  it('uses the fallback when unset or empty', () => {
    const r = new EnvReader({ A: '' });
    expect(r.int('A', 5)).toBe(5);
    expect(r.int('B', 6)).toBe(6);
    expect(() => r.finish()).not.toThrow();
  });

  it('is required when there is no fallback; empty counts as unset', () => {
    expect(
      problemsOf({ A: '' }, (r) => {
        r.int('A', undefined);
        r.int('B', undefined);
      }),
    ).toEqual(['A: is required but not set', 'B: is required but not set']);
  });

  it.each(['1.5', '1e3', 'abc', '0x10', '12abc', '--1', ' '])('rejects %j as not an integer', (value) => {
    const problems = problemsOf({ N: value }, (r) => r.int('N', 1));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^N: must be an integer/);
  });

  it('checks min and max, inclusive', () => {
    const r = new EnvReader({ LOW: '0', HIGH: '10', UNDER: '-1', OVER: '11' });
    expect(r.int('LOW', undefined, { min: 0, max: 10 })).toBe(0);
    expect(r.int('HIGH', undefined, { min: 0, max: 10 })).toBe(10);
    r.int('UNDER', undefined, { min: 0, max: 10 });
    r.int('OVER', undefined, { min: 0, max: 10 });
    expect(() => r.finish()).toThrow(ConfigError);
    expect(
      problemsOf({ UNDER: '-1', OVER: '11' }, (r2) => {
        r2.int('UNDER', undefined, { min: 0, max: 10 });
        r2.int('OVER', undefined, { min: 0, max: 10 });
      }),
    ).toEqual(['UNDER: must be at least 0, got -1', 'OVER: must be at most 10, got 11']);
  });
});

describe('EnvReader.port and listenPort', () => {
  it('accepts 1–65535 as a port and rejects 0 and 65536', () => {
    const r = new EnvReader({ A: '1', B: '65535' });
    expect(r.port('A', undefined)).toBe(1);
    expect(r.port('B', undefined)).toBe(65535);
    expect(r.port('C', 8080)).toBe(8080);
    expect(() => r.finish()).not.toThrow();
    const problems = problemsOf({ Z: '0', BIG: '65536', X: 'http' }, (r2) => {
      r2.port('Z', undefined);
      r2.port('BIG', undefined);
      r2.port('X', undefined);
    });
    expect(problems).toHaveLength(3);
    expect(problems[0]).toMatch(/^Z: /);
    expect(problems[1]).toMatch(/^BIG: /);
    expect(problems[2]).toMatch(/^X: /);
  });

  it('accepts 0 as a port to listen on, but not negative or too large ones', () => {
    const r = new EnvReader({ A: '0', B: '65535' });
    expect(r.listenPort('A', undefined)).toBe(0);
    expect(r.listenPort('B', undefined)).toBe(65535);
    expect(() => r.finish()).not.toThrow();
    expect(
      problemsOf({ NEG: '-1', BIG: '70000' }, (r2) => {
        r2.listenPort('NEG', undefined);
        r2.listenPort('BIG', undefined);
      }),
    ).toEqual(['NEG: must be at least 0, got -1', 'BIG: must be at most 65535, got 70000']);
  });
});

describe('EnvReader.bool', () => {
  it.each(['1', 't', 'T', 'true', 'TRUE', 'True'])('reads Go spelling %j as true', (v) => {
    const r = new EnvReader({ B: v });
    expect(r.bool('B', false)).toBe(true);
    expect(() => r.finish()).not.toThrow();
  });

  it.each(['0', 'f', 'F', 'false', 'FALSE', 'False'])('reads Go spelling %j as false', (v) => {
    const r = new EnvReader({ B: v });
    expect(r.bool('B', true)).toBe(false);
    expect(() => r.finish()).not.toThrow();
  });

  it('falls back when unset or empty', () => {
    const r = new EnvReader({ B: '' });
    expect(r.bool('B', true)).toBe(true);
    expect(r.bool('C', false)).toBe(false);
  });

  it.each(['maybe', '2', 'truthy', 'y'])('rejects %j, naming the variable', (v) => {
    const problems = problemsOf({ ENABLE_X: v }, (r) => expect(r.bool('ENABLE_X', true)).toBe(true));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^ENABLE_X: must be a boolean/);
    expect(problems[0]).toContain(JSON.stringify(v));
  });
});

describe('EnvReader.json', () => {
  it('parses JSON and is undefined when unset or empty', () => {
    const r = new EnvReader({ J: '{"a":[1,2]}', E: '' });
    expect(r.json('J')).toEqual({ a: [1, 2] });
    expect(r.json('E')).toBeUndefined();
    expect(r.json('U')).toBeUndefined();
    expect(() => r.finish()).not.toThrow();
  });

  it('reports malformed JSON by name', () => {
    const problems = problemsOf({ PROBE: '{nope' }, (r) => expect(r.json('PROBE')).toBeUndefined());
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^PROBE: is not valid JSON/);
  });
});

describe('EnvReader.logLevel', () => {
  it("maps zap and pino names to pino's, with a fallback when unset or empty", () => {
    const r = new EnvReader({ A: 'warning', B: 'DPANIC', C: ' debug ', E: '' });
    expect(r.logLevel('A')).toBe('warn');
    expect(r.logLevel('B')).toBe('fatal');
    expect(r.logLevel('C')).toBe('debug');
    expect(r.logLevel('E')).toBe('info');
    expect(r.logLevel('U', 'error')).toBe('error');
    expect(() => r.finish()).not.toThrow();
  });

  it('reports an unknown level by name and returns the fallback', () => {
    const problems = problemsOf({ LOG_LEVEL: 'loud' }, (r) => expect(r.logLevel('LOG_LEVEL')).toBe('info'));
    expect(problems).toEqual(['LOG_LEVEL: unknown level "loud"']);
  });
});

describe('EnvReader.durationMs', () => {
  it('reads Go durations and bare seconds, with a fallback when unset', () => {
    const r = new EnvReader({ A: '300ms', B: '2s', C: '1m30s', D: '45' });
    expect(r.durationMs('A', 1)).toBe(300);
    expect(r.durationMs('B', 1)).toBe(2000);
    expect(r.durationMs('C', 1)).toBe(90_000);
    expect(r.durationMs('D', 1)).toBe(45_000);
    expect(r.durationMs('E', 1234)).toBe(1234);
    expect(() => r.finish()).not.toThrow();
  });

  it('reports a malformed duration by name and returns the fallback', () => {
    const problems = problemsOf({ T: '10 parsecs' }, (r) => expect(r.durationMs('T', 7)).toBe(7));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^T: must be a duration/);
  });
});

describe('ConfigError', () => {
  it('collects every problem from one reader, each naming its variable', () => {
    const env: Env = { PORT: 'x', COUNT: '-1', FLAG: 'perhaps', J: '[', D: 'soon' };
    const problems = problemsOf(env, (r) => {
      r.port('PORT', undefined);
      r.int('COUNT', undefined, { min: 0 });
      r.bool('FLAG', false);
      r.json('J');
      r.durationMs('D', 0);
      r.required('MISSING');
      r.problem('CUSTOM', 'is wrong');
    });
    expect(problems.map((p) => p.split(':')[0])).toEqual([
      'PORT',
      'COUNT',
      'FLAG',
      'J',
      'D',
      'MISSING',
      'CUSTOM',
    ]);
    expect(problems.at(-1)).toBe('CUSTOM: is wrong');
  });

  it('lists each problem on its own line of the message', () => {
    const err = new ConfigError(['A: bad', 'B: worse']);
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('ConfigError');
    expect(err.message).toBe('invalid configuration:\n  A: bad\n  B: worse');
    expect(err.problems).toEqual(['A: bad', 'B: worse']);
  });

  it('is not thrown when nothing went wrong', () => {
    const r = new EnvReader({});
    r.string('A', 'a');
    r.int('B', 1);
    expect(() => r.finish()).not.toThrow();
  });
});

import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AutoscalingAnnotationError } from './autoscaler-config.js';
import { parseTrace, type ReplayLine, replayTrace, replayTraceFile, TraceError } from './trace-replay.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const PACKAGE = resolve(HERE, '..');
const ROOT = resolve(PACKAGE, '../..');
const BURST = join(HERE, 'testdata/burst.json');

const lineAt = (lines: readonly ReplayLine[], t: number): ReplayLine => {
  const line = lines.find((l) => l.t === t);
  if (line === undefined) throw new Error(`no line at ${t}s`);
  return line;
};

describe('replayTrace', () => {
  const lines = replayTraceFile(BURST);

  it('prints one line per 2 s tick over the whole trace', () => {
    expect(lines.map((l) => l.t)).toEqual(Array.from({ length: 151 }, (_, i) => i * 2));
    expect(Object.keys(lines[0] as ReplayLine)).toEqual([
      't',
      'desired',
      'ready',
      'mode',
      'panic',
      'stable',
      'panicConcurrency',
    ]);
  });

  it('starts a new revision at one Pod that becomes ready after podStartSeconds', () => {
    expect(lines.slice(0, 3)).toEqual([
      { t: 0, desired: 1, ready: 0, mode: 'Proxy', panic: false, stable: 0, panicConcurrency: 0 },
      { t: 2, desired: 1, ready: 0, mode: 'Proxy', panic: false, stable: 0, panicConcurrency: 0 },
      { t: 4, desired: 1, ready: 1, mode: 'Proxy', panic: false, stable: 0, panicConcurrency: 0 },
    ]);
  });

  it('settles at 3 Pods at 3× target, panics one tick into the 10× burst and serves once capacity covers it', () => {
    expect(lineAt(lines, 88)).toMatchObject({
      desired: 3,
      ready: 3,
      panic: false,
      stable: 210,
      panicConcurrency: 210,
    });
    expect(lineAt(lines, 90).panic).toBe(false);
    expect(lineAt(lines, 92)).toMatchObject({ panic: true, mode: 'Proxy' });
    expect(lineAt(lines, 100)).toMatchObject({
      desired: 10,
      ready: 10,
      mode: 'Serve',
      panicConcurrency: 700,
    });
  });

  it('reaches zero Pods a stable window plus the grace period after the load stops at 170 s', () => {
    const firstZero = lines.find((l) => l.desired === 0) as ReplayLine;
    expect(firstZero.t).toBe(170 + 60 + 30);
    expect(lineAt(lines, 300)).toEqual({
      t: 300,
      desired: 0,
      ready: 0,
      mode: 'Proxy',
      panic: false,
      stable: 0,
      panicConcurrency: 0,
    });
  });

  it('pokes from zero: a request after idling gets a Pod at once', () => {
    const out = replayTrace(
      parseTrace({
        podStartSeconds: 3,
        samples: [
          { t: 0, concurrency: 0 },
          { t: 101, concurrency: 5 },
          { t: 130, concurrency: 5 },
        ],
      }),
    );
    expect(lineAt(out, 100)).toMatchObject({ desired: 0, ready: 0 });
    // The poke at 101 s asked for the Pod; it is ready 3 s later.
    expect(lineAt(out, 102)).toMatchObject({ desired: 1, ready: 0, mode: 'Proxy' });
    expect(lineAt(out, 104)).toMatchObject({ desired: 1, ready: 1 });
  });

  it('rejects malformed traces, naming each problem', () => {
    expect(() => parseTrace([])).toThrow(TraceError);
    expect(() =>
      parseTrace({
        annotations: { 'autoscaling.knative.dev/target': 70 },
        containerConcurrency: -1,
        samples: [{ t: 5, concurrency: 1 }, { t: 5, concurrency: 2 }, { t: 'x' }],
      }),
    ).toThrow(
      /autoscaling\.knative\.dev\/target[\s\S]*containerConcurrency[\s\S]*samples\[1\]\.t[\s\S]*samples\[2\]/,
    );
    expect(() => parseTrace({ samples: [] })).toThrow(/"samples" must be a non-empty array/);
  });

  it('rejects invalid annotations with the annotation named', () => {
    const trace = parseTrace({
      annotations: { 'autoscaling.knative.dev/window': 'soon' },
      samples: [{ t: 0, concurrency: 0 }],
    });
    expect(() => replayTrace(trace)).toThrow(AutoscalingAnnotationError);
    expect(() => replayTrace(trace)).toThrow(/autoscaling\.knative\.dev\/window/);
  });
});

describe('replay entry point', () => {
  let dir: string;

  beforeAll(() => {
    execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-b', PACKAGE], {
      cwd: ROOT,
    });
    dir = mkdtempSync(join(tmpdir(), 'zerogate-replay-'));
  }, 60_000);

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const runReplay = (...args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
      const env = { ...process.env };
      delete env.INIT_CWD;
      execFile(
        process.execPath,
        [join(PACKAGE, 'dist/replay.js'), ...args],
        { cwd: ROOT, env },
        (err, stdout, stderr) => {
          done({ code: err === null ? 0 : ((err as { code?: number }).code ?? -1), stdout, stderr });
        },
      );
    });

  it('prints the sample trace as JSON lines', async () => {
    const { code, stdout, stderr } = await runReplay(BURST);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const printed = stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as ReplayLine);
    expect(printed).toEqual(replayTraceFile(BURST));
    expect(stdout.split('\n')[0]).toBe(
      '{"t":0,"desired":1,"ready":0,"mode":"Proxy","panic":false,"stable":0,"panicConcurrency":0}',
    );
  });

  it('exits 1 with a clear message for missing, unparsable or invalid files', async () => {
    const notJson = join(dir, 'not.json');
    writeFileSync(notJson, '{"samples": [');
    const invalid = join(dir, 'invalid.json');
    writeFileSync(invalid, JSON.stringify({ podStartSeconds: -1, samples: [{ t: 0, concurrency: 1 }] }));
    const badAnnotation = join(dir, 'annotation.json');
    writeFileSync(
      badAnnotation,
      JSON.stringify({
        annotations: { 'autoscaling.knative.dev/min-scale': '-3' },
        samples: [{ t: 0, concurrency: 1 }],
      }),
    );
    const cases: [string[], RegExp][] = [
      [[], /usage: replay <trace\.json>/],
      [[join(dir, 'missing.json')], /cannot read trace .*missing\.json/],
      [[notJson], /is not valid JSON/],
      [[invalid], /"podStartSeconds" must be a non-negative number/],
      [[badAnnotation], /autoscaling\.knative\.dev\/min-scale="-3"/],
    ];
    for (const [args, message] of cases) {
      const { code, stdout, stderr } = await runReplay(...args);
      expect(code).toBe(1);
      expect(stdout).toBe('');
      expect(stderr).toMatch(message);
    }
  });

  it('ships a sample trace that is valid JSON', () => {
    expect(() => parseTrace(JSON.parse(readFileSync(BURST, 'utf8')))).not.toThrow();
  });
});

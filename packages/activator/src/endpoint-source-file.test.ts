import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '@zerogate/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { EndpointListener, RevisionInfo } from './endpoint-source.js';
import { EndpointsFileError, FileEndpointSource, parseEndpointsDocument } from './endpoint-source-file.js';

/** How soon a rewrite must be seen: well under the 1 s poll, so the folder watch is what found it. */
const PICKUP_MS = 300;

function parseError(text: string): EndpointsFileError {
  try {
    parseEndpointsDocument(text);
  } catch (err) {
    expect(err).toBeInstanceOf(EndpointsFileError);
    return err as EndpointsFileError;
  }
  throw new Error(`expected ${text} to be rejected`);
}

function doc(...revisions: unknown[]): string {
  return JSON.stringify({ revisions });
}

describe('parseEndpointsDocument', () => {
  it('reads a full revision, splitting endpoints by readiness', () => {
    const text = doc({
      namespace: 'default',
      name: 'hello-00001',
      containerConcurrency: 10,
      timeoutSeconds: 60,
      responseStartTimeoutSeconds: 5,
      idleTimeoutSeconds: 30,
      endpoints: [
        { address: '10.0.0.1:8012', ready: true },
        { address: '10.0.0.2:8012', ready: false },
        { address: '[fd00::3]:8012', ready: true },
        { address: 'pod-4.local:8013' },
      ],
      activators: ['10.1.0.1', '10.1.0.2'],
    });
    expect(parseEndpointsDocument(text)).toEqual([
      {
        namespace: 'default',
        name: 'hello-00001',
        containerConcurrency: 10,
        timeoutSeconds: 60,
        responseStartTimeoutSeconds: 5,
        idleTimeoutSeconds: 30,
        ready: ['10.0.0.1:8012', '[fd00::3]:8012'],
        notReady: ['10.0.0.2:8012', 'pod-4.local:8013'],
        activators: ['10.1.0.1', '10.1.0.2'],
      },
    ]);
  });

  it('defaults what a Revision without it would have', () => {
    expect(parseEndpointsDocument(doc({ namespace: 'ns', name: 'r', endpoints: [] }))).toEqual([
      {
        namespace: 'ns',
        name: 'r',
        containerConcurrency: 0,
        timeoutSeconds: 300,
        responseStartTimeoutSeconds: 0,
        idleTimeoutSeconds: 0,
        ready: [],
        notReady: [],
        activators: [],
      },
    ]);
  });

  it('treats only ready: true as ready', () => {
    const [info] = parseEndpointsDocument(
      doc({
        namespace: 'ns',
        name: 'r',
        endpoints: [
          { address: '10.0.0.1:1', ready: 'true' },
          { address: '10.0.0.2:1', ready: 1 },
        ],
      }),
    );
    expect(info!.ready).toEqual([]);
    expect(info!.notReady).toEqual(['10.0.0.1:1', '10.0.0.2:1']);
  });

  it('accepts an empty list of revisions', () => {
    expect(parseEndpointsDocument('{"revisions":[]}')).toEqual([]);
  });

  it('rejects text that is not JSON', () => {
    const err = parseError('{"revisions": [');
    expect(err.name).toBe('EndpointsFileError');
    expect(err.message).toMatch(/^not valid JSON: /);
  });

  it.each([
    ['{}'],
    ['null'],
    ['[]'],
    ['{"revisions":{}}'],
    ['{"revisions":"r"}'],
  ])('rejects %s: revisions is not an array', (text) => {
    expect(parseError(text).message).toBe('"revisions" must be an array');
  });

  it('rejects a revision that is not an object', () => {
    expect(parseError('{"revisions":[{"namespace":"a","name":"b"},3]}').message).toBe(
      'revisions[1] must be an object',
    );
    expect(parseError('{"revisions":[null]}').message).toBe('revisions[0] must be an object');
  });

  it.each([
    [{ namespace: 'ns' }, 'revisions[0].name must be a non-empty string'],
    [{ namespace: 'ns', name: '' }, 'revisions[0].name must be a non-empty string'],
    [{ namespace: 'ns', name: 7 }, 'revisions[0].name must be a non-empty string'],
    [{ name: 'r' }, 'revisions[0].namespace must be a non-empty string'],
  ])('rejects a missing or empty name: %j', (revision, message) => {
    expect(parseError(doc(revision)).message).toBe(message);
  });

  it.each([
    ['10.0.0.1'],
    ['10.0.0.1:'],
    [':8012'],
    ['10.0.0.1:port'],
    ['10.0.0.1:123456'],
    ['10.0.0 .1:8012'],
    ['fd00::1:8012'],
    [''],
  ])('rejects the address %j, naming the endpoint', (address) => {
    const text = doc({
      namespace: 'ns',
      name: 'r',
      endpoints: [{ address: '10.0.0.9:8012', ready: true }, { address }],
    });
    expect(parseError(text).message).toBe('revisions[0].endpoints[1].address must be "host:port"');
  });

  it('rejects a port past 65535', () => {
    const text = doc({ namespace: 'ns', name: 'r', endpoints: [{ address: '10.0.0.1:70000', ready: true }] });
    expect(parseError(text).message).toBe('revisions[0].endpoints[0].address must be "host:port"');
  });

  it.each([
    [null],
    [7],
    ['10.0.0.1:8012'],
    [{ ready: true }],
    [{ address: 8012 }],
  ])('rejects the endpoint %j', (endpoint) => {
    const text = doc({ namespace: 'ns', name: 'r', endpoints: [endpoint] });
    expect(parseError(text).message).toBe('revisions[0].endpoints[0].address must be "host:port"');
  });

  it('rejects endpoints that are not an array', () => {
    const text = doc({ namespace: 'ns', name: 'r', endpoints: { address: '10.0.0.1:8012' } });
    expect(parseError(text).message).toBe('revisions[0].endpoints must be an array');
  });

  it.each([
    ['containerConcurrency', -1],
    ['containerConcurrency', 1.5],
    ['containerConcurrency', '3'],
    ['timeoutSeconds', -5],
    ['responseStartTimeoutSeconds', true],
    ['idleTimeoutSeconds', -0.5],
  ])('rejects %s = %j', (field, value) => {
    const text = doc(
      { namespace: 'ns', name: 'ok', endpoints: [] },
      { namespace: 'ns', name: 'r', endpoints: [], [field]: value },
    );
    expect(parseError(text).message).toBe(`revisions[1].${field} must be a non-negative integer`);
  });

  it('passes on the zerogate.dev/ annotations only', () => {
    const text = doc({
      namespace: 'ns',
      name: 'r',
      annotations: { 'zerogate.dev/slow-start': '2s', 'autoscaling.knative.dev/target': '10' },
    });
    expect(parseEndpointsDocument(text)[0]?.annotations).toEqual({ 'zerogate.dev/slow-start': '2s' });
    expect(parseEndpointsDocument(doc({ namespace: 'ns', name: 'r' }))[0]?.annotations).toBeUndefined();
  });

  it.each([[['a']], ['x'], [{ 'zerogate.dev/slow-start': 2 }]])('rejects annotations = %j', (value) => {
    const text = doc({ namespace: 'ns', name: 'r', annotations: value });
    expect(parseError(text).message).toBe('revisions[0].annotations must be an object of strings');
  });

  it('reads a failing revision’s reason, and no reason as not failing (docs/activator.md §10.1)', () => {
    const text = doc(
      { namespace: 'ns', name: 'r', failing: 'app exited with code 1 (3 times)' },
      { namespace: 'ns', name: 'ok', failing: '' },
      { namespace: 'ns', name: 'plain' },
    );
    expect(parseEndpointsDocument(text).map((r) => r.failing)).toEqual([
      'app exited with code 1 (3 times)',
      undefined,
      undefined,
    ]);
    expect(parseError(doc({ namespace: 'ns', name: 'r', failing: 1 })).message).toBe(
      'revisions[0].failing must be a string',
    );
  });

  it('rejects the same revision twice', () => {
    const text = doc(
      { namespace: 'ns', name: 'r', endpoints: [] },
      { namespace: 'other', name: 'r', endpoints: [] },
      { namespace: 'ns', name: 'r', endpoints: [] },
    );
    expect(parseError(text).message).toBe('revisions[2]: ns/r appears twice');
  });

  it.each([['10.1.0.1'], [[1]], [['10.1.0.1', null]], [{}]])('rejects activators %j', (activators) => {
    const text = doc({ namespace: 'ns', name: 'r', endpoints: [], activators });
    expect(parseError(text).message).toBe('revisions[0].activators must be an array of addresses');
  });
});

/** A logger of pino's shape that keeps what was logged at each level. */
function fakeLogger(): { logger: Logger; calls: Record<'error' | 'warn' | 'info', unknown[][]> } {
  const calls = { error: [] as unknown[][], warn: [] as unknown[][], info: [] as unknown[][] };
  const logger = {
    error: (...args: unknown[]) => calls.error.push(args),
    warn: (...args: unknown[]) => calls.warn.push(args),
    info: (...args: unknown[]) => calls.info.push(args),
    debug: () => {},
    trace: () => {},
    fatal: (...args: unknown[]) => calls.error.push(args),
  } as unknown as Logger;
  return { logger, calls };
}

/** Records what a source delivers. */
class RecordingListener implements EndpointListener {
  readonly upserts: RevisionInfo[] = [];
  readonly removes: string[] = [];

  upsert(info: RevisionInfo): void {
    this.upserts.push(info);
  }

  remove(namespace: string, name: string): void {
    this.removes.push(`${namespace}/${name}`);
  }
}

function revision(name: string, containerConcurrency = 0, ready: string[] = ['10.0.0.1:8012']) {
  return {
    namespace: 'default',
    name,
    containerConcurrency,
    endpoints: ready.map((address) => ({ address, ready: true })),
  };
}

/** Waits for two event-loop turns so closed handles leave the active list. */
async function turns(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
}

function activeCount(kind: string): number {
  return process.getActiveResourcesInfo().filter((r) => r === kind).length;
}

describe('FileEndpointSource', () => {
  let dir: string;
  let path: string;
  let source: FileEndpointSource | undefined;
  let listener: RecordingListener;
  let log: ReturnType<typeof fakeLogger>;
  let counter = 0;

  /** Replaces the file as tools that write atomically do: a sibling temp file renamed over it. */
  async function writeAtomically(text: string): Promise<void> {
    const tmp = join(dir, `.endpoints.json.${counter++}.tmp`);
    await writeFile(tmp, text);
    await rename(tmp, path);
  }

  async function start(): Promise<FileEndpointSource> {
    source = new FileEndpointSource(path, log.logger);
    await source.start(listener);
    return source;
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zerogate-endpoints-'));
    path = join(dir, 'endpoints.json');
    listener = new RecordingListener();
    log = fakeLogger();
  });

  afterEach(async () => {
    await source?.stop();
    source = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it('delivers the initial state before start() resolves', async () => {
    await writeFile(path, doc(revision('a', 1), revision('b', 2)));
    await start();
    expect(listener.upserts.map((i) => [i.name, i.containerConcurrency])).toEqual([
      ['a', 1],
      ['b', 2],
    ]);
    expect(listener.removes).toEqual([]);
    expect(log.calls.error).toEqual([]);
    expect(log.calls.warn).toEqual([]);
  });

  it('picks up an atomic rewrite (temp file + rename) promptly', async () => {
    await writeFile(path, doc(revision('a', 1)));
    await start();
    await writeAtomically(doc(revision('a', 5)));
    await vi.waitFor(() => expect(listener.upserts).toHaveLength(2), { timeout: PICKUP_MS, interval: 5 });
    expect(listener.upserts[1]!.containerConcurrency).toBe(5);
    expect(log.calls.error).toEqual([]);
  });

  it('picks up an in-place rewrite promptly', async () => {
    await writeFile(path, doc(revision('a', 1)));
    await start();
    await writeFile(path, doc(revision('a', 1, ['10.0.0.1:8012', '10.0.0.2:8012'])));
    await vi.waitFor(() => expect(listener.upserts).toHaveLength(2), { timeout: PICKUP_MS, interval: 5 });
    expect(listener.upserts[1]!.ready).toEqual(['10.0.0.1:8012', '10.0.0.2:8012']);
  });

  it('logs a malformed rewrite with the reason and keeps the last good state', async () => {
    await writeFile(path, doc(revision('a', 1)));
    await start();
    await writeAtomically(doc({ namespace: 'default', name: 'a', containerConcurrency: -1 }));
    await vi.waitFor(() => expect(log.calls.error).toHaveLength(1), { timeout: PICKUP_MS, interval: 5 });
    const [fields, message] = log.calls.error[0] as [{ err: unknown; path: string }, string];
    expect(fields.path).toBe(path);
    expect(fields.err).toBeInstanceOf(EndpointsFileError);
    expect(message).toContain('malformed endpoints file');
    expect(message).toContain('revisions[0].containerConcurrency must be a non-negative integer');
    expect(listener.upserts).toHaveLength(1);
    expect(listener.removes).toEqual([]);

    // Then a good document applies against the last good state.
    await writeAtomically(doc(revision('a', 1), revision('b', 1)));
    await vi.waitFor(() => expect(listener.upserts).toHaveLength(2), { timeout: PICKUP_MS, interval: 5 });
    expect(listener.upserts[1]!.name).toBe('b');
    expect(listener.removes).toEqual([]);
  });

  it('logs a rewrite that is not JSON and delivers nothing', async () => {
    await writeFile(path, doc(revision('a', 1)));
    await start();
    await writeAtomically('{"revisions": [');
    await vi.waitFor(() => expect(log.calls.error).toHaveLength(1), { timeout: PICKUP_MS, interval: 5 });
    expect(log.calls.error[0]![1]).toContain('not valid JSON');
    expect(listener.upserts).toHaveLength(1);
    expect(listener.removes).toEqual([]);
  });

  it('removes a revision that is no longer in the file', async () => {
    await writeFile(path, doc(revision('a'), revision('b')));
    await start();
    await writeAtomically(doc(revision('b')));
    await vi.waitFor(() => expect(listener.removes).toEqual(['default/a']), {
      timeout: PICKUP_MS,
      interval: 5,
    });
    expect(listener.upserts).toHaveLength(2);
  });

  it('delivers only the revisions that changed', async () => {
    await writeFile(path, doc(revision('a', 1), revision('b', 1), revision('c', 1)));
    await start();
    await writeAtomically(doc(revision('a', 1), revision('b', 4), revision('c', 1), revision('d', 1)));
    await vi.waitFor(() => expect(listener.upserts).toHaveLength(5), { timeout: PICKUP_MS, interval: 5 });
    expect(listener.upserts.slice(3).map((i) => i.name)).toEqual(['b', 'd']);
    // Rewriting the same content (even through a rename) delivers nothing.
    await writeAtomically(doc(revision('a', 1), revision('b', 4), revision('c', 1), revision('d', 1)));
    // A later change is delivered alone: the rewrite before it delivered nothing, whether it was read
    // on its own or together with the change.
    await writeAtomically(
      doc(revision('a', 1), revision('b', 4), revision('c', 1), revision('d', 1), revision('e', 1)),
    );
    await vi.waitFor(() => expect(listener.upserts).toHaveLength(6), { timeout: PICKUP_MS, interval: 5 });
    expect(listener.upserts.slice(5).map((i) => i.name)).toEqual(['e']);
    expect(listener.removes).toEqual([]);
  });

  it('starts on a missing file with a warning and picks the file up once it appears', async () => {
    await start();
    expect(listener.upserts).toEqual([]);
    expect(log.calls.warn).toHaveLength(1);
    await writeAtomically(doc(revision('a')));
    await vi.waitFor(() => expect(listener.upserts).toHaveLength(1), { timeout: PICKUP_MS, interval: 5 });
  });

  it('closes its watcher and timer on stop() and delivers nothing afterwards', async () => {
    await writeFile(path, doc(revision('a')));
    await turns();
    const watchers = activeCount('FSEventWrap');
    const timers = activeCount('Timeout');
    const running = await start();
    expect(activeCount('FSEventWrap')).toBe(watchers + 1);
    expect(activeCount('Timeout')).toBe(timers + 1);
    await running.stop();
    source = undefined;
    await turns();
    expect(activeCount('FSEventWrap')).toBe(watchers);
    expect(activeCount('Timeout')).toBe(timers);
    // A source still running picks the change up through its own watcher; by then the stopped one has
    // delivered nothing.
    const live = new RecordingListener();
    const other = new FileEndpointSource(path, log.logger);
    try {
      await other.start(live);
      await writeAtomically(doc(revision('a', 3)));
      await vi.waitFor(() => expect(live.upserts.at(-1)?.containerConcurrency).toBe(3), {
        timeout: PICKUP_MS,
        interval: 5,
      });
    } finally {
      await other.stop();
    }
    expect(listener.upserts).toHaveLength(1);
  });
});

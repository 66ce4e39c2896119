import { afterEach, describe, expect, it, vi } from 'vitest';
import { BatchExporter } from './batch-exporter.js';
import { SPAN_INTERNAL, Span } from './span.js';

const logger = { warn: vi.fn(), info: vi.fn(), debug: vi.fn(), error: vi.fn() } as never;

function span(i: number): Span {
  return new Span(`s${i}`, SPAN_INTERNAL, 'a'.repeat(32), i.toString(16).padStart(16, '0'), '', 0, {}, false);
}

describe('BatchExporter', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('sends what waits every interval, in batches of at most maxBatch', async () => {
    vi.useFakeTimers();
    const batches: number[] = [];
    const e = new BatchExporter(
      async (spans) => {
        batches.push(spans.length);
      },
      logger,
      { intervalMs: 1000, maxBatch: 10 },
    );
    for (let i = 0; i < 3; i++) e.push(span(i));
    expect(batches).toEqual([]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(batches).toEqual([3]);
    for (let i = 0; i < 25; i++) e.push(span(i));
    await vi.advanceTimersByTimeAsync(0);
    // Full batches leave at once, the rest at the next tick.
    expect(batches).toEqual([3, 10, 10]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(batches).toEqual([3, 10, 10, 5]);
    expect(e.exported).toBe(28);
    await e.shutdown();
  });

  it('drops and counts spans past the queue bound while the backend is slow, never blocking push', async () => {
    vi.useFakeTimers();
    let release: () => void = () => {};
    const sent: number[] = [];
    const e = new BatchExporter(
      (spans) => {
        sent.push(spans.length);
        return new Promise<void>((resolve) => {
          release = resolve;
        });
      },
      logger,
      { intervalMs: 1000, maxBatch: 4, maxQueue: 6 },
    );
    for (let i = 0; i < 4; i++) e.push(span(i)); // a full batch: sent, and the backend hangs
    for (let i = 0; i < 10; i++) e.push(span(i));
    expect(sent).toEqual([4]);
    expect(e.queued).toBe(6);
    expect(e.dropped).toBe(4);
    release();
    await vi.advanceTimersByTimeAsync(0);
    expect(sent).toEqual([4, 4]);
    release();
    await vi.advanceTimersByTimeAsync(1000);
    release();
    await e.shutdown();
    expect(e.exported).toBe(10);
  });

  it('counts the spans of a failed export as dropped and logs it', async () => {
    const warn = vi.fn();
    const e = new BatchExporter(async () => Promise.reject(new Error('down')), { warn } as never, {
      intervalMs: 60_000,
    });
    e.push(span(1));
    e.push(span(2));
    await e.flush();
    expect(e.dropped).toBe(2);
    expect(warn).toHaveBeenCalledWith(
      expect.objectContaining({ spans: 2 }),
      'trace export failed; spans dropped',
    );
    await e.shutdown();
  });

  it('sends everything left on shutdown', async () => {
    const got: string[] = [];
    const e = new BatchExporter(
      async (spans) => {
        for (const s of spans) got.push(s.name);
      },
      logger,
      { intervalMs: 60_000, maxBatch: 2 },
    );
    for (let i = 0; i < 5; i++) e.push(span(i));
    await e.shutdown();
    expect(got).toEqual(['s0', 's1', 's2', 's3', 's4']);
  });

  it('gives up on a hung backend at the shutdown timeout, counting what was left', async () => {
    const e = new BatchExporter(() => new Promise<void>(() => {}), logger, {
      intervalMs: 60_000,
      shutdownTimeoutMs: 50,
    });
    e.push(span(1));
    void e.flush();
    e.push(span(2));
    await e.shutdown();
    expect(e.dropped).toBe(1);
  });
});

import { describe, expect, it } from 'vitest';
import { ChangeBatcher } from './change-batcher.js';

describe('ChangeBatcher', () => {
  it('holds marks until resumed, then delivers each marked key once per turn', async () => {
    const delivered: string[] = [];
    const batcher = new ChangeBatcher((key) => delivered.push(key));
    batcher.mark('a');
    batcher.mark('b');
    batcher.mark('a');
    await Promise.resolve();
    expect(delivered).toEqual([]);
    batcher.resume();
    expect(delivered).toEqual(['a', 'b']);
    batcher.mark('c');
    batcher.mark('c');
    expect(delivered).toEqual(['a', 'b']);
    await Promise.resolve();
    expect(delivered).toEqual(['a', 'b', 'c']);
  });

  it('keeps marks made while paused for the next resume', async () => {
    const delivered: string[] = [];
    const batcher = new ChangeBatcher((key) => delivered.push(key));
    batcher.resume();
    batcher.pause();
    batcher.mark('x');
    await Promise.resolve();
    expect(delivered).toEqual([]);
    expect(batcher.live).toBe(false);
    batcher.resume();
    expect(delivered).toEqual(['x']);
  });
});

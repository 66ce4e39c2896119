import { describe, expect, it } from 'vitest';
import { linkAbort } from './link-abort.js';

describe('linkAbort', () => {
  it('aborts the child with the reason of the parent', () => {
    const parent = new AbortController();
    const child = new AbortController();
    linkAbort(parent.signal, child);
    const reason = new Error('gone');
    parent.abort(reason);
    expect(child.signal.aborted).toBe(true);
    expect(child.signal.reason).toBe(reason);
  });

  it('aborts the child at once when the parent already has', () => {
    const child = new AbortController();
    linkAbort(AbortSignal.abort('early'), child);
    expect(child.signal.reason).toBe('early');
  });

  it('leaves the child alone once unlinked', () => {
    const parent = new AbortController();
    const child = new AbortController();
    linkAbort(parent.signal, child)();
    parent.abort();
    expect(child.signal.aborted).toBe(false);
  });
});

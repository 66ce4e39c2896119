import { describe, expect, it } from 'vitest';
import { settleExchange } from './settle-exchange.js';

describe('settleExchange', () => {
  it('resolves with the first outcome only and disposes once', async () => {
    let disposed = 0;
    let settle: ((v: number) => void) | undefined;
    let fail: ((err: unknown) => void) | undefined;
    const result = settleExchange<number>(new AbortController().signal, (resolve, reject) => {
      settle = resolve;
      fail = reject;
      return { dispose: () => disposed++ };
    });
    settle!(1);
    fail!(new Error('late'));
    settle!(2);
    expect(await result).toBe(1);
    expect(disposed).toBe(1);
  });

  it('rejects with the reason of an abort, unless a result can be salvaged', async () => {
    const reason = new Error('timed out');
    const ac = new AbortController();
    let disposed = 0;
    const lost = settleExchange<number>(ac.signal, () => ({ dispose: () => disposed++ }));
    const saved = settleExchange<number>(ac.signal, () => ({
      dispose: () => disposed++,
      salvage: () => 204,
    }));
    ac.abort(reason);
    await expect(lost).rejects.toBe(reason);
    expect(await saved).toBe(204);
    expect(disposed).toBe(2);
  });

  it('disposes an exchange that settled while opening, and one whose opening threw', async () => {
    let disposed = 0;
    const early = settleExchange<string>(new AbortController().signal, (resolve) => {
      resolve('at once');
      return { dispose: () => disposed++ };
    });
    expect(await early).toBe('at once');
    expect(disposed).toBe(1);
    const thrown = new Error('cannot open');
    await expect(
      settleExchange<void>(new AbortController().signal, () => {
        throw thrown;
      }),
    ).rejects.toBe(thrown);
  });

  it('never opens when the signal has already aborted', async () => {
    let opened = false;
    const result = settleExchange<void>(AbortSignal.abort(new Error('closed')), () => {
      opened = true;
      return { dispose: () => {} };
    });
    await expect(result).rejects.toThrow('closed');
    expect(opened).toBe(false);
  });

  it('rejects a reason-less failure with an error that says the probe failed', async () => {
    const result = settleExchange<void>(new AbortController().signal, (_resolve, reject) => {
      reject(undefined);
      return { dispose: () => {} };
    });
    await expect(result).rejects.toThrow('probe failed');
  });
});

/** How an exchange opened by {@link settleExchange} is torn down, and what it can still give on abort. */
export interface ExchangeHandle<T> {
  /** Releases every resource of the exchange (sockets, sessions); called exactly once. */
  dispose(): void;
  /** A result good enough to return when the signal aborts first, or undefined to fail. */
  salvage?(): T | undefined;
}

/**
 * Settles a callback-style exchange exactly once and always disposes its resources. `open` starts the
 * exchange and returns how to dispose it and, optionally, a result to salvage when `signal` aborts.
 * Every transport of the probe goes through it, so no socket outlives its attempt.
 */
export function settleExchange<T>(
  signal: AbortSignal,
  open: (resolve: (value: T) => void, reject: (err: unknown) => void) => ExchangeHandle<T>,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    let settled = false;
    let handle: ExchangeHandle<T> | undefined;
    const finish = (err: unknown, value?: T): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      handle?.dispose();
      if (err === undefined) resolve(value as T);
      else reject(err);
    };
    const onAbort = (): void => {
      const salvaged = handle?.salvage?.();
      if (salvaged === undefined) finish(signal.reason);
      else finish(undefined, salvaged);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      handle = open(
        (value) => finish(undefined, value),
        (err) => finish(err ?? new Error('probe failed')),
      );
    } catch (err) {
      finish(err);
    }
    // `open` may have settled before `handle` was assigned.
    if (settled) handle?.dispose();
  });
}

/**
 * The activator's process-wide caps on held requests (docs/activator.md §3.9): how many it holds and how
 * many request-body bytes they may keep in memory, across every revision. The caps are shared max-min
 * fairly: while they are reached, a revision holding less than its fair share (the cap ÷ the revisions
 * holding) takes the place of the newest held request of the revision furthest over its share, which is
 * refused; a revision at or over its share is refused itself. So a flood on one revision at zero never
 * turns away another revision's first requests.
 */

/** One holder of the pool: a revision's held requests. */
export interface PoolAccount {
  /** Requests it holds now. */
  count: number;
  /** Body bytes its held requests reserved. */
  bytes: number;
  /** Refuses its newest held request, giving back that request's share; false when it holds none it may refuse. */
  evictNewest(): boolean;
}

/**
 * Max-min fairness by push-out: of `holders`, the one whose `usage` is furthest over the fair share
 * (`cap` ÷ `holderCount`), provided `requester`, after adding `need`, stays within that share; undefined
 * when the requester is at or over its share or nobody is over theirs.
 */
export function pushOutVictim<T>(
  holders: Iterable<T>,
  requester: T,
  usage: (holder: T) => number,
  cap: number,
  need: number,
  holderCount: number,
): T | undefined {
  const share = cap / holderCount;
  if (usage(requester) + need > share) return undefined;
  let victim: T | undefined;
  let most = share;
  for (const holder of holders) {
    if (holder === requester) continue;
    const used = usage(holder);
    if (used > most) {
      victim = holder;
      most = used;
    }
  }
  return victim;
}

const byCount = (a: PoolAccount): number => a.count;
const byBytes = (a: PoolAccount): number => a.bytes;

/** The held-request caps every revision's throttler draws from. */
export class HoldPool {
  private count = 0;
  private bytes = 0;
  /** Accounts holding at least one request. */
  private readonly holding = new Set<PoolAccount>();

  constructor(
    /** Requests held at once, all revisions together. */
    readonly maxCount: number,
    /** Request-body bytes held at once, all revisions together. */
    readonly maxBytes: number,
  ) {}

  /** Requests held now. */
  get held(): number {
    return this.count;
  }

  /** Body bytes reserved now. */
  get bytesInUse(): number {
    return this.bytes;
  }

  /**
   * Reserves one request and its `bytes` for `account`, pushing out others' newest held requests when the
   * caps are reached and `account` is under its fair share; false (nothing reserved) when it may not.
   */
  reserve(account: PoolAccount, bytes: number): boolean {
    if (!this.fits(bytes) && !this.pushOut(account, bytes)) return false;
    account.count++;
    account.bytes += bytes;
    this.count++;
    this.bytes += bytes;
    this.holding.add(account);
    return true;
  }

  /** Gives back what {@link reserve} took for one request. */
  release(account: PoolAccount, bytes: number): void {
    account.count--;
    account.bytes -= bytes;
    this.count--;
    this.bytes -= bytes;
    if (account.count <= 0) this.holding.delete(account);
  }

  private fits(bytes: number): boolean {
    return this.count < this.maxCount && this.bytes + bytes <= this.maxBytes;
  }

  private pushOut(account: PoolAccount, bytes: number): boolean {
    const holders = this.holding.size + (this.holding.has(account) ? 0 : 1);
    while (!this.fits(bytes)) {
      const victim =
        this.count >= this.maxCount
          ? pushOutVictim(this.holding, account, byCount, this.maxCount, 1, holders)
          : pushOutVictim(this.holding, account, byBytes, this.maxBytes, bytes, holders);
      if (!victim?.evictNewest()) return false;
    }
    return true;
  }
}

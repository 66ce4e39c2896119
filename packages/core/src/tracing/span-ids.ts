import { nodeCrypto } from '../node-builtins.js';

/** Random bytes drawn at once and handed out in pieces, so a sampled request costs no system call. */
const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let offset = POOL_BYTES;

function take(n: number): string {
  if (offset + n > pool.length) {
    if (pool.length === 0) pool = Buffer.allocUnsafe(POOL_BYTES);
    nodeCrypto().randomFillSync(pool);
    offset = 0;
  }
  const hex = pool.toString('hex', offset, offset + n);
  offset += n;
  return hex;
}

/** A new random trace id: 32 lower-case hex digits, never all zeros. */
export function newTraceId(): string {
  const id = take(16);
  return id === '0'.repeat(32) ? newTraceId() : id;
}

/** A new random span id: 16 lower-case hex digits, never all zeros. */
export function newSpanId(): string {
  const id = take(8);
  return id === '0'.repeat(16) ? newSpanId() : id;
}

/**
 * The Node flags the activator runs with, wherever it is launched (its image's entry point, the
 * one-machine platform, the benchmarks): V8's young generation capped at 1 MiB per semi-space. Without
 * the cap it grows to 128 MiB under a burst of arrivals, and the process keeps the pages: an activator that
 * took 10,000 requests at zero held ~30 MiB more resident memory, all of it empty young generation; idle
 * it saves ~5 MiB. What a held request keeps lives long and goes to the old generation
 * anyway, and a proxy's per-request garbage dies young and small, so scavenges stay cheap
 * (docs/activator.md §9, bench/RESULTS.md). Hot functions are optimized on the main thread.
 */
export const ACTIVATOR_NODE_FLAGS: readonly string[] = Object.freeze([
  '--max-semi-space-size=1',
  // Optimizing on the main thread: the background compiler keeps 8-9 MiB it never gives back.
  '--no-concurrent-recompilation',
]);

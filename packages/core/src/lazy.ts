/**
 * Wraps `load` so it runs on the first call, not before, and every later call returns what that first
 * call did. A process start then pays only for what the start itself needs (docs/queue-proxy.md §12):
 * Node's HTTP/2, HTTPS, TLS and crypto modules, for one, cost a queue-proxy about 15 ms of CPU when
 * loaded, and most Pods never use them. A `load` that throws caches nothing: the next call tries again.
 */
export function lazy<T>(load: () => T): () => T {
  let loaded = false;
  let value: T;
  return () => {
    if (!loaded) {
      value = load();
      loaded = true;
    }
    return value;
  };
}

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * A worker thread's module, `path` (without extension) relative to `base` (the caller's
 * `import.meta.url`): the built `.js` one, or, run from the sources (the tests), the TypeScript one,
 * which Node runs by stripping its types.
 */
export function workerModule(path: string, base: string): URL {
  const built = new URL(`${path}.js`, base);
  return existsSync(fileURLToPath(built)) ? built : new URL(`${path}.ts`, base);
}

import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const PACKAGES = resolve(fileURLToPath(import.meta.url), '../../..');

/** The non-test TypeScript files under `dir`, recursively. */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

/** Files with an `import` of values (not `import type`) from node:http, node:https or node:http2. */
function esmHttpImports(dir: string): string[] {
  const valueImport = /^import (?!type )[^;]*from 'node:http[s2]?';/m;
  return sources(dir)
    .filter((file) => valueImport.test(readFileSync(file, 'utf8')))
    .map((file) => relative(PACKAGES, file));
}

describe('node-http', () => {
  // An ESM import of node:http makes Node build the module's facade, reading every export, which loads its
  // bundled undici: ~25 ms of each start of a process that imports it, the queue-proxy's and the
  // activator's cold starts included. Their modules take Node's HTTP modules from node-http.ts.
  it('is how the queue-proxy and the activator load Node’s HTTP modules', () => {
    const offenders = ['core', 'queue-proxy', 'activator'].flatMap((pkg) =>
      esmHttpImports(join(PACKAGES, pkg, 'src')),
    );
    expect(offenders).toEqual([]);
  });
});

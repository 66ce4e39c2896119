import { readdirSync, readFileSync } from 'node:fs';
import { constants } from 'node:http2';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { H2_CANCEL, H2_ENHANCE_YOUR_CALM, H2_REFUSED_STREAM } from './node-http.js';

const PACKAGES = resolve(fileURLToPath(import.meta.url), '../../..');

/** The non-test TypeScript files under `dir`, recursively. */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

/** Files with an `import` of values (not `import type`) from a module `valueImport` matches. */
function esmImports(dir: string, valueImport: RegExp): string[] {
  return sources(dir)
    .filter((file) => valueImport.test(readFileSync(file, 'utf8')))
    .map((file) => relative(PACKAGES, file));
}

/** Files with an `import` of values (not `import type`) from node:http, node:https or node:http2. */
function esmHttpImports(dir: string): string[] {
  return esmImports(dir, /^import (?!type )[^;]*from 'node:http[s2]?';/m);
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

  // node:tls and node:crypto cost a start ~10 ms and most queue-proxies never use them; an ESM import of
  // node:fs loads its promise API (~3 ms). node-builtins.ts loads them with require(), tls and crypto on
  // first use. The Kubernetes client (core/src/kubernetes) is no part of a proxy.
  it('is how core and the queue-proxy load node:tls, node:crypto and node:fs', () => {
    const offenders = ['core', 'queue-proxy']
      .flatMap((pkg) =>
        esmImports(join(PACKAGES, pkg, 'src'), /^import (?!type )[^;]*from 'node:(tls|crypto|fs)';/m),
      )
      .filter((file) => !file.startsWith(join('core', 'src', 'kubernetes')));
    expect(offenders).toEqual([]);
  });

  it('names HTTP/2 error codes with node:http2’s values', () => {
    expect(H2_REFUSED_STREAM).toBe(constants.NGHTTP2_REFUSED_STREAM);
    expect(H2_CANCEL).toBe(constants.NGHTTP2_CANCEL);
    expect(H2_ENHANCE_YOUR_CALM).toBe(constants.NGHTTP2_ENHANCE_YOUR_CALM);
  });
});

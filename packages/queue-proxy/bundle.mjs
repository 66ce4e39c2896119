#!/usr/bin/env node
/*
 * Builds the queue-proxy as it runs: its entry points bundled with core and pino into a few files in
 * dist/ (docs/queue-proxy.md §12). A start then loads a handful of files instead of about 125 modules,
 * which is most of its CPU: Node resolves, links and evaluates each ES module on its own. What a Pod only
 * needs sometimes (tracing's exporter, request metrics, prom-client) stays a chunk of its own, loaded on
 * first use as before. undici's client is loaded by `require` from node_modules, as before.
 *
 * Run after `tsc -b` (core's dist is read); `npm run build` does both. Writes dist/main.js,
 * dist/fill-compile-cache.js, dist/chunks/ and dist/bundle-meta.json (which sources each output holds).
 */
import { rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist');
rmSync(join(dist, 'chunks'), { recursive: true, force: true });

const result = await build({
  absWorkingDir: join(here, '..', '..'),
  entryPoints: [join(here, 'src', 'main.ts'), join(here, 'src', 'fill-compile-cache.ts')],
  outdir: dist,
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node24',
  // Node's CommonJS modules (pino's) call require(); an ES module has none of its own.
  banner: {
    js: "import { createRequire as __bundleRequire } from 'node:module';\nconst require = __bundleRequire(import.meta.url);",
  },
  sourcemap: 'linked',
  metafile: true,
  logLevel: 'warning',
});
writeFileSync(join(dist, 'bundle-meta.json'), `${JSON.stringify(result.metafile)}\n`);

import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { workspaceSourceAliases } from './test/support/workspace-sources.js';

/** `npm run test:cluster`: the tests against a real control plane, one file at a time. */
export default defineConfig({
  // Imports of the workspace packages run their src/*.ts, not a dist/ that may be stale.
  resolve: { alias: workspaceSourceAliases(fileURLToPath(new URL('.', import.meta.url))) },
  test: {
    include: ['test/cluster/**/*.test.ts'],
    setupFiles: ['./test/support/setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});

import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { workspaceSourceAliases } from './test/support/workspace-sources.js';

export default defineConfig({
  // Imports of the workspace packages run their src/*.ts, not a dist/ that may be stale.
  resolve: { alias: workspaceSourceAliases(fileURLToPath(new URL('.', import.meta.url))) },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'test/**/*.test.ts', 'bench/src/**/*.test.ts'],
    // The real-cluster tests run apart, in a network namespace of their own (npm run test:cluster).
    exclude: ['test/cluster/**', '**/node_modules/**'],
    setupFiles: ['./test/support/setup.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // The machine has two cores and end-to-end tests spawn real processes: keep file parallelism low.
    maxWorkers: 2,
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});

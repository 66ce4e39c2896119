/**
 * The command-line tools some tests need beside Node, found once and gated one way everywhere.
 *
 * Outside CI a missing tool skips the tests it gates, with one line naming the tool and those tests.
 * With `ZEROGATE_REQUIRE_TOOLS=1` (set by `.ci/run`) a missing tool fails the test file instead, naming
 * it, so a green CI can never stand for tests that did not run.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { JAEGER_BIN, KUBE_BIN } from '../../packages/cluster/src/binaries.js';
import { ROOT } from './processes.js';

/** Whether a missing tool fails the tests it gates rather than skipping them. */
export const REQUIRE_TOOLS = process.env['ZEROGATE_REQUIRE_TOOLS'] === '1';

/**
 * The `kubectl` the project builds (`npm run cluster:build`). Outside CI, a `kubectl` on PATH stands in
 * when that one is not built yet; under {@link REQUIRE_TOOLS} only the built one counts.
 */
export const KUBECTL: string | undefined = (() => {
  const built = join(KUBE_BIN, 'kubectl');
  if (existsSync(built)) return built;
  if (!REQUIRE_TOOLS && answers('kubectl', ['version', '--client'])) return 'kubectl';
  return undefined;
})();

/** The `openssl` CLI, which makes the tests' certificates. */
export const OPENSSL: string | undefined = answers('openssl', ['version']) ? 'openssl' : undefined;

/** The `git` CLI in a git checkout (the image builds copy what git tracks). */
export const GIT_CHECKOUT: string | undefined =
  existsSync(resolve(ROOT, '.git')) && answers('git', ['--version']) ? 'git' : undefined;

/**
 * Debian's Chromium, which the dashboard test drives headless (`playwright-core` brings no browser of
 * its own).
 */
export const CHROMIUM: string | undefined = isExecutable('/usr/bin/chromium')
  ? '/usr/bin/chromium'
  : undefined;

/** Go, which builds the Go-template oracle (`.ci/tools` requires it: it builds kubectl too). */
export const GO: string | undefined = answers('go', ['version']) ? 'go' : undefined;

/**
 * Jaeger v2, the trace backend of the tracing tests (it takes Zipkin and OTLP and answers a query API),
 * built by `npm run jaeger:build`.
 */
export const JAEGER: string | undefined = isExecutable(join(JAEGER_BIN, 'jaeger'))
  ? join(JAEGER_BIN, 'jaeger')
  : undefined;

/** How to get each tool, for the line that says it is missing. */
const HOW_TO_GET: Readonly<Record<string, string>> = {
  chromium: 'install it (Debian: apt-get install chromium)',
  go: 'install Go (https://go.dev/dl/) and put it on PATH',
  jaeger: `build it with \`npm run jaeger:build\` (into ${JAEGER_BIN})`,
  kubectl: `build it with \`npm run cluster:build\` (into ${KUBE_BIN})`,
  openssl: 'install it (Debian: apt-get install openssl)',
  git: 'run the tests in a git checkout with git installed',
};

/** What {@link gate} is told and does; the defaults are this process's. */
export interface GateOptions {
  readonly require?: boolean;
  readonly log?: (line: string) => void;
}

/**
 * Whether the tests of `suite` can run, given the tool they need (its path, or undefined when missing).
 * A missing tool throws under {@link REQUIRE_TOOLS}, and otherwise logs one line and returns false for
 * `describe.skipIf(!…)`.
 */
export function gate(
  tool: keyof typeof HOW_TO_GET | string,
  found: string | undefined,
  suite: string,
  { require = REQUIRE_TOOLS, log = console.log }: GateOptions = {},
): boolean {
  if (found !== undefined) return true;
  const how = HOW_TO_GET[tool] ?? `install ${tool}`;
  if (require)
    throw new Error(`${tool} is missing, and ZEROGATE_REQUIRE_TOOLS=1: ${suite} cannot run; ${how}`);
  log(`skipped: ${suite} (needs ${tool}, not found; ${how})`);
  return false;
}

/** Checked without running it: starting a browser's wrapper costs every test file that imports this. */
function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function answers(command: string, args: readonly string[]): boolean {
  return spawnSync(command, args, { stdio: 'ignore' }).status === 0;
}

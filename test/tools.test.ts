import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KUBE_BIN, KUBE_VERSION } from '../packages/cluster/src/binaries.js';
import { gate, KUBECTL, REQUIRE_TOOLS } from './support/tools.js';

describe('tool gates', () => {
  it('let the tests run when the tool is there, saying nothing', () => {
    const lines: string[] = [];
    expect(
      gate('openssl', '/usr/bin/openssl', 'TLS tests', { require: true, log: (l) => lines.push(l) }),
    ).toBe(true);
    expect(lines).toEqual([]);
  });

  it('outside CI, skip with one line naming the tool, the tests and how to get it', () => {
    const lines: string[] = [];
    expect(
      gate('kubectl', undefined, 'the manifest tests', { require: false, log: (l) => lines.push(l) }),
    ).toBe(false);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^skipped: the manifest tests \(needs kubectl, not found; .*npm run cluster:build/,
    );
  });

  it('under ZEROGATE_REQUIRE_TOOLS, fail naming the tool instead of skipping', () => {
    const lines: string[] = [];
    expect(() =>
      gate('openssl', undefined, 'TLS tests', { require: true, log: (l) => lines.push(l) }),
    ).toThrow(/openssl is missing, and ZEROGATE_REQUIRE_TOOLS=1: TLS tests cannot run/);
    expect(lines).toEqual([]);
  });

  it('take kubectl from the project’s own build when it is built, and only from there in CI', () => {
    expect(KUBE_BIN).toContain(`kube-${KUBE_VERSION}`);
    const built = join(KUBE_BIN, 'kubectl');
    if (existsSync(built) || REQUIRE_TOOLS) expect(KUBECTL).toBe(built);
    else expect(KUBECTL === undefined || KUBECTL === 'kubectl').toBe(true);
  });
});

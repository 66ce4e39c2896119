import { ConfigError } from '@zerogate/core';
import { expect } from 'vitest';

/**
 * Runs `load` and returns the variables its ConfigError names, checking each problem line starts with
 * one (`NAME: what is wrong`); fails the test when nothing is thrown.
 */
export function configErrorVariables(load: () => unknown): string[] {
  try {
    load();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems;
    for (const p of problems) expect(p).toMatch(/^[A-Z0-9_]+: \S/);
    return problems.map((p) => p.slice(0, p.indexOf(':')));
  }
  throw new Error('expected a ConfigError');
}

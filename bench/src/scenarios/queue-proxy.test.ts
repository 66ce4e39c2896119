import { describe, expect, it } from 'vitest';
import { commandLabel } from './queue-proxy.js';

describe('commandLabel', () => {
  it("is the base name of the command's first word", () => {
    expect(commandLabel('/opt/knative/queue -v')).toBe('queue');
    expect(commandLabel('  node dist/main.js')).toBe('node');
  });
});

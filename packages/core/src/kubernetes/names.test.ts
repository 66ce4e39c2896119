import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { deploymentName, knativeChildName, privateServiceName } from './names.js';

describe('Knative names', () => {
  it('appends the suffix while the name fits in 63 characters', () => {
    expect(privateServiceName('hello-00001')).toBe('hello-00001-private');
    expect(deploymentName('hello-00001')).toBe('hello-00001-deployment');
    const fits = 'a'.repeat(55);
    expect(privateServiceName(fits)).toBe(`${fits}-private`);
  });

  it('hashes a long parent as kmeta.ChildName does', () => {
    const parent = `r${'x'.repeat(62)}`;
    const md5 = createHash('md5').update(parent).digest('hex');
    const name = knativeChildName(parent, '-private');
    expect(name).toBe(`${parent.slice(0, 63 - 32 - 8)}${md5}-private`);
    expect(name).toHaveLength(63);
    expect(knativeChildName('a'.repeat(60), '-deployment')).toMatch(/^a{20}[0-9a-f]{32}-deployment$/);
  });
});

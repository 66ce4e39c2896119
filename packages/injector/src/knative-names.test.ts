import { describe, expect, it } from 'vitest';
import { revisionNameProblem } from './knative-names.js';

describe('revisionNameProblem', () => {
  it('accepts DNS-1035 labels only as revision names', () => {
    expect(revisionNameProblem('hello-00001')).toBeUndefined();
    for (const bad of ['Hello', 'hello_1', '1hello', 'hello-', 'a.b', 'x'.repeat(64)]) {
      expect(revisionNameProblem(bad)).toBeDefined();
    }
  });
});

import { describe, expect, it } from 'vitest';
import { asError } from './probe-attempt.js';

describe('asError', () => {
  it('keeps an Error and wraps anything else', () => {
    const err = new Error('x');
    expect(asError(err)).toBe(err);
    expect(asError('refused').message).toBe('refused');
  });
});

import { describe, expect, it } from 'vitest';
import { asError, probeAuthority } from './probe-attempt.js';

describe('probeAuthority', () => {
  it('brackets an IPv6 host and leaves others as they are', () => {
    expect(probeAuthority('127.0.0.1', 8080)).toBe('127.0.0.1:8080');
    expect(probeAuthority('::1', 8080)).toBe('[::1]:8080');
    expect(probeAuthority('app.local', 80)).toBe('app.local:80');
  });
});

describe('asError', () => {
  it('keeps an Error and wraps anything else', () => {
    const err = new Error('x');
    expect(asError(err)).toBe(err);
    expect(asError('refused').message).toBe('refused');
  });
});

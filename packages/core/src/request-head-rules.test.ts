import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { headProblem } from './request-head-rules.js';

const head = (method: string, url: string, rawHeaders: string[]) =>
  ({ method, url, rawHeaders }) as unknown as IncomingMessage;

describe('headProblem', () => {
  it('passes an ordinary head, and OPTIONS *', () => {
    expect(headProblem(head('GET', '/', ['Host', 'a', 'Accept', '*/*']))).toBeUndefined();
    expect(headProblem(head('OPTIONS', '*', ['Host', 'a']))).toBeUndefined();
  });

  it('refuses a second Host, whatever its case or value', () => {
    expect(headProblem(head('GET', '/', ['Host', 'a', 'hOST', 'b']))).toBe('more than one Host header');
    expect(headProblem(head('GET', '/', ['host', 'a', 'X', 'y', 'HOST', 'a']))).toBe(
      'more than one Host header',
    );
  });

  it('refuses the asterisk-form target with any method but OPTIONS', () => {
    expect(headProblem(head('GET', '*', ['Host', 'a']))).toBe('asterisk-form target without OPTIONS');
  });
});

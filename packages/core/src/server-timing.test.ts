import { describe, expect, it } from 'vitest';
import type { ResponseHead } from './http1/index.js';
import { responseHead } from './relay/message-heads.js';
import { rawServerTiming, serverTimingSetting, serverTimingToAdd, timingDuration } from './server-timing.js';

describe('timingDuration', () => {
  it('writes milliseconds with at most 3 decimals and never below zero', () => {
    expect(timingDuration(12.3456789)).toBe('12.346');
    expect(timingDuration(5)).toBe('5');
    expect(timingDuration(0.0004)).toBe('0');
    expect(timingDuration(-1)).toBe('0');
  });
});

describe('serverTimingToAdd', () => {
  it('adds everything when the app sent no Server-Timing', () => {
    expect(serverTimingToAdd('hold;dur=1, proxy;dur=2', undefined)).toBe('hold;dur=1, proxy;dur=2');
  });

  it('leaves out the metrics the app already names, in any case and any of its fields', () => {
    expect(serverTimingToAdd('hold;dur=1, proxy;dur=2', 'app;dur=5')).toBe('hold;dur=1, proxy;dur=2');
    expect(serverTimingToAdd('hold;dur=1, proxy;dur=2', 'db;dur=3, Proxy;desc="mine"')).toBe('hold;dur=1');
    expect(serverTimingToAdd('hold;dur=1, proxy;dur=2', ['app', 'hold;dur=9'])).toBe('proxy;dur=2');
    expect(serverTimingToAdd('queue;dur=1', 'queue')).toBe('');
  });
});

describe('rawServerTiming', () => {
  it('collects every Server-Timing field of a raw header list', () => {
    expect(rawServerTiming(['Content-Type', 'text/plain'])).toBeUndefined();
    expect(rawServerTiming(['Server-Timing', 'a;dur=1', 'x', 'y', 'server-timing', 'b'])).toEqual([
      'a;dur=1',
      'b',
    ]);
  });
});

/** An upstream response head with these raw headers (what `responseHead` reads of one). */
function parsed(rawHeaders: string[]): ResponseHead {
  return { statusCode: 503, statusText: 'Service Unavailable', rawHeaders } as unknown as ResponseHead;
}

describe('the relay response head', () => {
  const app = [
    'Date',
    'x',
    'Zerogate-Error',
    'activator; overloaded',
    'Server-Timing',
    'app;dur=5',
    'Content-Length',
    '0',
  ];

  it("drops an app's Zerogate-Error, and keeps a queue-proxy's", () => {
    expect(responseHead(parsed(app), false, false, true)).not.toMatch(/zerogate-error/i);
    expect(responseHead(parsed(app), false, false, false)).toContain('Zerogate-Error: activator; overloaded');
  });

  it('adds our Server-Timing metrics the response lacks in a field of their own', () => {
    const head = responseHead(parsed(app), false, false, false, 'hold;dur=1, app;dur=2');
    expect(head).toContain('Server-Timing: app;dur=5\r\n');
    expect(head).toContain('server-timing: hold;dur=1\r\n');
    expect(head.match(/app;dur/g)).toHaveLength(1);
    expect(responseHead(parsed(app), false, false, false)).not.toContain('server-timing:');
  });
});

describe('serverTimingSetting', () => {
  it('is on unless zerogate.dev/server-timing is "false"; another value is a problem, and on', () => {
    expect(serverTimingSetting(undefined)).toEqual({ enabled: true, problem: undefined });
    expect(serverTimingSetting({ 'zerogate.dev/server-timing': 'true' }).enabled).toBe(true);
    expect(serverTimingSetting({ 'zerogate.dev/server-timing': ' false ' })).toEqual({
      enabled: false,
      problem: undefined,
    });
    const bad = serverTimingSetting({ 'zerogate.dev/server-timing': 'off' });
    expect(bad.enabled).toBe(true);
    expect(bad.problem).toMatch(/^zerogate\.dev\/server-timing: "off"/);
  });
});

import { HOP_BY_HOP } from '@zerogate/core';
import { describe, expect, it } from 'vitest';
import { BARE_HOP_BY_HOP, forwardRequestHeaders, forwardResponseHeaders } from './forward-headers.js';

describe('BARE_HOP_BY_HOP', () => {
  it('is the same list the queue-proxy strips, so the floor does the same work', () => {
    expect([...BARE_HOP_BY_HOP].sort()).toEqual([...HOP_BY_HOP].sort());
  });
});

describe('forwardRequestHeaders', () => {
  it('keeps end-to-end headers, Host included, and drops hop-by-hop ones', () => {
    const raw = [
      'Host',
      'example.com',
      'Connection',
      'keep-alive',
      'Keep-Alive',
      'timeout=5',
      'Accept',
      '*/*',
    ];
    expect(forwardRequestHeaders(raw)).toEqual(['Host', 'example.com', 'Accept', '*/*']);
  });

  it('drops headers the Connection header names', () => {
    const raw = ['Connection', 'X-Trace, close', 'x-trace', '1', 'X-Other', '2'];
    expect(forwardRequestHeaders(raw)).toEqual(['X-Other', '2']);
  });
});

describe('forwardResponseHeaders', () => {
  it('drops hop-by-hop and Connection-named headers', () => {
    expect(
      forwardResponseHeaders({
        'content-length': '5',
        connection: 'keep-alive, x-hop',
        'keep-alive': 'timeout=5',
        'x-hop': 'a',
        'set-cookie': ['a=1', 'b=2'],
      }),
    ).toEqual({ 'content-length': '5', 'set-cookie': ['a=1', 'b=2'] });
  });
});

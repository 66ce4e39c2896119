import { describe, expect, it } from 'vitest';
import { connectionTokens, forwardedFromXForwarded, H, HOP_BY_HOP, plainAddress } from './headers.js';

describe('forwardedFromXForwarded', () => {
  it('puts for, host and proto in the first element', () => {
    expect(forwardedFromXForwarded('1.2.3.4', 'example.com', 'https')).toBe(
      'for=1.2.3.4;host=example.com;proto=https',
    );
  });

  it('gives each later X-Forwarded-For node its own for= element', () => {
    expect(forwardedFromXForwarded('1.1.1.1, 2.2.2.2,3.3.3.3', 'h', 'http')).toBe(
      'for=1.1.1.1;host=h;proto=http, for=2.2.2.2, for=3.3.3.3',
    );
  });

  it('writes IPv6 nodes quoted and bracketed, wherever they are in the list', () => {
    expect(forwardedFromXForwarded('2001:db8::1, 10.0.0.1, ::1', undefined, undefined)).toBe(
      'for="[2001:db8::1]", for=10.0.0.1, for="[::1]"',
    );
  });

  it('trims whitespace around nodes, host and proto', () => {
    expect(forwardedFromXForwarded('  1.2.3.4  ,  5.6.7.8 ', ' h ', ' https ')).toBe(
      'for=1.2.3.4;host=h;proto=https, for=5.6.7.8',
    );
  });

  it('builds from host and proto alone when there is no X-Forwarded-For', () => {
    expect(forwardedFromXForwarded(undefined, 'example.com', 'https')).toBe('host=example.com;proto=https');
    expect(forwardedFromXForwarded(undefined, 'example.com', undefined)).toBe('host=example.com');
    expect(forwardedFromXForwarded(undefined, undefined, 'http')).toBe('proto=http');
    expect(forwardedFromXForwarded('', '', 'http')).toBe('proto=http');
  });

  it('builds from X-Forwarded-For alone', () => {
    expect(forwardedFromXForwarded('1.2.3.4', undefined, undefined)).toBe('for=1.2.3.4');
  });

  it('returns undefined when nothing is known', () => {
    expect(forwardedFromXForwarded(undefined, undefined, undefined)).toBeUndefined();
    expect(forwardedFromXForwarded('', '', '')).toBeUndefined();
    expect(forwardedFromXForwarded('  ', ' ', undefined)).toBeUndefined();
  });
});

describe('connectionTokens', () => {
  it('lists the header names a Connection value names, lower-cased and trimmed', () => {
    expect(connectionTokens('X-Foo, x-bar ,X-BAZ')).toEqual(['x-foo', 'x-bar', 'x-baz']);
  });

  it('leaves out close, keep-alive and upgrade, which are not header names to strip', () => {
    expect(connectionTokens('close')).toEqual([]);
    expect(connectionTokens('Keep-Alive, Upgrade, X-Foo, CLOSE')).toEqual(['x-foo']);
  });

  it('ignores empty list elements', () => {
    expect(connectionTokens(' , x-a,, ,x-b,')).toEqual(['x-a', 'x-b']);
  });

  it('returns nothing for a missing or empty value', () => {
    expect(connectionTokens(undefined)).toEqual([]);
    expect(connectionTokens('')).toEqual([]);
  });
});

describe('plainAddress', () => {
  it('strips the IPv4-mapped IPv6 prefix', () => {
    expect(plainAddress('::ffff:10.1.2.3')).toBe('10.1.2.3');
  });

  it('leaves IPv4 and other IPv6 addresses alone', () => {
    expect(plainAddress('127.0.0.1')).toBe('127.0.0.1');
    expect(plainAddress('::1')).toBe('::1');
    expect(plainAddress('2001:db8::ffff:1')).toBe('2001:db8::ffff:1');
  });

  it('returns an empty string for a missing address', () => {
    expect(plainAddress(undefined)).toBe('');
    expect(plainAddress('')).toBe('');
  });
});

describe('header names', () => {
  it('are lower-case, as Node presents them', () => {
    for (const name of Object.values(H)) expect(name).toBe(name.toLowerCase());
    for (const name of HOP_BY_HOP) expect(name).toBe(name.toLowerCase());
  });

  it('list the hop-by-hop headers Go strips, but not te', () => {
    for (const name of [
      'connection',
      'keep-alive',
      'proxy-connection',
      'proxy-authenticate',
      'proxy-authorization',
      'trailer',
      'transfer-encoding',
      'upgrade',
    ]) {
      expect(HOP_BY_HOP.has(name)).toBe(true);
    }
    expect(HOP_BY_HOP.has('te')).toBe(false);
  });
});

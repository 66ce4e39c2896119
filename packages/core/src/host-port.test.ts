import { describe, expect, it } from 'vitest';
import { hostWithoutPort, joinHostPort, splitHostPort } from './host-port.js';

describe('joinHostPort', () => {
  it('brackets IPv6 hosts only', () => {
    expect(joinHostPort('10.0.0.1', 8012)).toBe('10.0.0.1:8012');
    expect(joinHostPort('a.example', '80')).toBe('a.example:80');
    expect(joinHostPort('fd00::1', 8012)).toBe('[fd00::1]:8012');
  });
});

describe('splitHostPort', () => {
  it.each([
    ['10.0.0.1:8012', '10.0.0.1', 8012],
    ['[fd00::1]:8012', 'fd00::1', 8012],
    ['a.example:0', 'a.example', 0],
  ])('splits %s', (address, host, port) => {
    expect(splitHostPort(address)).toEqual({ host, port });
  });

  it.each([
    '10.0.0.1',
    'fd00::1',
    '[fd00::1]',
    'a:b:80',
    'a:',
    'a:x',
    'a:65536',
    '[::1:80',
  ])('refuses %j', (address) => {
    expect(splitHostPort(address)).toBeUndefined();
  });

  it('undoes joinHostPort', () => {
    for (const host of ['127.0.0.1', '::1', 'h.example']) {
      expect(splitHostPort(joinHostPort(host, 443))).toEqual({ host, port: 443 });
    }
  });
});

describe('hostWithoutPort', () => {
  it.each([
    ['a.b.svc:80', 'a.b.svc'],
    ['a.b.svc', 'a.b.svc'],
    ['[::1]:80', '::1'],
    ['[::1]', '::1'],
  ])('reads %s as %s', (authority, host) => {
    expect(hostWithoutPort(authority)).toBe(host);
  });
});

import { describe, expect, it } from 'vitest';
import { knativeBinDir, parseEnvFile } from './binaries.js';

describe('parseEnvFile', () => {
  it('reads KEY=value lines and skips comments and blanks', () => {
    expect(parseEnvFile('# pins\nKUBE_VERSION=v1.34.4\n\n  KNATIVE_SERVING_VERSION=v0.44.1  \n')).toEqual({
      KUBE_VERSION: 'v1.34.4',
      KNATIVE_SERVING_VERSION: 'v0.44.1',
    });
  });
});

describe('knativeBinDir', () => {
  it('prefers ZEROGATE_CACHE, then XDG_CACHE_HOME, then ~/.cache, as build-knative.sh does', () => {
    expect(knativeBinDir('v0.44.1', { ZEROGATE_CACHE: '/c', XDG_CACHE_HOME: '/x' }, '/home/u')).toBe(
      '/c/knative-serving-v0.44.1/bin',
    );
    expect(knativeBinDir('v0.44.1', { XDG_CACHE_HOME: '/x' }, '/home/u')).toBe(
      '/x/zerogate/knative-serving-v0.44.1/bin',
    );
    expect(knativeBinDir('v0.44.1', {}, '/home/u')).toBe(
      '/home/u/.cache/zerogate/knative-serving-v0.44.1/bin',
    );
  });

  it('treats an empty variable as unset, as the shell does', () => {
    expect(knativeBinDir('v1', { ZEROGATE_CACHE: '', XDG_CACHE_HOME: '' }, '/h')).toBe(
      '/h/.cache/zerogate/knative-serving-v1/bin',
    );
  });
});

import { createSecureContext } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { readTlsSettings } from './tls-settings.js';

const TLS13 = 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256';

/** Reads `env` with the QUEUE_PROXY_ prefix; returns the settings and the problems, one line each. */
function read(env: Record<string, string>) {
  const problems: string[] = [];
  const settings = readTlsSettings(
    'QUEUE_PROXY_',
    (name) => (env[name] === '' ? undefined : env[name]),
    (name, message) => problems.push(`${name}: ${message}`),
  );
  return { settings, problems };
}

describe('readTlsSettings (knative.dev/pkg/network/tls DefaultConfigFromEnv)', () => {
  it('defaults to TLS 1.3 only, with Go’s suites and OpenSSL’s curve preference', () => {
    const { settings, problems } = read({});
    expect(problems).toEqual([]);
    expect(settings.minVersion).toBe('TLSv1.3');
    expect(settings.maxVersion).toBe('TLSv1.3');
    expect(settings.ecdhCurve).toBeUndefined();
    expect(settings.ciphers.startsWith(`${TLS13}:`)).toBe(true);
    expect(settings.ciphers.split(':')).toHaveLength(13);
    // Node accepts every name.
    expect(() => createSecureContext(settings)).not.toThrow();
  });

  it('takes "1.2" and "1.3" exactly as Go’s parseVersion does', () => {
    expect(read({ QUEUE_PROXY_TLS_MIN_VERSION: '1.2' }).settings.minVersion).toBe('TLSv1.2');
    expect(read({ QUEUE_PROXY_TLS_MAX_VERSION: '1.3' }).settings.maxVersion).toBe('TLSv1.3');
    for (const v of ['1.1', '1.0', 'TLSv1.2', ' 1.2', '1.4']) {
      expect(read({ QUEUE_PROXY_TLS_MIN_VERSION: v }).problems).toEqual([
        `QUEUE_PROXY_TLS_MIN_VERSION: must be "1.2" or "1.3", got ${JSON.stringify(v)}`,
      ]);
    }
  });

  it('treats empty variables as unset (Knative sets all four, empty by default)', () => {
    const { settings, problems } = read({
      QUEUE_PROXY_TLS_MIN_VERSION: '',
      QUEUE_PROXY_TLS_MAX_VERSION: '',
      QUEUE_PROXY_TLS_CIPHER_SUITES: '',
      QUEUE_PROXY_TLS_CURVE_PREFERENCES: '',
    });
    expect(problems).toEqual([]);
    expect(settings).toEqual(read({}).settings);
  });

  it('rejects a maximum below the minimum, which leaves no version', () => {
    expect(read({ QUEUE_PROXY_TLS_MAX_VERSION: '1.2' }).problems).toEqual([
      'QUEUE_PROXY_TLS_MAX_VERSION: TLSv1.2 is below QUEUE_PROXY_TLS_MIN_VERSION TLSv1.3: no TLS version is left',
    ]);
  });

  it('maps Go cipher suite names to OpenSSL ones, trimming and skipping empty names, TLS 1.3 always on', () => {
    const { settings, problems } = read({
      QUEUE_PROXY_TLS_MIN_VERSION: '1.2',
      QUEUE_PROXY_TLS_CIPHER_SUITES:
        ' TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,,TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 ,TLS_AES_128_GCM_SHA256',
    });
    expect(problems).toEqual([]);
    expect(settings.ciphers).toBe(`${TLS13}:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305`);
    expect(() => createSecureContext(settings)).not.toThrow();
  });

  it('rejects names Go lists as insecure or does not know, naming the variable', () => {
    const { problems } = read({
      QUEUE_PROXY_TLS_CIPHER_SUITES:
        'TLS_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,ECDHE-RSA-AES128-GCM-SHA256,TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305',
    });
    expect(problems).toHaveLength(4);
    for (const p of problems) expect(p).toMatch(/^QUEUE_PROXY_TLS_CIPHER_SUITES: unknown cipher suite "/);
  });

  it('needs an HTTP/2 suite in an explicit list when TLS 1.2 is allowed, as Go’s net/http', () => {
    const only12 = { QUEUE_PROXY_TLS_CIPHER_SUITES: 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384' };
    expect(read({ ...only12, QUEUE_PROXY_TLS_MIN_VERSION: '1.2' }).problems).toEqual([
      expect.stringMatching(
        /^QUEUE_PROXY_TLS_CIPHER_SUITES: HTTP\/2 needs TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 or TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256/,
      ),
    ]);
    // TLS 1.3 only: the list does not matter.
    expect(read(only12).problems).toEqual([]);
  });

  it('maps Go and standard curve names to OpenSSL groups, once each', () => {
    const { settings, problems } = read({
      QUEUE_PROXY_TLS_CURVE_PREFERENCES: 'X25519MLKEM768, X25519,CurveP256,P-256,CurveP384,P-521',
    });
    expect(problems).toEqual([]);
    expect(settings.ecdhCurve).toBe('X25519MLKEM768:X25519:P-256:P-384:P-521');
    expect(() => createSecureContext(settings)).not.toThrow();
    expect(read({ QUEUE_PROXY_TLS_CURVE_PREFERENCES: 'secp256r1,X448' }).problems).toEqual([
      expect.stringMatching(/^QUEUE_PROXY_TLS_CURVE_PREFERENCES: unknown curve "secp256r1"/),
      expect.stringMatching(/^QUEUE_PROXY_TLS_CURVE_PREFERENCES: unknown curve "X448"/),
    ]);
  });
});

/**
 * A TLS server's protocol settings read from Go-style environment variables, as Knative's
 * `knative.dev/pkg/network/tls` `DefaultConfigFromEnv(prefix)` reads `<prefix>TLS_MIN_VERSION`,
 * `<prefix>TLS_MAX_VERSION`, `<prefix>TLS_CIPHER_SUITES` and `<prefix>TLS_CURVE_PREFERENCES`, turned
 * into the options Node's `tls.createSecureContext` takes. Pure: no I/O, no `node:tls`.
 */

/** A TLS version as Node names it. */
export type TlsVersion = 'TLSv1.2' | 'TLSv1.3';

/** Protocol options of a TLS server, in Node's terms (`tls.createSecureContext` accepts them as they are). */
export interface TlsSettings {
  readonly minVersion: TlsVersion;
  readonly maxVersion: TlsVersion;
  /** OpenSSL cipher list: every TLS 1.3 suite, then the TLS 1.2 suites allowed. */
  readonly ciphers: string;
  /** OpenSSL group list, or undefined for OpenSSL's default preference. */
  readonly ecdhCurve: string | undefined;
}

/** Reads a variable; empty counts as unset (Knative tests `v != ""`). */
export type EnvLookup = (name: string) => string | undefined;
/** Records a problem with a variable. */
export type ProblemSink = (name: string, message: string) => void;

/** Go's `"1.2"`/`"1.3"`, the only values Knative accepts (`parseVersion`), exactly as written. */
const VERSIONS: Readonly<Record<string, TlsVersion>> = { '1.2': 'TLSv1.2', '1.3': 'TLSv1.3' };

/**
 * TLS 1.3 suites. Go always enables all three and ignores them in `CipherSuites`; Node would turn TLS 1.3
 * off if its cipher list named none, so every list starts with them.
 */
const TLS13_SUITES = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'];

/**
 * The TLS 1.0–1.2 suites of Go's `tls.CipherSuites()` (the names Knative looks cipher suites up by),
 * with their OpenSSL names. Go files RSA key exchange, 3DES, RC4 and CBC-SHA256 suites under
 * `InsecureCipherSuites()`, so Knative rejects those names, and so do we.
 */
const TLS12_SUITES: Readonly<Record<string, string>> = {
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
};

/**
 * Go's net/http refuses to serve HTTP/2 over TLS when an explicit suite list allowing TLS 1.2 lacks both
 * of these (`http2ConfigureServer`), so Knative's TLS server fails to start; we report it the same way.
 */
const HTTP2_REQUIRED_SUITES = [
  'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256',
  'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256',
];

/** Go's curve names and the standard ones (Knative's `curvesByName`), as OpenSSL groups. */
const CURVES: Readonly<Record<string, string>> = {
  CurveP256: 'P-256',
  CurveP384: 'P-384',
  CurveP521: 'P-521',
  X25519: 'X25519',
  X25519MLKEM768: 'X25519MLKEM768',
  'P-256': 'P-256',
  'P-384': 'P-384',
  'P-521': 'P-521',
};

/** Knative's default: TLS 1.3 only (`DefaultConfigFromEnv`; hard-coded before Knative 1.22). */
const DEFAULT_MIN_VERSION: TlsVersion = 'TLSv1.3';
/** Go's default maximum. */
const DEFAULT_MAX_VERSION: TlsVersion = 'TLSv1.3';

/** Splits a comma-separated list, trimming names and skipping empty ones, as Knative does. */
function names(value: string): string[] {
  return value
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '');
}

/**
 * Reads `<prefix>TLS_MIN_VERSION`, `<prefix>TLS_MAX_VERSION`, `<prefix>TLS_CIPHER_SUITES` and
 * `<prefix>TLS_CURVE_PREFERENCES` with Knative's names and defaults (TLS 1.3 minimum), reporting each
 * bad variable to `problem`. Unset suites mean Go's defaults (the suites listed above); unset curves
 * leave OpenSSL's preference, which like Go's starts with the post-quantum hybrid and X25519.
 */
export function readTlsSettings(prefix: string, env: EnvLookup, problem: ProblemSink): TlsSettings {
  const version = (suffix: string, fallback: TlsVersion): TlsVersion => {
    const name = `${prefix}${suffix}`;
    const v = env(name);
    if (v === undefined) return fallback;
    const parsed = VERSIONS[v];
    if (parsed === undefined) problem(name, `must be "1.2" or "1.3", got ${JSON.stringify(v)}`);
    return parsed ?? fallback;
  };
  const minName = `${prefix}TLS_MIN_VERSION`;
  const maxName = `${prefix}TLS_MAX_VERSION`;
  const minVersion = version('TLS_MIN_VERSION', DEFAULT_MIN_VERSION);
  const maxVersion = version('TLS_MAX_VERSION', DEFAULT_MAX_VERSION);
  if (minVersion === 'TLSv1.3' && maxVersion === 'TLSv1.2') {
    // Go accepts this and then fails every handshake.
    problem(maxName, `${maxVersion} is below ${minName} ${minVersion}: no TLS version is left`);
  }

  const suitesName = `${prefix}TLS_CIPHER_SUITES`;
  const suitesText = env(suitesName);
  let tls12 = Object.values(TLS12_SUITES);
  if (suitesText !== undefined && names(suitesText).length > 0) {
    const listed = names(suitesText);
    tls12 = [];
    for (const suite of listed) {
      const openssl = TLS12_SUITES[suite];
      if (openssl !== undefined) tls12.push(openssl);
      else if (!TLS13_SUITES.includes(suite)) {
        problem(
          suitesName,
          `unknown cipher suite ${JSON.stringify(suite)} (Go names such as TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)`,
        );
      }
    }
    if (minVersion === 'TLSv1.2' && !HTTP2_REQUIRED_SUITES.some((s) => listed.includes(s))) {
      problem(
        suitesName,
        `HTTP/2 needs ${HTTP2_REQUIRED_SUITES.join(' or ')} while ${minName} allows TLS 1.2`,
      );
    }
  }

  const curvesName = `${prefix}TLS_CURVE_PREFERENCES`;
  const curvesText = env(curvesName);
  let ecdhCurve: string | undefined;
  if (curvesText !== undefined && names(curvesText).length > 0) {
    const groups: string[] = [];
    for (const curve of names(curvesText)) {
      const group = CURVES[curve];
      if (group === undefined) {
        problem(
          curvesName,
          `unknown curve ${JSON.stringify(curve)} (one of ${Object.keys(CURVES).join(', ')})`,
        );
      } else if (!groups.includes(group)) groups.push(group);
    }
    if (groups.length > 0) ecdhCurve = groups.join(':');
  }

  return { minVersion, maxVersion, ciphers: [...TLS13_SUITES, ...tls12].join(':'), ecdhCurve };
}

/** Certificates for tests, made with the openssl CLI: self-signed ones, and a test CA issuing server certificates. */
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gate, OPENSSL } from './tools.js';

/** Whether the openssl CLI is there; without it the tests that need certificates skip, or fail in CI. */
export const HAS_OPENSSL = gate(
  'openssl',
  OPENSSL,
  'the tests that make certificates (injector, queue-proxy internal TLS, their configuration)',
);

/** A new P-256 key, unencrypted: quick to make. */
const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
}

/** A certificate and key the injector accepts, and the files they are in. */
export interface TestTls {
  readonly dir: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly cert: Buffer;
  readonly key: Buffer;
  remove(): void;
}

/** A self-signed certificate for `dnsName`, valid for a day, in a temporary folder. */
export function selfSignedTls(dnsName: string): TestTls {
  const dir = mkdtempSync(join(tmpdir(), 'zerogate-tls-'));
  const certFile = join(dir, 'tls.crt');
  const keyFile = join(dir, 'tls.key');
  openssl(dir, [
    'req',
    '-x509',
    ...EC_KEY,
    '-keyout',
    keyFile,
    '-out',
    certFile,
    '-days',
    '1',
    '-subj',
    `/CN=${dnsName}`,
    '-addext',
    `subjectAltName=DNS:${dnsName}`,
  ]);
  return {
    dir,
    certFile,
    keyFile,
    cert: readFileSync(certFile),
    key: readFileSync(keyFile),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A test CA and the server certificates it signed, as files. */
export interface TestPki {
  readonly dir: string;
  readonly ca: Buffer;
  /**
   * Writes a fresh server certificate and key for 127.0.0.1 to `<name>.crt`/`<name>.key`; returns the
   * paths and the certificate's serial number (hex, as `X509Certificate.serialNumber` gives it).
   */
  issue(name: string): { cert: string; key: string; serial: string };
}

/** Creates a CA in `dir`. */
export function createPki(dir: string): TestPki {
  mkdirSync(dir, { recursive: true });
  openssl(dir, [
    'req',
    '-x509',
    ...EC_KEY,
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '1',
    '-subj',
    '/CN=zerogate-test-ca',
  ]);
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  let serial = 1;
  return {
    dir,
    ca: readFileSync(join(dir, 'ca.crt')),
    issue(name) {
      const issued = serial++;
      openssl(dir, [
        'req',
        ...EC_KEY,
        '-keyout',
        `${name}.key`,
        '-out',
        `${name}.csr`,
        '-subj',
        '/CN=injector',
      ]);
      openssl(dir, [
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        'ca.crt',
        '-CAkey',
        'ca.key',
        '-set_serial',
        String(issued),
        '-out',
        `${name}.crt`,
        '-days',
        '1',
        '-extfile',
        'san.ext',
      ]);
      return {
        cert: join(dir, `${name}.crt`),
        key: join(dir, `${name}.key`),
        serial: issued.toString(16).toUpperCase().padStart(2, '0'),
      };
    },
  };
}

/**
 * A Secret volume laid out as the kubelet writes one: each file is a symlink into `..data`, itself a
 * symlink to a timestamped folder; an update writes a new folder and swaps `..data` in one rename.
 */
export class SecretVolume {
  private version = 0;
  private folder: string | undefined;

  /** Creates `dir` (a temporary folder when not given), empty. */
  constructor(readonly dir: string = mkdtempSync(join(tmpdir(), 'zerogate-secret-'))) {
    mkdirSync(dir, { recursive: true });
  }

  /** Replaces the volume's contents with `files` (name → content), atomically. */
  write(files: Readonly<Record<string, string | Buffer>>): void {
    const folder = `..2026_01_01_00_00_00.${++this.version}`;
    mkdirSync(join(this.dir, folder));
    for (const [name, content] of Object.entries(files)) writeFileSync(join(this.dir, folder, name), content);
    symlinkSync(folder, join(this.dir, '..data_tmp'));
    renameSync(join(this.dir, '..data_tmp'), join(this.dir, '..data'));
    for (const name of Object.keys(files)) {
      if (!existsSync(join(this.dir, name))) symlinkSync(join('..data', name), join(this.dir, name));
    }
    if (this.folder) rmSync(join(this.dir, this.folder), { recursive: true, force: true });
    this.folder = folder;
  }

  /** Writes a server certificate and key from `pki` as `tls.crt` and `tls.key`; returns the certificate's serial (hex). */
  writeServerCertificate(pki: TestPki, name: string): string {
    const issued = pki.issue(name);
    this.write({ 'tls.crt': readFileSync(issued.cert), 'tls.key': readFileSync(issued.key) });
    return issued.serial;
  }

  /** Deletes the volume. */
  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

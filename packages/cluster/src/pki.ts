/**
 * The control plane's certificates and keys, made with the openssl CLI: one CA that signs the
 * apiserver's serving certificate and every client certificate (the user is the CN, groups are O), and
 * the service-account signing key pair.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A certificate and its key, as files. */
export interface CertPair {
  readonly cert: string;
  readonly key: string;
}

/** A client identity: the user name and the groups it belongs to. */
export interface ClientIdentity {
  readonly user: string;
  readonly groups?: readonly string[];
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
const DAYS = '30';

/** A CA in `dir` and everything it issues there. */
export class Pki {
  readonly ca: CertPair;
  /** The service-account token signing key (private) and its public half. */
  readonly serviceAccountKey: string;
  readonly serviceAccountPub: string;

  constructor(private readonly dir: string) {
    this.ca = { cert: join(dir, 'ca.crt'), key: join(dir, 'ca.key') };
    this.openssl([
      'req',
      '-x509',
      ...EC_KEY,
      '-keyout',
      this.ca.key,
      '-out',
      this.ca.cert,
      '-days',
      DAYS,
      '-subj',
      '/CN=zerogate-cluster-ca',
    ]);
    this.serviceAccountKey = join(dir, 'service-account.key');
    this.serviceAccountPub = join(dir, 'service-account.pub');
    this.openssl(['genrsa', '-out', this.serviceAccountKey, '2048']);
    this.openssl(['rsa', '-in', this.serviceAccountKey, '-pubout', '-out', this.serviceAccountPub]);
  }

  /** A serving certificate for the given IP addresses and DNS names. */
  server(name: string, ips: readonly string[], dnsNames: readonly string[]): CertPair {
    const san = [...ips.map((ip) => `IP:${ip}`), ...dnsNames.map((d) => `DNS:${d}`)].join(',');
    return this.issue(name, `/CN=${name}`, `subjectAltName=${san}\nextendedKeyUsage=serverAuth\n`);
  }

  /** A client certificate for `identity`. */
  client(name: string, identity: ClientIdentity): CertPair {
    const subject = [...(identity.groups ?? []).map((g) => `/O=${g}`), `/CN=${identity.user}`].join('');
    return this.issue(name, subject, 'extendedKeyUsage=clientAuth\n');
  }

  private issue(name: string, subject: string, extensions: string): CertPair {
    const pair = { cert: join(this.dir, `${name}.crt`), key: join(this.dir, `${name}.key`) };
    const csr = join(this.dir, `${name}.csr`);
    const ext = join(this.dir, `${name}.ext`);
    writeFileSync(ext, extensions);
    this.openssl(['req', ...EC_KEY, '-keyout', pair.key, '-out', csr, '-subj', subject]);
    this.openssl([
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      this.ca.cert,
      '-CAkey',
      this.ca.key,
      '-CAcreateserial',
      '-out',
      pair.cert,
      '-days',
      DAYS,
      '-extfile',
      ext,
    ]);
    return pair;
  }

  private openssl(args: readonly string[]): void {
    execFileSync('openssl', args, { cwd: this.dir, stdio: ['ignore', 'ignore', 'pipe'] });
  }
}

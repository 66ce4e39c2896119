/**
 * Names of a revision's objects as Knative derives them, so the activator and the autoscaler find what
 * the injector creates under the names they look for.
 */
import { createHash } from 'node:crypto';

const LONGEST_NAME = 63;
const MD5_HEX_LENGTH = 32;
/** A DNS-1035 label: what a Service name must be, hence a revision name too. */
const DNS_1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/**
 * A child object's name (`pkg:kmeta/names.go` ChildName): `parent + suffix`, or, when that would exceed
 * 63 characters, a prefix of the parent followed by the parent's MD5 and the suffix. Our suffixes are
 * short (`-private`, `-deployment`), so the long-suffix branch of Knative's function is not needed.
 */
export function knativeChildName(parent: string, suffix: string): string {
  if (parent.length + suffix.length <= LONGEST_NAME) return parent + suffix;
  const head = LONGEST_NAME - MD5_HEX_LENGTH - suffix.length;
  return parent.slice(0, head) + createHash('md5').update(parent).digest('hex') + suffix;
}

/** The revision's private Service, which selects its Pods (`serverlessservice/resources/names`). */
export function privateServiceName(revision: string): string {
  return knativeChildName(revision, '-private');
}

/** The Deployment the autoscaler scales for a revision: `<revision>-deployment` (`revision/resources/names`). */
export function deploymentName(revision: string): string {
  return knativeChildName(revision, '-deployment');
}

/** Why `name` cannot name a revision (its public Service is named after it), or undefined when it can. */
export function revisionNameProblem(name: string): string | undefined {
  if (name.length > LONGEST_NAME) return `is longer than ${LONGEST_NAME} characters`;
  if (!DNS_1035_LABEL.test(name)) {
    return 'must be a DNS-1035 label (lower-case letters, digits and "-", starting with a letter)';
  }
  return undefined;
}

/** Names of a revision's objects as Knative derives them, so every component finds what another created. */
import { createHash } from 'node:crypto';

const LONGEST_NAME = 63;
const MD5_HEX_LENGTH = 32;

/**
 * A child resource's name as Knative derives it (`pkg:kmeta/names.go` ChildName): `parent + suffix`,
 * or, when that exceeds 63 characters, a prefix of the parent followed by the parent's MD5 and the suffix.
 */
export function knativeChildName(parent: string, suffix: string): string {
  if (parent.length <= LONGEST_NAME - suffix.length) return parent + suffix;
  const head = LONGEST_NAME - MD5_HEX_LENGTH - suffix.length;
  const hash = createHash('md5').update(parent).digest('hex');
  if (head <= 0) {
    // Only suffixes longer than 30 characters get here; Knative's own are short.
    let name =
      parent.slice(0, LONGEST_NAME - MD5_HEX_LENGTH) +
      createHash('md5')
        .update(parent + suffix)
        .digest('hex');
    name += suffix.slice(0, Math.max(0, LONGEST_NAME - name.length));
    return name.replace(/[^a-zA-Z0-9]+$/, '');
  }
  return parent.slice(0, head) + hash + suffix;
}

/** A revision's private Service, which selects its Pods (`serverlessservice/resources/names`). */
export function privateServiceName(revision: string): string {
  return knativeChildName(revision, '-private');
}

/** The Deployment Knative creates for a revision (`revision/resources/names`). */
export function deploymentName(revision: string): string {
  return knativeChildName(revision, '-deployment');
}

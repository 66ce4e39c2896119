/** Which names can name a revision (the names derived from one are in `@zerogate/core/kubernetes`). */

const LONGEST_NAME = 63;
/** A DNS-1035 label: what a Service name must be, hence a revision name too. */
const DNS_1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/** Why `name` cannot name a revision (its public Service is named after it), or undefined when it can. */
export function revisionNameProblem(name: string): string | undefined {
  if (name.length > LONGEST_NAME) return `is longer than ${LONGEST_NAME} characters`;
  if (!DNS_1035_LABEL.test(name)) {
    return 'must be a DNS-1035 label (lower-case letters, digits and "-", starting with a letter)';
  }
  return undefined;
}

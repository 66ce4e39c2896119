/** Thrown by `parseReadinessProbes`; the message lists every problem found, each naming its field. */
export class ProbeConfigError extends Error {
  /** One entry per problem, e.g. `httpGet.port must be a number`. */
  readonly problems: readonly string[];

  constructor(problems: readonly string[] | string) {
    const list = typeof problems === 'string' ? [problems] : problems;
    super(list.join('; '));
    this.name = 'ProbeConfigError';
    this.problems = list;
  }
}

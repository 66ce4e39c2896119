/**
 * How the activator holds and wakes one revision, read from its `zerogate.dev/` annotations
 * (docs/activator.md §3.9, §3.10). A malformed annotation is reported and its default used: a revision is
 * never refused for its annotations.
 */
import { parseGoDuration } from '@zerogate/core';

/** The annotations, by what they set. */
export const HOLDING_ANNOTATIONS = {
  keyHeader: 'zerogate.dev/hold-key-header',
  priorityHeader: 'zerogate.dev/priority-header',
  priorityClasses: 'zerogate.dev/priority-classes',
  priorityDefault: 'zerogate.dev/priority-default',
  priorityMaxWait: 'zerogate.dev/priority-max-wait',
  slowStart: 'zerogate.dev/slow-start',
} as const;

/** How long a held request may wait behind later arrivals when keys or priorities reorder them. */
export const DEFAULT_MAX_WAIT_MS = 10_000;
/** A new Pod's concurrency ramp: on by default, short enough not to be felt by a fast app. */
export const DEFAULT_SLOW_START_MS = 1_000;

/** Request priorities: a header's value → class, 0 the highest. */
export interface PrioritySettings {
  /** Lower-case header name. */
  readonly header: string;
  readonly classes: ReadonlyMap<string, number>;
  /** The class of a request without the header or with an unknown value. */
  readonly fallback: number;
  readonly count: number;
}

/** One revision's holding and waking settings. */
export interface HoldingSettings {
  /** Lower-case header whose value keys a request for fair holding within the revision; none when absent. */
  readonly keyHeader: string | undefined;
  readonly priority: PrioritySettings | undefined;
  /** The longest a held request waits behind later arrivals while keys or priorities reorder them. */
  readonly maxWaitMs: number;
  /** A new Pod's concurrency ramp, ms; 0 = off. */
  readonly slowStartMs: number;
}

/** Settings of a revision without annotations. */
export const DEFAULT_HOLDING: HoldingSettings = {
  keyHeader: undefined,
  priority: undefined,
  maxWaitMs: DEFAULT_MAX_WAIT_MS,
  slowStartMs: DEFAULT_SLOW_START_MS,
};

/** An HTTP field name (RFC 9110 token). */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** The settings `annotations` give, and what was wrong with any of them (each naming its annotation). */
export function holdingSettings(annotations: Readonly<Record<string, string>> | undefined): {
  settings: HoldingSettings;
  problems: string[];
} {
  const a = annotations ?? {};
  const problems: string[] = [];
  const header = (name: string): string | undefined => {
    const value = a[name]?.trim();
    if (value === undefined || value === '') return undefined;
    if (TOKEN.test(value)) return value.toLowerCase();
    problems.push(`${name}: ${JSON.stringify(value)} is not a header name`);
    return undefined;
  };
  const duration = (name: string, fallback: number): number => {
    const value = a[name];
    if (value === undefined) return fallback;
    const ms = parseGoDuration(value.trim());
    if (ms !== undefined && ms >= 0) return ms;
    problems.push(`${name}: ${JSON.stringify(value)} is not a duration such as 500ms or 2s`);
    return fallback;
  };
  return {
    settings: {
      keyHeader: header(HOLDING_ANNOTATIONS.keyHeader),
      priority: prioritySettings(a, header(HOLDING_ANNOTATIONS.priorityHeader), problems),
      maxWaitMs: duration(HOLDING_ANNOTATIONS.priorityMaxWait, DEFAULT_MAX_WAIT_MS),
      slowStartMs: duration(HOLDING_ANNOTATIONS.slowStart, DEFAULT_SLOW_START_MS),
    },
    problems,
  };
}

function prioritySettings(
  a: Readonly<Record<string, string>>,
  header: string | undefined,
  problems: string[],
): PrioritySettings | undefined {
  const listed = a[HOLDING_ANNOTATIONS.priorityClasses];
  if (header === undefined) {
    if (listed !== undefined)
      problems.push(
        `${HOLDING_ANNOTATIONS.priorityClasses}: set without ${HOLDING_ANNOTATIONS.priorityHeader}`,
      );
    return undefined;
  }
  const names = (listed ?? '')
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '');
  if (names.length < 2 || new Set(names).size !== names.length) {
    problems.push(
      `${HOLDING_ANNOTATIONS.priorityClasses}: ${JSON.stringify(listed ?? '')} must list two or more distinct values, highest first`,
    );
    return undefined;
  }
  const classes = new Map(names.map((n, i) => [n, i]));
  const named = a[HOLDING_ANNOTATIONS.priorityDefault]?.trim();
  let fallback = names.length - 1;
  if (named !== undefined) {
    const index = classes.get(named);
    if (index === undefined)
      problems.push(
        `${HOLDING_ANNOTATIONS.priorityDefault}: ${JSON.stringify(named)} is not one of the classes`,
      );
    else fallback = index;
  }
  return { header, classes, fallback, count: names.length };
}

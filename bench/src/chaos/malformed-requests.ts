/**
 * `malformed-requests`: the request smuggling and malformed-head catalogue, sent raw to a queue-proxy
 * and to an activator in front of it. Each must be answered 400 (414 or 431 for an oversized line), or
 * the connection closed, and nothing of it may reach the app, which counts what it receives.
 */
import { labelledTable, sleep } from '../scenarios/common.js';
import type { ChaosContext, ChaosResult, ChaosScenario } from './chaos-scenario.js';
import type { ChaosRow } from './chaos-table.js';
import { CLOSED, TIMEOUT, tally } from './outcomes.js';
import { type RawAnswer, sendRaw } from './raw-http.js';
import { countLogLines, startPodBehindActivator } from './standalone.js';

/** One malformed request: a name and its bytes, given the routing header lines of the target. */
export interface MalformedCase {
  readonly name: string;
  readonly bytes: (routing: string) => (string | Buffer)[];
}

const SMUGGLED = 'GET /smuggled HTTP/1.1\r\nHost: app\r\n\r\n';

/** The catalogue. Every request line targets a path the legitimate traffic never uses. */
export const MALFORMED_CASES: readonly MalformedCase[] = [
  {
    name: 'CL + TE (CL first)',
    bytes: (r) => [
      `POST /a HTTP/1.1\r\nHost: app\r\n${r}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`,
    ],
  },
  {
    name: 'TE + CL (TE first)',
    bytes: (r) => [
      `POST /a HTTP/1.1\r\nHost: app\r\n${r}Transfer-Encoding: chunked\r\nContent-Length: 40\r\n\r\n0\r\n\r\n${SMUGGLED}`,
    ],
  },
  {
    name: 'duplicate Content-Length',
    bytes: (r) => [
      `POST /a HTTP/1.1\r\nHost: app\r\n${r}Content-Length: 3\r\nContent-Length: 41\r\n\r\nabc${SMUGGLED}`,
    ],
  },
  {
    name: 'Content-Length list "3, 41"',
    bytes: (r) => [`POST /a HTTP/1.1\r\nHost: app\r\n${r}Content-Length: 3, 41\r\n\r\nabc${SMUGGLED}`],
  },
  {
    name: 'negative Content-Length',
    bytes: (r) => [`POST /a HTTP/1.1\r\nHost: app\r\n${r}Content-Length: -1\r\n\r\n${SMUGGLED}`],
  },
  {
    name: 'Transfer-Encoding: xchunked',
    bytes: (r) => [
      `POST /a HTTP/1.1\r\nHost: app\r\n${r}Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n${SMUGGLED}`,
    ],
  },
  {
    name: 'Transfer-Encoding: chunked, identity',
    bytes: (r) => [
      `POST /a HTTP/1.1\r\nHost: app\r\n${r}Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n${SMUGGLED}`,
    ],
  },
  {
    name: 'obs-fold header line',
    bytes: (r) => [`GET /a HTTP/1.1\r\nHost: app\r\n${r}X-Folded: one\r\n two\r\n\r\n`],
  },
  {
    name: 'obs-fold Transfer-Encoding',
    bytes: (r) => [
      `POST /a HTTP/1.1\r\nHost: app\r\n${r}Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`,
    ],
  },
  {
    name: 'chunk size not hex',
    bytes: (r) => [
      `POST /a HTTP/1.1\r\nHost: app\r\n${r}Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n`,
    ],
  },
  {
    name: 'chunk size overflow',
    bytes: (r) => [
      `POST /a HTTP/1.1\r\nHost: app\r\n${r}Transfer-Encoding: chunked\r\n\r\nfffffffffffffffff1\r\nhello\r\n0\r\n\r\n`,
    ],
  },
  {
    name: 'chunk without CRLF after data',
    bytes: (r) => [
      `POST /a HTTP/1.1\r\nHost: app\r\n${r}Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n`,
    ],
  },
  {
    name: 'bare LF line endings',
    bytes: (r) => [`GET /a HTTP/1.1\nHost: app\n${r.replaceAll('\r\n', '\n')}\n`],
  },
  {
    name: 'bare CR in a header value',
    bytes: (r) => [`GET /a HTTP/1.1\r\nHost: app\r\n${r}X-Bad: a\rb\r\n\r\n`],
  },
  {
    name: 'space in a header name',
    bytes: (r) => [`GET /a HTTP/1.1\r\nHost: app\r\n${r}Bad Header: x\r\n\r\n`],
  },
  {
    name: 'space before the colon',
    bytes: (r) => [`POST /a HTTP/1.1\r\nHost: app\r\n${r}Content-Length : 41\r\n\r\n${SMUGGLED}`],
  },
  {
    name: 'NUL in a header name',
    bytes: (r) => [`GET /a HTTP/1.1\r\nHost: app\r\n${r}X-N\0ul: x\r\n\r\n`],
  },
  {
    name: 'absolute-form with a space in the authority',
    bytes: (r) => [`GET http://app x/a HTTP/1.1\r\nHost: app\r\n${r}\r\n`],
  },
  {
    name: 'authority-form on GET',
    bytes: (r) => [`GET app:80 HTTP/1.1\r\nHost: app\r\n${r}\r\n`],
  },
  {
    name: 'asterisk-form on GET',
    bytes: (r) => [`GET * HTTP/1.1\r\nHost: app\r\n${r}\r\n`],
  },
  {
    name: 'no Host header',
    bytes: (r) => [`GET /a HTTP/1.1\r\n${r}\r\n`],
  },
  {
    name: 'two Host headers',
    bytes: (r) => [`GET /a HTTP/1.1\r\nHost: app\r\nHost: other\r\n${r}\r\n`],
  },
  {
    name: 'unknown HTTP version 1.7',
    bytes: (r) => [`GET /a HTTP/1.7\r\nHost: app\r\n${r}\r\n`],
  },
  {
    name: 'request line of 1.5 MiB',
    bytes: (r) => [`GET /${'a'.repeat(1.5 * 1024 * 1024)} HTTP/1.1\r\nHost: app\r\n${r}\r\n`],
  },
];

/**
 * Case `index`'s bytes marked as its own: its paths carry `c<index>`, and a `X-Chaos-Case: c<index>`
 * header follows its first Host line, so the app's record of what reached it names the case even when
 * a request arrives after the next case was sent.
 */
export function markedBytes(c: MalformedCase, index: number, routing: string): (string | Buffer)[] {
  const marker = `c${index}`;
  return c.bytes(routing).map((part) =>
    typeof part !== 'string'
      ? part
      : part
          .replaceAll(' /a HTTP', ` /${marker} HTTP`)
          .replaceAll('/smuggled', `/smuggled-${marker}`)
          .replace(/Host: app(\r?\n)/, `Host: app$1X-Chaos-Case: ${marker}$1`),
  );
}

/** How many of the app's recorded requests belong to case `index` (see {@link markedBytes}). */
export function reachedBy(unexpectedRequests: readonly string[], index: number): number {
  const marker = new RegExp(`\\bc${index}\\b`);
  return unexpectedRequests.filter((entry) => marker.test(entry)).length;
}

/** Statuses that refuse a malformed request correctly. */
const REFUSALS = new Set([400, 414, 431]);

/** The class of a raw answer: the first status, `closed` without one, or `timeout`. */
export function rawOutcome(answer: RawAnswer): string {
  const first = answer.statuses[0];
  if (first !== undefined) return String(first);
  return answer.closed ? CLOSED : TIMEOUT;
}

/** Whether a raw answer refuses correctly: one refusal status (nothing answered after it), or a close. */
export function refusedCorrectly(answer: RawAnswer): boolean {
  if (answer.statuses.length === 0) return answer.closed;
  return answer.statuses.length === 1 && REFUSALS.has(answer.statuses[0]!);
}

const WAIT_MS = 1500;
/** After the last case, time for a request forwarded late to reach the app. */
const STRAGGLER_MS = 1000;

export const malformedRequests: ChaosScenario = {
  name: 'malformed-requests',
  description: 'the smuggling and malformed-head catalogue, raw, to a queue-proxy and to the activator',
  lossDefinition:
    'not applicable (`–`); the checks are the answer (400, 414, 431 or a close) and that nothing reached the app',
  budgetSeconds: 120,
  async run(context: ChaosContext): Promise<ChaosResult> {
    const { pod, targets, cleanUp } = await startPodBehindActivator(context);
    try {
      const rows: ChaosRow[] = [];
      const answers = new Map<string, string[]>();
      const details: string[] = [];
      for (const [t, target] of targets.entries()) {
        // Markers unique across targets, so each target's requests are told apart from the other's.
        const markerOf = (index: number) => t * 100 + index;
        context.progress(`malformed-requests: ${MALFORMED_CASES.length} cases to the ${target.name}`);
        const outcomes: string[] = [];
        let wrong = 0;
        let reachedCases = 0;
        const linesBefore = countLogLines(target.logFile);
        const before = new Set((await pod.state()).unexpectedRequests);
        const raw: RawAnswer[] = [];
        for (const [index, c] of MALFORMED_CASES.entries()) {
          const answer = await sendRaw(target.port, markedBytes(c, markerOf(index), target.routing), WAIT_MS);
          raw.push(answer);
          outcomes.push(rawOutcome(answer));
          if (!refusedCorrectly(answer)) wrong++;
        }
        await sleep(STRAGGLER_MS);
        const received = (await pod.state()).unexpectedRequests.filter((entry) => !before.has(entry));
        for (const [index, c] of MALFORMED_CASES.entries()) {
          const answer = raw[index]!;
          const reached = reachedBy(received, markerOf(index));
          if (reached > 0) reachedCases++;
          const cell = `${answer.statuses.length > 1 ? answer.statuses.join('+') : rawOutcome(answer)}${reached > 0 ? `, app got ${reached}` : ''}`;
          answers.set(c.name, [...(answers.get(c.name) ?? []), cell]);
        }
        // One log line per bad request is what a bad request deserves; more is a warning flood.
        const logged = countLogLines(target.logFile) - linesBefore;
        details.push(
          `the ${target.name} logged ${logged} line(s) for ${MALFORMED_CASES.length} malformed requests`,
        );
        rows.push({
          scenario: `malformed → ${target.name}`,
          component: target.name,
          sent: MALFORMED_CASES.length,
          outcomes: tally(outcomes),
          lost: undefined,
          checks: [
            { name: `${wrong} not 400/close`, pass: wrong === 0 },
            { name: `${reachedCases} reached the app`, pass: reachedCases === 0 },
            { name: `${logged} log lines`, pass: logged <= MALFORMED_CASES.length },
          ],
        });
      }
      return {
        rows,
        details,
        tables: [
          labelledTable(
            'Malformed requests: answer per target (and requests the app received, when any)',
            ['case', ...targets.map((t) => t.name)],
            MALFORMED_CASES.map((c) => [c.name, ...(answers.get(c.name) ?? [])]),
          ),
        ],
      };
    } finally {
      cleanUp();
    }
  },
};

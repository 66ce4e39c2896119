import { describe, expect, it } from 'vitest';
import { badDocuments } from './bad-endpoints.js';
import { accountFlood } from './held-flood.js';
import { platformConfig, roleOf } from './local-platform.js';
import {
  MALFORMED_CASES,
  markedBytes,
  rawOutcome,
  reachedBy,
  refusedCorrectly,
} from './malformed-requests.js';
import { HELD } from './outcomes.js';
import { parseStatuses } from './raw-http.js';

describe('raw answers', () => {
  it('parses every response head status', () => {
    expect(parseStatuses('HTTP/1.1 400 Bad Request\r\n\r\n')).toEqual([400]);
    expect(parseStatuses('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n\r\n')).toEqual([
      200,
    ]);
    expect(parseStatuses('HTTP/1.1 200 OK\r\n\r\n\r\nHTTP/1.1 404 Not Found\r\n\r\n')).toEqual([200, 404]);
  });

  it('accepts one refusal or a close, nothing else', () => {
    const answer = (statuses: number[], closed: boolean) => ({
      statuses,
      closed,
      retryAfter: false,
      firstMs: 1,
    });
    expect(refusedCorrectly(answer([400], true))).toBe(true);
    expect(refusedCorrectly(answer([431], false))).toBe(true);
    expect(refusedCorrectly(answer([], true))).toBe(true);
    expect(refusedCorrectly(answer([], false))).toBe(false);
    expect(refusedCorrectly(answer([200], true))).toBe(false);
    expect(refusedCorrectly(answer([400, 200], true))).toBe(false);
    expect(rawOutcome(answer([], true))).toBe('closed');
    expect(rawOutcome(answer([], false))).toBe('timeout');
    expect(rawOutcome(answer([400], true))).toBe('400');
  });

  it('routes every case through the target’s header lines', () => {
    const routing = 'Knative-Serving-Revision: r\r\n';
    for (const c of MALFORMED_CASES) {
      const text = c.bytes(routing).join('');
      expect(
        text.includes('Knative-Serving-Revision: r') || text.includes('Knative-Serving-Revision: r\n'),
        c.name,
      ).toBe(true);
    }
  });
});

describe('accountFlood', () => {
  it('counts held requests and the room left unused', () => {
    const held = { sentAt: 0, doneAt: 2000, outcome: HELD };
    const refused = { sentAt: 0, doneAt: 5, outcome: '503', retryAfter: true };
    expect(accountFlood([held, held, refused], 2)).toEqual({ held: 2, badRefusals: 0, lost: 0 });
    expect(accountFlood([held, refused, refused], 2)).toEqual({ held: 1, badRefusals: 0, lost: 1 });
    expect(accountFlood([held, { ...refused, retryAfter: false }], 1).badRefusals).toBe(1);
    expect(accountFlood([held, held, held], 3, 1)).toEqual({ held: 1, badRefusals: 0, lost: 2 });
  });
});

describe('the local platform', () => {
  it('tells platform processes apart by their environment', () => {
    expect(
      roleOf(
        new Map([
          ['SERVING_POD', 'p'],
          ['QUEUE_SERVING_PORT', '0'],
        ]),
      ),
    ).toBe('queue-proxy');
    expect(roleOf(new Map([['AUTOSCALER_ACTUATOR', 'local']]))).toBe('autoscaler');
    expect(roleOf(new Map([['ACTIVATOR_ENDPOINTS_SOURCE', 'file']]))).toBe('activator');
    expect(
      roleOf(
        new Map([
          ['K_REVISION', 'r'],
          ['PORT', '1'],
        ]),
      ),
    ).toBe('app');
    expect(roleOf(new Map())).toBe('other');
  });

  it('keeps the activator in the path in Proxy mode and out of it in Serve mode', () => {
    expect(platformConfig({ pods: 2, mode: 'Proxy' })).toContain('target-burst-capacity: "-1"');
    expect(platformConfig({ pods: 2, mode: 'Serve' })).toContain('target-burst-capacity: "0"');
    expect(platformConfig({ pods: 3, mode: 'Serve' })).toContain('min-scale: "3"');
  });
});

describe('bad endpoints documents', () => {
  it('are each malformed in one way', () => {
    const docs = badDocuments('127.0.0.1:1');
    expect(docs).toHaveLength(3);
    expect(() => JSON.parse(docs[0]!.text)).toThrow();
    expect(JSON.parse(docs[1]!.text).revisions[0].containerConcurrency).toBe(-1);
  });
});

describe('case markers', () => {
  it('mark a case’s paths and head so the app’s record names it', () => {
    const c = MALFORMED_CASES.find((m) => m.name === 'CL + TE (CL first)')!;
    const text = markedBytes(c, 7, '').join('');
    expect(text).toContain('POST /c7 HTTP/1.1\r\nHost: app\r\nX-Chaos-Case: c7\r\n');
    expect(text).toContain('GET /smuggled-c7 HTTP/1.1');
    const bareLf = MALFORMED_CASES.find((m) => m.name === 'bare LF line endings')!;
    expect(markedBytes(bareLf, 3, '').join('')).toContain('Host: app\nX-Chaos-Case: c3\n');
  });

  it('attribute the app’s records to their case only', () => {
    const records = ['/smuggled-c7 ', '/c1 c1', '/c17 c17', '* c12'];
    expect(reachedBy(records, 7)).toBe(1);
    expect(reachedBy(records, 1)).toBe(1);
    expect(reachedBy(records, 12)).toBe(1);
    expect(reachedBy(records, 2)).toBe(0);
  });
});

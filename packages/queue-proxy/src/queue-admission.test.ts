import type { RequestFacts } from '@zerogate/core';
import { describe, expect, it } from 'vitest';
import {
  type AdmissionContext,
  AppStart,
  QueueAdmission,
  RESEND_DELAYS_MS,
  STARTING_RESEND_MS,
  STARTING_WINDOW_MS,
} from './queue-admission.js';

describe('AppStart', () => {
  it('counts an app as starting from its first broken connection until the window passes', () => {
    const app = new AppStart();
    expect(app.starting(1000)).toBe(true);
    expect(app.starting(1000 + STARTING_WINDOW_MS - 1)).toBe(true);
    // An app that breaks every connection is not waited for again.
    expect(app.starting(1000 + STARTING_WINDOW_MS)).toBe(false);
  });

  it('is not starting once the app has answered', () => {
    const app = new AppStart();
    expect(app.starting(0)).toBe(true);
    app.answer();
    expect(app.starting(1)).toBe(false);
  });

  it('starts the window at the first break, however late the app starts', () => {
    const app = new AppStart();
    expect(app.starting(5 * STARTING_WINDOW_MS)).toBe(true);
    expect(app.starting(5 * STARTING_WINDOW_MS + 10)).toBe(true);
  });
});

describe('QueueAdmission.afterFailure', () => {
  /** An admission of a request outside the stats, with `hasBody`, on a context with `appStart`. */
  function admission(
    appStart: AppStart,
    hasBody = false,
  ): { admission: QueueAdmission; refused: () => number } {
    let refusals = 0;
    const ctx = {
      appStart,
      health: { appRefused: () => refusals++ },
      logger: { warn: () => {} },
      tracing: undefined,
      templatedLog: undefined,
    } as unknown as AdmissionContext;
    const facts = { hasBody } as RequestFacts;
    return { admission: new QueueAdmission(ctx, facts, false, []), refused: () => refusals };
  }
  /** A reset that beat the connect: nothing was written. */
  const resetAtConnect = Object.assign(new Error('read ECONNRESET'), {
    code: 'ECONNRESET',
    syscall: 'connect',
  });
  const refusedAtConnect = Object.assign(new Error('connect ECONNREFUSED'), {
    code: 'ECONNREFUSED',
    syscall: 'connect',
  });

  it('sends a request a starting app dropped as it connected again here, whatever its method, every 20 ms', () => {
    const { admission: a, refused } = admission(new AppStart());
    expect(a.afterFailure(resetAtConnect, false, 'POST', '/', false)).toBe('resend');
    expect(a.resendDelayMs).toBe(0);
    expect(a.afterFailure(resetAtConnect, false, 'POST', '/', false)).toBe('resend');
    expect(a.resendDelayMs).toBe(STARTING_RESEND_MS);
    expect(refused()).toBe(0);
  });

  it('answers not sent for a refused connection, a request with a body, or an app that has answered', () => {
    const starting = admission(new AppStart());
    expect(starting.admission.afterFailure(refusedAtConnect, false, 'GET', '/', false)).toBe('not-sent');
    expect(starting.refused()).toBe(1);
    expect(
      admission(new AppStart(), true).admission.afterFailure(resetAtConnect, false, 'GET', '/', false),
    ).toBe('not-sent');
    const running = new AppStart();
    running.answer();
    expect(admission(running).admission.afterFailure(resetAtConnect, false, 'GET', '/', false)).toBe(
      'not-sent',
    );
  });

  it('sends a safe request broken after it was written again only while the app starts, or 6 times paced', () => {
    const a = admission(new AppStart()).admission;
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', syscall: 'read' });
    expect(a.afterFailure(reset, true, 'POST', '/', false)).toBe('failed');
    expect(a.afterFailure(reset, true, 'GET', '/', false)).toBe('resend');
    const running = new AppStart();
    running.answer();
    const b = admission(running).admission;
    const delays: number[] = [];
    while (b.afterFailure(reset, true, 'GET', '/', false) === 'resend') delays.push(b.resendDelayMs);
    expect(delays).toEqual([...RESEND_DELAYS_MS]);
  });
});

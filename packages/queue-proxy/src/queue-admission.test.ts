import { describe, expect, it } from 'vitest';
import { AppStart, STARTING_WINDOW_MS } from './queue-admission.js';

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

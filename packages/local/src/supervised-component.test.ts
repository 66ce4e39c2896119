import { createLogger } from '@zerogate/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ChildExit } from './child.js';
import {
  type Launcher,
  RESTART_BACKOFF,
  RESTART_STABLE_MS,
  SupervisedComponent,
} from './supervised-component.js';

/** A component process the test ends by hand. */
class FakeProcess {
  readonly exited: Promise<ChildExit>;
  end!: (exit: ChildExit) => void;
  constructor() {
    this.exited = new Promise((resolve) => {
      this.end = resolve;
    });
  }
  stop(): Promise<void> {
    this.end({ code: 0, signal: 'SIGTERM' });
    return Promise.resolve();
  }
}

let launches: { at: number; env: Readonly<Record<string, string>>; process: FakeProcess }[];
let failNext: number;
const launcher: Launcher = async (_name, env) => {
  if (failNext > 0) {
    failNext--;
    throw new Error('did not start');
  }
  const process = new FakeProcess();
  launches.push({ at: Date.now(), env, process });
  return { child: process, ports: { http: 40_001 } };
};

const logger = createLogger({ level: 'silent', base: {} });
let component: SupervisedComponent;

beforeEach(() => {
  vi.useFakeTimers();
  launches = [];
  failNext = 0;
  component = new SupervisedComponent(
    'activator',
    { A: '1' },
    '/nonexistent',
    logger,
    (ports) => ({
      ACTIVATOR_HTTP_PORT: String(ports['http']),
    }),
    launcher,
  );
});
afterEach(async () => {
  await component.stop();
  vi.useRealTimers();
});

/** Ends the latest run and lets the restart happen; resolves with the delay it waited. */
async function crashAndRestart(): Promise<number> {
  const before = launches.length;
  const crashedAt = Date.now();
  launches.at(-1)!.process.end({ code: 1, signal: null });
  while (launches.length === before) await vi.advanceTimersByTimeAsync(50);
  return launches.at(-1)!.at - crashedAt;
}

describe('SupervisedComponent', () => {
  it('restarts a crashed component after 0.5 s, doubling while it keeps crashing, capped at 30 s', async () => {
    await component.start();
    const delays: number[] = [];
    for (let i = 0; i < 8; i++) delays.push(await crashAndRestart());
    // Fake time advances in 50 ms steps: each delay is the backoff's, rounded up to a step.
    const expected = [500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000];
    expect(expected[0]).toBe(RESTART_BACKOFF.initialMs);
    for (const [i, delay] of delays.entries()) {
      expect(delay, `restart ${i + 1}`).toBeGreaterThanOrEqual(expected[i]!);
      expect(delay, `restart ${i + 1}`).toBeLessThan(expected[i]! + 50);
    }
  });

  it('starts the backoff over once a run lasted a minute', async () => {
    await component.start();
    await crashAndRestart();
    await crashAndRestart();
    expect(await crashAndRestart()).toBeGreaterThanOrEqual(2000);
    await vi.advanceTimersByTimeAsync(RESTART_STABLE_MS + 1);
    expect(await crashAndRestart()).toBeLessThan(RESTART_BACKOFF.initialMs + 50);
  });

  it('restarts on the ports of the first start, and keeps trying when a restart fails', async () => {
    await component.start();
    failNext = 2;
    const waited = await crashAndRestart();
    // 0.5 s, then two failed starts waiting 1 s and 2 s.
    expect(waited).toBeGreaterThanOrEqual(3500);
    expect(launches.at(-1)!.env).toEqual({ A: '1', ACTIVATOR_HTTP_PORT: '40001' });
    expect(launches[0]!.env).toEqual({ A: '1' });
  });

  it('does not restart after stop', async () => {
    await component.start();
    launches[0]!.process.end({ code: 1, signal: null });
    await component.stop();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(launches).toHaveLength(1);
  });
});

import { describe, expect, it } from 'vitest';
import { eventually, send, type TextResponse } from './support/http.js';
import {
  example,
  podsOf,
  queueProxyAddress,
  startTestPlatform,
  stoppedAfterEach,
} from './support/platform.js';

// End-to-end: the platform's own entry point, its autoscaler and real Pods, on 127.0.0.0/8.
const started = stoppedAfterEach(120_000);

describe('one-machine platform: scale-down', () => {
  it('scaling 3 → 1 stops the idle Pods and keeps the one with long requests in flight, which finish with 200', async () => {
    // Two requests per Pod: six at once take three Pods (max-scale), two fit in one. Once the six end,
    // the autoscaler (panicking for a stable window, then the 10 s scale-down delay) keeps the three
    // for a while before it asks for one.
    const p = await startTestPlatform(`
ingress: { port: 0 }
autoscaler:
  stable-window: 6s
services:
  - name: app
    command: ["node", ${JSON.stringify(example('slow'))}]
    annotations:
      autoscaling.knative.dev/target: "2"
      autoscaling.knative.dev/target-utilization-percentage: "100"
      autoscaling.knative.dev/min-scale: "1"
      autoscaling.knative.dev/max-scale: "3"
      autoscaling.knative.dev/scale-down-delay: "10s"
`);
    started.push(p);
    let stop = false;
    const ready = async () => (await podsOf(p, 'app-00001')).filter((x) => x.state === 'ready').length;
    const load = [1, 2, 3, 4, 5, 6].map(async () => {
      while (!stop) expect((await p.get('app.default.localhost', '/?ms=1000')).status).toBe(200);
    });
    const threeReady = await eventually(async () => (await ready()) === 3, 90_000);
    stop = true;
    await Promise.all(load);
    expect(threeReady, JSON.stringify(await p.status())).toBe(true);
    // The middle Pod: without regard to load the newest goes first, and Pods started in the same
    // millisecond go in start order, so the second Pod is among the two stopped either way.
    const busy = 'app-00001-2';
    expect(await eventually(() => queueProxyAddress(p, busy) !== undefined, 10_000)).toBe(true);
    const url = `http://${queueProxyAddress(p, busy)}`;
    // Straight to its queue-proxy, past the ingress's and the activator's choice of Pod.
    const long: Promise<TextResponse>[] = [1, 2].map(() => send(`${url}/?ms=40000`));

    expect(
      await eventually(async () => {
        const pods = await podsOf(p, 'app-00001');
        return pods.filter((x) => x.state === 'ready' || x.state === 'starting').length === 1;
      }, 60_000),
    ).toBe(true);
    const left = (await podsOf(p, 'app-00001')).filter((x) => x.state === 'ready');
    expect(left.map((x) => x.name)).toEqual([busy]);
    const answers = await Promise.all(long);
    expect(answers.map((a) => a.status)).toEqual([200, 200]);
    expect(answers[0]!.body).toContain('slept 40000 ms');
  }, 180_000);
});

/**
 * `websocket-storm`: many websocket upgrades through a queue-proxy to the echo app, in waves: each
 * opens, echoes one message, and is dropped, half with a close handshake and half by destroying the
 * TCP connection. Every upgrade must succeed, and once the storm is over the app must hold no socket
 * (the queue-proxy released every tunnel).
 */
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { sleep } from '../scenarios/common.js';
import { type ChaosContext, type ChaosResult, type ChaosScenario, RSS_CAPS_KIB } from './chaos-scenario.js';
import { ComponentSampler } from './component-sampler.js';
import { classifyError, tally } from './outcomes.js';
import { startPod } from './standalone.js';

const UPGRADES = { quick: 300, full: 2000 } as const;
const WAVE = 100;
/** After the storm, the app's open sockets must fall to zero within this long. */
const RELEASE_TIMEOUT_MS = 5000;

/** Opens one websocket, echoes a message, drops it; resolves with the outcome class. */
function oneUpgrade(url: string, abrupt: boolean): Promise<string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    const timer = setTimeout(() => {
      ws.terminate();
      resolve('timeout');
    }, 10_000);
    ws.on('unexpected-response', (_req, res) => {
      clearTimeout(timer);
      resolve(String(res.statusCode));
      ws.terminate();
    });
    ws.on('open', () => ws.send('ping'));
    ws.on('message', () => {
      clearTimeout(timer);
      if (abrupt) ws.terminate();
      else ws.close();
      resolve('101');
    });
    ws.on('error', (err) => {
      clearTimeout(timer);
      resolve(classifyError(err));
    });
  });
}

export const websocketStorm: ChaosScenario = {
  name: 'websocket-storm',
  description: 'websocket upgrades through a queue-proxy to an echo app, opened and dropped in waves',
  lossDefinition: 'upgrades that did not open and echo (anything but `101`)',
  budgetSeconds: 90,
  async run(context: ChaosContext): Promise<ChaosResult> {
    const pod = await startPod(context);
    const count = context.quick ? UPGRADES.quick : UPGRADES.full;
    const sampler = new ComponentSampler(pod.queueProxy.proc.pid);
    const url = `ws://127.0.0.1:${pod.queueProxy.port}/`;
    context.progress(`websocket-storm: ${count} upgrades in waves of ${WAVE}`);
    const outcomes: string[] = [];
    for (let i = 0; i < count; i += WAVE) {
      const wave = Array.from({ length: Math.min(WAVE, count - i) }, (_, j) =>
        oneUpgrade(url, (i + j) % 2 === 0),
      );
      outcomes.push(...(await Promise.all(wave)));
    }
    const stormEnd = performance.now();
    let open = (await pod.state()).openSockets;
    while (open > 0 && performance.now() - stormEnd < RELEASE_TIMEOUT_MS) {
      await sleep(100);
      open = (await pod.state()).openSockets;
    }
    const usage = sampler.stop();
    const state = await pod.state();
    pod.cleanUp();
    const failed = outcomes.filter((o) => o !== '101').length;
    return {
      rows: [
        {
          scenario: `websocket storm (${count})`,
          component: 'queue-proxy',
          sent: count,
          outcomes: tally(outcomes),
          lost: failed,
          peakRssKiB: usage.peakRssKiB,
          rssCapKiB: RSS_CAPS_KIB['queue-proxy'],
          cpuSeconds: usage.cpuSeconds,
          checks: [{ name: `${open} app sockets left`, pass: open === 0 }],
        },
      ],
      details: [
        `${count} upgrades, half closed cleanly and half destroyed; the app accepted ${state.upgrades}; ${open} app socket(s) still open ${RELEASE_TIMEOUT_MS / 1000} s after the storm`,
      ],
    };
  },
};

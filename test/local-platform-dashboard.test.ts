/**
 * The local platform's dashboard in a real headless Chromium: the page loads with no console error,
 * and under load a revision goes from zero to one or more Pods, which its figures and its Pods chart
 * show as they arrive over the event stream. A screenshot of that state goes to `test-output/`.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { Agent, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { example, startTestPlatform, type TestPlatform } from './support/platform.js';
import { ROOT } from './support/processes.js';
import { CHROMIUM, gate } from './support/tools.js';

/** Where the screenshot goes (ignored by git; docs/dashboard.png is a copy of one). */
const SCREENSHOT = join(ROOT, 'test-output', 'dashboard.png');
/** The load: this many requests at once, at most this many in all, for at most this long. */
const WORKERS = 3;
const MAX_REQUESTS = 1000;
const MAX_LOAD_MS = 60_000;

let platform: TestPlatform | undefined;
let browser: Browser | undefined;
let agent: Agent | undefined;
afterEach(async () => {
  await browser?.close();
  browser = undefined;
  await platform?.stop();
  platform = undefined;
  await agent?.close();
  agent = undefined;
}, 60_000);

const REVISION = '[data-revision="default/slow-00001"]';

/** The y values of one series' polyline (0 at the top of its 80-unit box). */
function ys(points: string | null): number[] {
  return (points ?? '')
    .split(' ')
    .filter((p) => p !== '')
    .map((p) => Number(p.split(',')[1]));
}

describe.skipIf(!gate('chromium', CHROMIUM, 'the dashboard browser test'))(
  'local platform dashboard in a headless browser',
  () => {
    it('loads with no console error and shows a revision going from 0 to 1+ Pods on its figures and chart', async () => {
      platform = await startTestPlatform(`
ingress: { port: 0 }
autoscaler:
  stable-window: 20s
services:
  - name: slow
    command: [node, ${example('slow')}]
    containerConcurrency: 1
    env: { SERVICE_TIME_MS: "200" }
`);
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
      });
      const page = await browser.newPage({ viewport: { width: 1280, height: 820 } });
      const problems: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') problems.push(`console: ${m.text()}`);
      });
      page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
      page.on('requestfailed', (r) => {
        // The event stream is cut when the platform stops; anything else failing is a fault.
        if (!r.url().endsWith('/zerogate/events')) problems.push(`request failed: ${r.url()}`);
      });

      const readyLine = `${REVISION} polyline[data-series="readyPods"]`;
      const figure = (field: string) => async () =>
        Number(await page.textContent(`${REVISION} [data-field="${field}"]`));
      const readyPoints = async () => ys(await page.getAttribute(readyLine, 'points'));
      const poll = { timeout: MAX_LOAD_MS, interval: 100 };

      await page.goto(`http://127.0.0.1:${platform.port}/zerogate/`);
      await page.waitForSelector('#connection[data-state="live"]', { timeout: 20_000 });
      await page.waitForSelector(REVISION, { timeout: 20_000 });
      expect(await page.textContent(`${REVISION} [data-field="readyPods"]`)).toBe('0');
      // A few snapshots at zero Pods, so the chart has a stretch on its baseline to rise from.
      await expect.poll(async () => (await readyPoints()).length, poll).toBeGreaterThanOrEqual(3);

      // Bounded load to this machine only: WORKERS at once until the page shows a ready Pod.
      agent = new Agent({ connections: WORKERS });
      const port = platform.port;
      let sent = 0;
      let stop = false;
      const deadline = Date.now() + MAX_LOAD_MS;
      const load = Array.from({ length: WORKERS }, async () => {
        while (!stop && sent < MAX_REQUESTS && Date.now() < deadline) {
          sent++;
          const res = await request(`http://127.0.0.1:${port}/`, {
            headers: { host: 'slow.default.localhost' },
            dispatcher: agent,
          });
          await res.body.dump();
        }
      });
      try {
        await expect.poll(figure('readyPods'), poll).toBeGreaterThanOrEqual(1);
        // The chart moved: its ready line has points on the baseline (0 Pods) and points above it.
        await expect
          .poll(async () => Number(await page.getAttribute(readyLine, 'data-last')), poll)
          .toBeGreaterThanOrEqual(1);
        // The line and its scale read at once (a snapshot may redraw the chart between two reads).
        // y = 78 − value ÷ scale × 76 in the chart's 80-unit box: 78 is 0 Pods, one Pod is above it.
        const [max, line] = await page
          .locator(`${REVISION} [data-chart="pods"] svg`)
          .evaluate((svg) => [
            svg.getAttribute('data-max'),
            svg.querySelector('polyline[data-series="readyPods"]')?.getAttribute('points') ?? null,
          ]);
        const scale = Number(max);
        const points = ys(line ?? null);
        expect(scale).toBeGreaterThanOrEqual(1);
        expect(Math.max(...points)).toBeCloseTo(78, 1);
        expect(Math.min(...points)).toBeLessThanOrEqual(78 - 76 / scale + 0.05);
        expect(
          Number(await page.textContent(`${REVISION} [data-field="desiredPods"]`)),
        ).toBeGreaterThanOrEqual(1);

        // The autoscaler's stable average rises with the load (it is scraped from the Pods).
        await expect.poll(figure('stableConcurrency'), poll).toBeGreaterThanOrEqual(1);

        // Its Pod is listed ready; clicking it shows the tail of its app's log.
        const pod = page.locator(`${REVISION} tr[data-pod][data-state="ready"]`).first();
        await pod.click();
        await page.waitForSelector('#log-text[data-loaded="true"]', { timeout: 20_000 });
        expect(await page.textContent('#log-text')).toContain('"msg":"listening"');
        await page.waitForSelector(`${REVISION} .pods tbody tr.selected`);

        // Twenty snapshots on the charts, so the screenshot shows the load's course, not only its start.
        await expect.poll(async () => (await readyPoints()).length, poll).toBeGreaterThanOrEqual(20);
        mkdirSync(join(ROOT, 'test-output'), { recursive: true });
        await page.screenshot({ path: SCREENSHOT, fullPage: true });
      } finally {
        stop = true;
        await Promise.all(load);
      }
      expect(sent).toBeLessThanOrEqual(MAX_REQUESTS + WORKERS);
      expect(problems).toEqual([]);
    }, 180_000);
  },
);

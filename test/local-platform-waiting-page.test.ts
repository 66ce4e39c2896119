/**
 * The activator's waiting page in a real headless Chromium on the one-machine platform
 * (docs/activator.md §10.2): a browser opening a revision at zero annotated `zerogate.dev/waiting-page`
 * gets the "starting…" page at once, naming the revision and counting the time, and then, with no user
 * action, the app's own page once its Pod is ready.
 */
import { type Browser, chromium, type Response } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { example, startTestPlatform, type TestPlatform } from './support/platform.js';
import { CHROMIUM, gate } from './support/tools.js';

let platform: TestPlatform | undefined;
let browser: Browser | undefined;
afterEach(async () => {
  await browser?.close();
  browser = undefined;
  await platform?.stop();
  platform = undefined;
}, 60_000);

describe.skipIf(!gate('chromium', CHROMIUM, 'the waiting page browser test'))(
  'the waiting page in a headless browser',
  () => {
    it('shows the starting page at once, then the app’s page with no user action', async () => {
      // The app takes 2 s to start, so the page is seen reloading at least once.
      platform = await startTestPlatform(`
ingress: { port: 0 }
services:
  - name: hello
    command: "sleep 2; exec ${process.execPath} ${example('hello')}"
    annotations:
      zerogate.dev/waiting-page: "true"
`);
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
      });
      const page = await browser.newPage();
      const problems: string[] = [];
      page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
      // Every document the tab loads, in order: the waiting page (503) until the app's (200).
      const documents: { status: number; at: number }[] = [];
      page.on('response', (r: Response) => {
        if (r.request().isNavigationRequest() && r.frame() === page.mainFrame())
          documents.push({ status: r.status(), at: Date.now() });
      });

      // Chromium resolves every *.localhost name to the loopback address.
      const opened = Date.now();
      const first = await page.goto(`http://hello.default.localhost:${platform.port}/`);
      expect(first?.status()).toBe(503);
      expect(Date.now() - opened).toBeLessThan(5000);
      expect(first?.headers()['cache-control']).toBe('no-store');
      expect(await page.title()).toBe('Starting hello-00001…');
      expect(await page.textContent('#zerogate-revision')).toBe('hello-00001');
      // The elapsed time counts up in the page.
      await page.waitForFunction(
        "Number.parseFloat(document.getElementById('zerogate-elapsed')?.textContent ?? '0') >= 0.5",
        undefined,
        { timeout: 10_000 },
      );

      // No click, no reload by the test: the page reloads itself until the app answers.
      await page.waitForFunction("document.body.innerText.includes('Hello from Zerogate!')", undefined, {
        timeout: 60_000,
        polling: 100,
      });
      expect(await page.textContent('body')).toContain('revision hello-00001');
      expect(documents[0]?.status).toBe(503);
      expect(documents.at(-1)?.status).toBe(200);
      expect(documents.filter((d) => d.status === 503).length).toBeGreaterThanOrEqual(2);
      expect(problems).toEqual([]);
    });
  },
);

/**
 * A crash-looping revision on the one-machine platform (docs/activator.md §10.1): a request held at zero
 * for a revision whose app exits 1 at start is answered 503 naming the reason within seconds, not at the
 * revision's timeout; once the app is fixed, the next Pod started after the back-off serves it.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Agent, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from './support/http.js';
import { example, startTestPlatform, type TestPlatform } from './support/platform.js';

let platform: TestPlatform | undefined;
const agent = new Agent({ connections: 8 });
afterEach(async () => {
  await platform?.stop();
  platform = undefined;
}, 60_000);

async function get(port: number, host: string) {
  const res = await request(`http://127.0.0.1:${port}/`, {
    headers: { host },
    dispatcher: agent,
    headersTimeout: 0,
    bodyTimeout: 0,
  });
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}

describe('one-machine platform: a failing revision', () => {
  it('answers a request held at zero 503 with the reason within seconds, then 200 once the app is fixed', async () => {
    // The app exits 1 at start until the file `fixed` exists beside the config.
    platform = await startTestPlatform(`
ingress: { port: 0 }
services:
  - name: broken
    command: "test -f fixed || exit 1; exec ${process.execPath} ${example('hello')}"
    timeoutSeconds: 300
`);
    const { port } = platform;
    const started = Date.now();
    const refused = await get(port, 'broken.default.localhost');
    const tookMs = Date.now() - started;
    expect(refused.status).toBe(503);
    expect(refused.body).toMatch(/^revision broken-00001 failing: app exited with code 1 \(\d+ times\)\n$/);
    expect(refused.headers['zerogate-error']).toBe('activator; revision-failing');
    expect(refused.headers['retry-after']).toBe('5');
    // Two Pods fail (the second after a 1 s back-off): seconds, far from the 300 s timeout.
    expect(tookMs).toBeLessThan(30_000);

    // Fixed: the next Pod started after the back-off serves, and the requests meanwhile poke it awake.
    writeFileSync(join(dirname(platform.logDir), '..', '..', 'fixed'), '');
    let last = refused;
    expect(
      await eventually(async () => {
        last = await get(port, 'broken.default.localhost');
        return last.status === 200;
      }, 90_000),
      JSON.stringify(last),
    ).toBe(true);
    expect(last.body).toContain('Hello from Zerogate! (revision broken-00001');
  });
});

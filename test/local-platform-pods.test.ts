import { afterEach, describe, expect, it } from 'vitest';
import { startTestPlatform, type TestPlatform } from './support/platform.js';

// End-to-end: the platform's own entry point and real Pods, on 127.0.0.0/8.
const started: TestPlatform[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((p) => p.stop()));
}, 120_000);

async function platform(yaml: string): Promise<TestPlatform> {
  const p = await startTestPlatform(yaml);
  started.push(p);
  return p;
}

/**
 * A tiny app for many Pods: answers with its revision and the address it listens on, which the
 * platform gives it in `HOST` and `PORT`.
 */
const TINY_APP = `${JSON.stringify(process.execPath)} -e 'require("http").createServer((q,s)=>s.end(process.env.K_REVISION+" "+process.env.HOST+":"+process.env.PORT)).listen(+process.env.PORT,process.env.HOST)'`;

describe('one-machine platform: Pods', () => {
  it('runs a command string as the shell would: every command of a list, the app last', async () => {
    const p = await platform(`ingress: { port: 0 }
services:
  - name: listed
    command: sleep 0.2; ${TINY_APP}
`);
    const first = await p.get('listed.default.localhost');
    expect(first).toMatchObject({ status: 200, body: expect.stringMatching(/^listed-00001 /) });
    expect(await p.revision('listed-00001')).toMatchObject({ readyPods: 1 });
    // The Pod stays up: the shell in front lives as long as the app.
    expect((await p.get('listed.default.localhost')).status).toBe(200);
  }, 60_000);
});

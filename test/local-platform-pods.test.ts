import { describe, expect, it } from 'vitest';
import { eventually } from './support/http.js';
import {
  platformProcesses,
  startTestPlatform,
  stoppedAfterEach,
  type TestPlatform,
  writeConfig,
} from './support/platform.js';
import { spawnNode } from './support/processes.js';

// End-to-end: the platform's own entry point and real Pods, on 127.0.0.0/8.
const started = stoppedAfterEach(120_000);

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

/**
 * A smaller app still, for a hundred Pods (8 MB a process where Node takes 48 MB): Perl answering each
 * request with its revision and the address it listens on.
 */
const PERL_APP = [
  'perl',
  '-MIO::Socket::INET',
  '-e',
  [
    '$s = IO::Socket::INET->new(LocalAddr => $ENV{HOST}, LocalPort => $ENV{PORT}, Listen => 128, ReuseAddr => 1) or die "listen: $!";',
    'while (1) { $c = $s->accept or next; while (<$c>) { last if /^\\r?\\n$/ }',
    '$b = "$ENV{K_REVISION} $ENV{HOST}:$ENV{PORT}";',
    'print $c "HTTP/1.1 200 OK\\r\\ncontent-length: " . length($b) . "\\r\\nconnection: close\\r\\n\\r\\n$b"; close $c }',
  ].join(' '),
];

describe('one-machine platform: Pods', () => {
  it('starts 100 Pods at once, each on an address of its own, and every answer comes from the right one', async () => {
    const services = Array.from({ length: 100 }, (_, i) => `s${String(i).padStart(3, '0')}`);
    const p = await platform(`ingress: { port: 0 }
pods:
  startTimeoutSeconds: 300
  maxPods: 100
services:
${services
  .map(
    (name) => `  - name: ${name}
    command: ${JSON.stringify(PERL_APP)}
    annotations: { autoscaling.knative.dev/min-scale: "1" }
`,
  )
  .join('')}`);
    const allReady = await eventually(
      async () => (await p.status()).revisions.every((r) => r.readyPods === 1),
      240_000,
    );
    expect(allReady).toBe(true);

    const answers = await Promise.all(
      services.flatMap((name) =>
        [1, 2, 3].map(() => p.get(`${name}.default.localhost`).then((r) => ({ name, ...r }))),
      ),
    );
    const podOf = new Map<string, string>();
    for (const { name, status, body } of answers) {
      expect(status).toBe(200);
      const [revision, address] = body.split(' ');
      expect(revision).toBe(`${name}-00001`);
      expect(address).toMatch(/^127\.\d+\.\d+\.\d+:\d+$/);
      // One Pod a revision: its three answers come from one address.
      expect(podOf.get(name) ?? address).toBe(address);
      podOf.set(name, address!);
    }
    const hosts = [...podOf.values()].map((a) => a.split(':')[0]);
    expect(new Set(hosts).size).toBe(100);
    // Every Pod started at its first try: none took another's port or was reached through another's.
    expect(p.proc.stdout.filter((l) => l.includes('pod failed'))).toEqual([]);
  }, 300_000);

  it('serves an app listening on all interfaces, and fails one on 127.0.0.1 naming the address to bind', async () => {
    const app = (host: string) =>
      JSON.stringify([
        process.execPath,
        '-e',
        `require('http').createServer((q, s) => s.end('ok')).listen(+process.env.PORT${host})`,
      ]);
    const p = await platform(`ingress: { port: 0 }
pods:
  startTimeoutSeconds: 2
services:
  - name: everywhere
    command: ${app('')}
  - name: loopback
    command: ${app(", '127.0.0.1'")}
    annotations: { autoscaling.knative.dev/min-scale: "1" }
`);
    expect(await p.get('everywhere.default.localhost')).toMatchObject({ status: 200, body: 'ok' });
    const failed = await p.proc.waitForLine((l) => l.includes('pod failed'), 30_000);
    expect(failed).toMatch(/listens on 127\.0\.0\.1:\d+, not on its Pod's address 127\.\d+\.\d+\.\d+/);
  }, 60_000);

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

  it('runs no more Pods than pods.maxPods, shows the limit and the wish, and says so once', async () => {
    const p = await platform(`ingress: { port: 0 }
pods: { maxPods: 2 }
services:
  - name: flood
    command: ${JSON.stringify(PERL_APP)}
    annotations: { autoscaling.knative.dev/min-scale: "5" }
`);
    expect(p.proc.stdout.some((l) => l.includes('Pods:   at most 2 over all revisions (pods.maxPods)'))).toBe(
      true,
    );
    expect(await eventually(async () => (await p.revision('flood-00001')).readyPods === 2, 30_000)).toBe(
      true,
    );
    const pid = p.proc.child.pid!;
    // Several autoscaler decisions (one every 2 s), each asking for 5 again.
    const end = Date.now() + 5000;
    while (Date.now() < end) {
      const status = await p.status();
      expect(status).toMatchObject({ maxPods: 2, pods: 2 });
      expect(status.revisions[0]).toMatchObject({ desiredPods: 2, wantedPods: 5 });
      expect(platformProcesses(pid, 'IO::Socket')).toHaveLength(2);
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(p.proc.stdout.filter((l) => l.includes('pod limit reached'))).toEqual([
      expect.stringMatching(/revision=flood-00001 wanted=5 granted=2 maxPods=2/),
    ]);
  }, 60_000);

  it('exits 1 naming pods.maxPods when it is not a positive integer', async () => {
    const file = await writeConfig('pods: { maxPods: 0 }\nservices:\n  - name: a\n    command: x\n');
    const proc = spawnNode('packages/local/dist/main.js', {}, ['--config', file]);
    expect(await proc.exit()).toBe(1);
    expect(proc.stderr.join('')).toContain(
      `${file}:1: pods.maxPods: must be an integer in [1, 65000], got 0`,
    );
  });
});

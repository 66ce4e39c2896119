import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ACTIVATOR_NODE_FLAGS } from '@zerogate/activator/node-flags';
import { QUEUE_PROXY_NODE_FLAGS } from '@zerogate/queue-proxy/env';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, httpsRequest, KUBELET_PROBE, send } from './support/http.js';
import { containerCommand, KUBECTL, kustomizations, podTemplates, render } from './support/manifests.js';
import { componentOf } from './support/manifests-components.js';
import {
  type Dockerfile,
  dockerfileOf,
  execForm,
  finalStage,
  imageCommand,
  lastOf,
  parseDockerfile,
} from './support/manifests-dockerfile.js';
import {
  type BuiltImage,
  buildImage,
  cleanCheckout,
  contextFiles,
  copyArgs,
} from './support/manifests-image.js';
import { queueProxyEnv, ROOT, startedProcesses, startUserApp, TestProcess } from './support/processes.js';
import { TestApiServer } from './support/test-apiserver.js';
import { selfSignedTls, type TestTls } from './support/tls.js';
import { GIT_CHECKOUT, gate } from './support/tools.js';

const DOCKERFILES = ['Dockerfile.queue-proxy', 'Dockerfile.activator'] as const;

/** A pinned base: `name:1.2.3…` (a version tag, not `latest` or a bare major), optionally with a digest. */
const PINNED = /^[a-z0-9./-]+:\d+\.\d+\.\d+[a-z0-9.-]*(@sha256:[0-9a-f]{64})?$/;

describe.each(DOCKERFILES)('%s', (path) => {
  const dockerfile = () => parseDockerfile(path);

  it('builds in stages from a base pinned by version, and runs as a numeric non-root user', () => {
    const df = dockerfile();
    expect(df.stages.length).toBeGreaterThanOrEqual(2);
    const names = new Set(df.stages.map((s) => s.name).filter(Boolean));
    for (const stage of df.stages) {
      if (!names.has(stage.from)) expect(stage.from, `stage ${stage.index}`).toMatch(PINNED);
    }
    const final = finalStage(df);
    expect(final.instructions.some((i) => i.op === 'COPY' && i.flags['from'])).toBe(true);
    // Only the final stage's files ship: no build tools, no dev dependencies.
    expect(final.instructions.some((i) => i.op === 'RUN')).toBe(false);
    const user = lastOf(final, 'USER')?.args ?? '';
    expect(user).toMatch(/^\d+(:\d+)?$/);
    expect(Number(user.split(':')[0])).toBeGreaterThan(0);
    expect(imageCommand(df)[0]).toBe('node');
    expect(() => execForm(lastOf(final, 'ENTRYPOINT')!)).not.toThrow();
  });

  it('copies from the build context only what a clean checkout has', () => {
    const checkout = cleanCheckout();
    const missing = dockerfile()
      .stages.flatMap((s) => s.instructions)
      .filter((i) => i.op === 'COPY' && !i.flags['from'])
      .flatMap((i) => copyArgs(i).sources.filter((src) => contextFiles(src, checkout).length === 0));
    expect(missing).toEqual([]);
  });

  it('installs from the lockfile with every workspace manifest in place, production dependencies alone in one stage', () => {
    const df = dockerfile();
    const { workspaces } = JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as {
      workspaces: string[];
    };
    const installs = [];
    for (const stage of df.stages) {
      const copied: string[] = [];
      for (const i of stage.instructions) {
        if (i.op === 'COPY' && !i.flags['from']) copied.push(...copyArgs(i).sources);
        if (i.op !== 'RUN' || !/\bnpm ci\b/.test(i.args)) continue;
        installs.push(i.args);
        // npm checks the lockfile against every workspace's package.json: all must be there.
        expect(copied, `line ${i.line}`).toEqual(
          expect.arrayContaining(['package.json', 'package-lock.json']),
        );
        for (const ws of workspaces) expect(copied, `line ${i.line}: ${ws}`).toContain(`${ws}/package.json`);
      }
    }
    expect(installs.some((args) => /--omit=dev/.test(args))).toBe(true);
  });
});

describe.skipIf(!gate('git', GIT_CHECKOUT, 'the image builds (they copy what git tracks)'))(
  'the images, built outside Docker from a clean checkout',
  () => {
    let work: string;
    const images = new Map<string, BuiltImage>();

    beforeAll(() => {
      work = mkdtempSync(join(tmpdir(), 'zerogate-images-'));
      const checkout = cleanCheckout();
      for (const path of DOCKERFILES) {
        const started = performance.now();
        const image = buildImage(parseDockerfile(path), checkout, join(work, path));
        images.set(path, image);
        const steps = image.steps.map((s) => `${s.seconds}s ${s.command.slice(0, 60)}`).join('; ');
        console.log(`${path}: built in ${((performance.now() - started) / 1000).toFixed(1)} s (${steps})`);
      }
    }, 150_000);

    afterAll(() => {
      if (work) rmSync(work, { recursive: true, force: true });
    });

    /** Runs a command of the image from its working directory with only its ENV and `env`. */
    async function runInImage(image: BuiltImage, command: readonly string[], env: Record<string, string>) {
      expect(command[0]).toBe('node');
      const child = spawn(process.execPath, command.slice(1), {
        cwd: image.workdir,
        env: { PATH: '/usr/bin:/bin', ...image.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const proc = new TestProcess(child);
      startedProcesses.add(proc);
      void proc.exit().then(() => startedProcesses.delete(proc));
      const line = await proc.waitForLine((l) => l.includes('"msg":"started"'), 15_000);
      return { proc, ports: (JSON.parse(line) as { ports: Record<string, number> }).ports };
    }

    it('the queue-proxy image starts its entry point and answers its readiness probe, proxying to the app', async () => {
      const image = images.get('Dockerfile.queue-proxy')!;
      expect(image.env['NODE_ENV']).toBe('production');
      const app = await startUserApp();
      const { ports } = await runInImage(
        image,
        imageCommand(parseDockerfile('Dockerfile.queue-proxy')),
        queueProxyEnv(app.port),
      );
      const url = `http://127.0.0.1:${ports['serving']}/`;
      const probe = await send(url, { headers: KUBELET_PROBE });
      expect([probe.status, probe.body]).toEqual([200, 'queue']);
      expect((await send(url)).status).toBe(200);
    });

    it('the queue-proxy image runs Node with the queue-proxy’s own flags, as every platform launches it', () => {
      expect(imageCommand(parseDockerfile('Dockerfile.queue-proxy'))).toEqual([
        'node',
        ...QUEUE_PROXY_NODE_FLAGS,
        'packages/queue-proxy/dist/main.js',
      ]);
    });

    it('the activator image runs Node with the activator’s own flags, as every platform launches it', () => {
      expect(imageCommand(parseDockerfile('Dockerfile.activator'))).toEqual([
        'node',
        ...ACTIVATOR_NODE_FLAGS,
        'packages/activator/dist/main.js',
      ]);
    });

    it('the queue-proxy image ships a compile cache of its modules, which its entry point starts from and never writes', async () => {
      const image = images.get('Dockerfile.queue-proxy')!;
      expect(image.env['NODE_COMPILE_CACHE']).toBe('/app/.node-compile-cache');
      expect(image.env['NODE_COMPILE_CACHE_PORTABLE']).toBe('1');
      const app = await startUserApp();
      const { proc } = await runInImage(image, imageCommand(parseDockerfile('Dockerfile.queue-proxy')), {
        ...queueProxyEnv(app.port),
        // The replayed image's root is a folder, not /: its cache is where WORKDIR put it there.
        NODE_COMPILE_CACHE: join(image.workdir, '.node-compile-cache'),
        NODE_DEBUG_NATIVE: 'COMPILE_CACHE',
        QUEUE_DRAIN_QUIET_SECONDS: '0',
      });
      proc.signal('SIGTERM');
      await proc.exit();
      const debug = proc.stderr.join('');
      const accepted = debug.match(/V8 code cache for \w+ \S+ was accepted/g) ?? [];
      // The bundle's chunks: the queue-proxy's own, and the one of core and pino it imports.
      const chunks = accepted.filter((l) => l.includes('packages/queue-proxy/dist/chunks/'));
      expect(chunks.join('\n')).toContain('packages/queue-proxy/dist/chunks/run-queue-proxy-');
      expect(chunks.length).toBeGreaterThanOrEqual(3);
      // Every module it loaded was in the cache but the few lines of the entry point itself (which the cache
      // filler cannot load without starting it): nothing else was compiled afresh, so nothing else is written.
      expect(debug).not.toContain('was rejected');
      const written = debug.split('\n').filter((l) => l.includes('Creating temporary file'));
      expect(written.map((l) => /file:\/\/\S+/.exec(l)?.[0].split('/app/')[1])).toEqual([
        'packages/queue-proxy/dist/main.js',
      ]);
    });

    it('a file missing from the image stops its entry point before it listens', async () => {
      const image = images.get('Dockerfile.queue-proxy')!;
      const broken = join(work, 'broken');
      cpSync(image.root, broken, { recursive: true, verbatimSymlinks: true });
      const workdir = join(broken, image.workdir.slice(image.root.length));
      rmSync(join(workdir, 'packages/queue-proxy/dist/chunks'), { recursive: true });
      const child = spawn(
        process.execPath,
        imageCommand(parseDockerfile('Dockerfile.queue-proxy')).slice(1),
        {
          cwd: workdir,
          env: { PATH: '/usr/bin:/bin', ...image.env, ...queueProxyEnv(1) },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      const proc = new TestProcess(child);
      expect(await proc.exit()).not.toBe(0);
      expect(proc.stderr.join('')).toMatch(/ERR_MODULE_NOT_FOUND|Cannot find/);
    });

    describe('the activator image', () => {
      let api: TestApiServer;
      let tls: TestTls;
      let dir: string;
      const image = () => images.get('Dockerfile.activator')!;

      beforeAll(async () => {
        api = await TestApiServer.start();
        tls = selfSignedTls('injector.zerogate-system.svc');
        dir = mkdtempSync(join(tmpdir(), 'zerogate-image-run-'));
        api.writeKubeConfig(join(dir, 'kubeconfig.json'));
      });
      afterAll(async () => {
        await api?.close();
        tls?.remove();
        if (dir) rmSync(dir, { recursive: true, force: true });
      });

      it('runs the activator (its entry point) and the autoscaler, and the activator turns ready', async () => {
        const kubeconfig = join(dir, 'kubeconfig.json');
        const autoscaler = await runInImage(image(), ['node', 'packages/autoscaler/dist/main.js'], {
          AUTOSCALER_BIND_ADDRESS: '127.0.0.1',
          AUTOSCALER_PORT: '0',
          AUTOSCALER_METRICS_PORT: '0',
          KUBECONFIG: kubeconfig,
        });
        const stats = `http://127.0.0.1:${autoscaler.ports['stats']}/`;
        expect((await send(stats, { headers: { 'user-agent': 'kube-probe/1.32' } })).status).toBe(200);
        const activator = await runInImage(image(), imageCommand(parseDockerfile('Dockerfile.activator')), {
          POD_NAME: 'activator-0',
          POD_IP: '127.0.0.1',
          ACTIVATOR_BIND_ADDRESS: '127.0.0.1',
          ACTIVATOR_HTTP_PORT: '0',
          ACTIVATOR_H2C_PORT: '0',
          ACTIVATOR_METRICS_PORT: '0',
          ACTIVATOR_DRAIN_SECONDS: '0',
          AUTOSCALER_URL: `ws://127.0.0.1:${autoscaler.ports['stats']}`,
          KUBECONFIG: kubeconfig,
        });
        const health = `http://127.0.0.1:${activator.ports['http']}/`;
        expect(
          await eventually(
            async () => (await send(health, { headers: { 'user-agent': 'kube-probe/1.32' } })).status === 200,
            10_000,
          ),
        ).toBe(true);
      });

      it('runs the in-process example app, which answers the kubelet on its own port and serves its Stat', async () => {
        const child = spawn(process.execPath, ['examples/hello-in-process/server.mjs'], {
          cwd: image().workdir,
          env: { PATH: '/usr/bin:/bin', ...image().env, ...queueProxyEnv(1), PORT: '0', HOST: '127.0.0.1' },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        const proc = new TestProcess(child);
        startedProcesses.add(proc);
        void proc.exit().then(() => startedProcesses.delete(proc));
        const line = await proc.waitForLine((l) => l.includes('"msg":"listening"'), 15_000);
        const { ports } = JSON.parse(line) as { ports: Record<string, number> };
        const probe = await send(`http://127.0.0.1:${ports['serving']}/`, { headers: KUBELET_PROBE });
        expect(probe.status).toBe(200);
        expect((await send(`http://127.0.0.1:${ports['stats']}/metrics`)).status).toBe(200);
      });

      it('runs the injector, which answers its health check over HTTPS', async () => {
        const injector = await runInImage(image(), ['node', 'packages/injector/dist/main.js'], {
          INJECTOR_QUEUE_PROXY_IMAGE: 'ghcr.io/zerogate/queue-proxy:0.1.0',
          INJECTOR_BIND_ADDRESS: '127.0.0.1',
          INJECTOR_PORT: '0',
          INJECTOR_TLS_CERT_FILE: tls.certFile,
          INJECTOR_TLS_KEY_FILE: tls.keyFile,
          KUBECONFIG: join(dir, 'kubeconfig.json'),
        });
        const res = await httpsRequest(injector.ports['https']!, {
          path: '/healthz',
          ca: tls.cert,
          servername: 'injector.zerogate-system.svc',
        });
        expect(res.status).toBe(200);
      });
    });

    it.skipIf(!KUBECTL)('every command the manifests run from our images is in the image', () => {
      const missing: string[] = [];
      for (const { dir } of kustomizations().filter((k) => k.kind === 'Kustomization')) {
        for (const t of podTemplates(render(dir))) {
          for (const c of t.spec.containers) {
            const df: Dockerfile | undefined = dockerfileOf(c.image ?? '');
            if (!df) continue;
            const command = containerCommand(c, imageCommand(df));
            const built = images.get(df.path)!;
            // The examples may run an example app the image carries (deploy/examples/hello-in-process).
            const known =
              componentOf(command) || (dir.startsWith('deploy/examples/') && command[0] === 'node');
            // Node's own flags come before the script.
            const script = command.slice(1).find((arg) => !arg.startsWith('-'));
            if (!known || script === undefined || !existsSync(join(built.workdir, script))) {
              missing.push(`${dir}: ${c.name} runs ${command.join(' ')}`);
            }
          }
        }
      }
      expect(missing).toEqual([]);
    });
  },
);

#!/usr/bin/env node
// `npm start`: runs the hello example app behind a queue-proxy on this machine and says how to call it.
// Ctrl-C drains the queue-proxy, then stops the app.
import { spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const appPort = process.env.APP_PORT ?? '8080';
const servingPort = process.env.QUEUE_SERVING_PORT ?? '8012';

const app = spawn(process.execPath, [resolve(root, 'examples/hello/server.mjs')], {
  env: { ...process.env, PORT: appPort, K_REVISION: 'hello-00001' },
  stdio: 'inherit',
});
const queueProxy = spawn(process.execPath, [resolve(root, 'packages/queue-proxy/dist/main.js')], {
  env: {
    ...process.env,
    CONTAINER_CONCURRENCY: process.env.CONTAINER_CONCURRENCY ?? '10',
    QUEUE_SERVING_PORT: servingPort,
    QUEUE_SERVING_TLS_PORT: '8112',
    USER_PORT: appPort,
    REVISION_TIMEOUT_SECONDS: '300',
    SERVING_LOGGING_CONFIG: '',
    SERVING_LOGGING_LEVEL: 'info',
    SERVING_NAMESPACE: 'default',
    SERVING_CONFIGURATION: 'hello',
    SERVING_REVISION: 'hello-00001',
    SERVING_POD: 'hello-00001-local',
    SERVING_POD_IP: '127.0.0.1',
    SERVING_READINESS_PROBE: JSON.stringify({ tcpSocket: { port: Number(appPort), host: '127.0.0.1' } }),
    OBSERVABILITY_CONFIG: JSON.stringify({ requestMetrics: { protocol: 'prometheus' } }),
    QUEUE_BIND_ADDRESS: process.env.QUEUE_BIND_ADDRESS ?? '127.0.0.1',
    QUEUE_DRAIN_QUIET_SECONDS: process.env.QUEUE_DRAIN_QUIET_SECONDS ?? '1',
  },
  stdio: ['ignore', 'pipe', 'inherit'],
});

queueProxy.stdout.setEncoding('utf8');
let announced = false;
queueProxy.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  if (!announced && chunk.includes('"msg":"started"')) {
    announced = true;
    const base = `http://127.0.0.1:${servingPort}`;
    process.stdout.write(
      `\nZerogate queue-proxy is serving the hello app (containerConcurrency ${process.env.CONTAINER_CONCURRENCY ?? '10'}).\n` +
        `  call it:        curl ${base}/\n` +
        `  readiness:      curl -H 'User-Agent: kube-probe/1.30' -H 'K-Network-Probe: queue' ${base}/\n` +
        `  request metrics: curl http://127.0.0.1:${process.env.QUEUE_METRICS_PORT ?? '9091'}/metrics\n` +
        'Press Ctrl-C to drain and stop.\n\n',
    );
  }
});

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  queueProxy.kill('SIGTERM');
}
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
queueProxy.on('exit', (code) => {
  app.kill('SIGTERM');
  app.on('exit', () => process.exit(stopping ? 0 : (code ?? 1)));
});
app.on('exit', (code) => {
  if (!stopping) {
    process.stderr.write(`hello app exited (${code}); stopping\n`);
    stop();
  }
});

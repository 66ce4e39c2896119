#!/usr/bin/env node
// The hello example app in in-process mode: its own node:http server carries the queue-proxy's contract
// (@zerogate/in-process), so the Pod needs no queue-proxy sidecar. It serves $PORT (on $HOST when set);
// the stats port, the admin port and the settings come from the variables Knative gives the queue-proxy.
// `/delay?ms=N` answers after N milliseconds, to watch the breaker and the timeouts at work.
import { createServer } from 'node:http';
import { attach } from '@zerogate/in-process';

const port = Number(process.env.PORT ?? 8080);
const revision = process.env.K_REVISION ?? 'local';

function hello(req, res) {
  const body = `Hello from Zerogate! (revision ${revision}, path ${req.url})\n`;
  res.writeHead(200, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://app');
  if (url.pathname === '/delay') {
    setTimeout(() => hello(req, res), Number(url.searchParams.get('ms') ?? 100));
    return;
  }
  hello(req, res);
});

// Probes, the breaker, timeouts, stats, metrics and the drain on SIGTERM; throws naming a bad variable.
const zerogate = await attach(server);
server.listen(port, process.env.HOST ?? '127.0.0.1', () => {
  // The `listening` line of every example app (the platform notes its time), with the side ports too.
  const serving = server.address().port;
  zerogate.logger.info({ port: serving, ports: { serving, ...zerogate.ports }, revision }, 'listening');
});

#!/usr/bin/env node
// The streaming example app: server-sent events, EVENTS (default 10) of them INTERVAL_MS (default 200)
// apart; `?events=N&interval=MS` per request.
import { createServer } from 'node:http';

const port = Number(process.env.PORT ?? 8080);
const revision = process.env.K_REVISION ?? 'local';

function param(url, name, fallback) {
  const v = Number(url.searchParams.get(name) ?? Number.NaN);
  return Number.isFinite(v) && v >= 0 ? v : fallback;
}

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://app');
  const events = param(url, 'events', Number(process.env.EVENTS ?? 10));
  const interval = param(url, 'interval', Number(process.env.INTERVAL_MS ?? 200));
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  let sent = 0;
  const tick = () => {
    if (sent === events) {
      res.end('event: end\ndata: done\n\n');
      return;
    }
    sent++;
    res.write(
      `id: ${sent}\ndata: ${JSON.stringify({ n: sent, revision, at: new Date().toISOString() })}\n\n`,
    );
    timer = setTimeout(tick, interval);
  };
  let timer = setTimeout(tick, 0);
  res.on('close', () => clearTimeout(timer));
});
server.listen(port, process.env.HOST ?? '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ msg: 'listening', port, revision })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));

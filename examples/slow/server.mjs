#!/usr/bin/env node
// The slow example app: each request takes SERVICE_TIME_MS (default 500), or `?ms=N` for that request,
// so containerConcurrency and scaling have something to work against.
import { createServer } from 'node:http';

const port = Number(process.env.PORT ?? 8080);
const revision = process.env.K_REVISION ?? 'local';
const defaultMs = Number(process.env.SERVICE_TIME_MS ?? 500);
let inFlight = 0;

const server = createServer((req, res) => {
  const asked = new URL(req.url ?? '/', 'http://app').searchParams.get('ms');
  const ms = asked !== null && Number.isFinite(Number(asked)) ? Math.max(0, Number(asked)) : defaultMs;
  inFlight++;
  setTimeout(() => {
    const body = `slept ${ms} ms (revision ${revision}, ${inFlight} in flight, pid ${process.pid})\n`;
    inFlight--;
    res.writeHead(200, {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  }, ms);
});
server.listen(port, process.env.HOST ?? '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ msg: 'listening', port, revision })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));

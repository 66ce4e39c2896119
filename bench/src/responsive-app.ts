/**
 * The user container of the `responsiveness` scenario: an app whose requests wait for the harness.
 *
 * - `GET /hold`: never answered; the request stays open until the client or the queue-proxy
 *   cancels it. It holds a breaker slot, or runs into a timeout.
 * - `GET /events`: a server-sent event stream whose head is sent at once; on SIGUSR2 the app writes
 *   one event to every open stream, `data: <ns>`, where `<ns>` is `process.hrtime.bigint()` taken
 *   just before the write. That clock is the kernel's monotonic clock, the same in every process on
 *   the machine, so the client can subtract it from its own reading of it on arrival.
 * - `GET /state`: `{"held":n,"streams":m}`, the requests and streams open now, asked directly (not
 *   through the queue-proxy) by the harness to know the app holds what it should.
 *
 * A signal, not a request, fires the event, so nothing else runs in the app or crosses the
 * queue-proxy while the event travels. Listens on 127.0.0.1:`PORT`.
 */
import { createServer, type ServerResponse } from 'node:http';

const port = Number(process.env['PORT']);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error(`responsive-app: PORT must be a TCP port, got ${JSON.stringify(process.env['PORT'])}`);
  process.exit(2);
}

const held = new Set<ServerResponse>();
const streams = new Set<ServerResponse>();

/** Keeps `res` in `set` until its connection closes. */
function keep(set: Set<ServerResponse>, res: ServerResponse): void {
  set.add(res);
  res.on('close', () => set.delete(res));
}

const server = createServer((req, res) => {
  switch (req.url) {
    case '/hold':
      keep(held, res);
      return;
    case '/events':
      keep(streams, res);
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.flushHeaders();
      return;
    case '/state':
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ held: held.size, streams: streams.size }));
      return;
    default:
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
  }
});

process.on('SIGUSR2', () => {
  for (const res of streams) res.write(`data: ${process.hrtime.bigint()}\n\n`);
});

server.listen(port, '127.0.0.1');

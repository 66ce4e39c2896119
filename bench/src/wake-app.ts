/**
 * The fault-injected user container of the `wakes` scenario: an app whose port opens before its
 * handler is ready, so a TCP readiness probe passes 0–2 s too early (`WAKE_FAULT_DELAY_MS`).
 *
 * - `WAKE_FAULT=reset`: every connection accepted before the handler is ready is reset before any
 *   byte is written (a server that accepts and drops what it cannot serve yet).
 * - `WAKE_FAULT=unattached`: the listening socket is open but nothing reads the connections it
 *   accepts until the handler attaches; then they are served (a framework that binds its port before
 *   its routes are loaded).
 * - `WAKE_FAULT=path`: HTTP is served from the moment the port opens, and `GET /healthz` answers 200 at
 *   once, so an HTTP readiness probe of that path passes too early as well (a health route registered
 *   before the routes it should vouch for); any other request has its connection reset once its head is
 *   read, before any byte of an answer, until the handler is ready.
 *
 * Once ready it answers every request 200 at once, as the hello example does, and prints the
 * `listening` line the platform times; `socket open` (with `at`, ms since the epoch) marks the port
 * opening. Bad settings exit 2 naming the variable.
 */
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Socket } from 'node:net';
import { drawDelay, parseWakeAppOptions, type WakeAppOptions } from './wake-app-options.js';

/** The readiness path that, with `WAKE_FAULT=path`, reports ready before the app is. */
const HEALTH_PATH = '/healthz';

let options: WakeAppOptions;
try {
  options = parseWakeAppOptions(process.env);
} catch (err) {
  console.error((err as Error).message);
  process.exit(2);
}
const revision = process.env['K_REVISION'] ?? 'local';

let ready = false;
const http = createHttpServer((req, res) => {
  if (!ready && !(req.method === 'GET' && req.url?.split('?')[0] === HEALTH_PATH)) {
    // Only `path` hands a connection over before it is ready: the head is read, no answer is sent.
    req.socket.resetAndDestroy();
    return;
  }
  const body = `Hello from Zerogate! (revision ${revision}, path ${req.url})\n`;
  res.writeHead(200, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
});

const waiting: Socket[] = [];
const server = createServer({ pauseOnConnect: true }, (socket) => {
  if (ready || options.fault === 'path') {
    http.emit('connection', socket);
    socket.resume();
  } else if (options.fault === 'reset') {
    socket.resetAndDestroy();
  } else {
    waiting.push(socket);
    socket.on('close', () => waiting.splice(waiting.indexOf(socket), 1));
  }
});

server.listen(options.port, options.host, () => {
  const delay = drawDelay(options.delayMs, Math.random);
  process.stdout.write(`${JSON.stringify({ msg: 'socket open', at: Date.now(), delayMs: delay })}\n`);
  setTimeout(() => {
    ready = true;
    for (const socket of waiting.splice(0)) {
      socket.removeAllListeners('close');
      http.emit('connection', socket);
      socket.resume();
    }
    process.stdout.write(`${JSON.stringify({ msg: 'listening', port: options.port, revision })}\n`);
  }, delay);
});
// The queue-proxy in front has drained and stopped by now: nothing is left to finish.
process.on('SIGTERM', () => process.exit(0));

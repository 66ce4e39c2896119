/**
 * The user container of the chaos suite: a node:http server that answers `200 ok`, after `?ms=N`
 * milliseconds when asked, echoes websocket messages, and counts everything it receives, so a
 * scenario can tell whether a malformed request reached it.
 *
 * `GET /__chaos/state` answers the counts as JSON and is not counted itself. Listens on `PORT` at the
 * address in `HOST` (the one-machine platform gives each Pod its own), 127.0.0.1 without it; prints `{"msg":"listening"}` once it does (the platform's start timeline reads it);
 * SIGTERM closes the listener and exits once requests in flight are done.
 */
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';

const port = Number(process.env['PORT'] ?? 8080);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error(`chaos-app: PORT must be a TCP port, got ${JSON.stringify(process.env['PORT'])}`);
  process.exit(2);
}

/** The app's counters, as `GET /__chaos/state` reports them. */
interface AppState {
  requests: number;
  /** Requests whose path or headers were not those of the suite's legitimate traffic. */
  unexpected: number;
  inFlight: number;
  upgrades: number;
  openSockets: number;
  bodyBytes: number;
  /**
   * The last {@link KEPT_UNEXPECTED} unexpected requests that arrived whole (head and body to its end) as
   * `<url> <X-Chaos-Case>`, so a scenario can tell which of its malformed requests got through. A request
   * whose body a proxy cut short when its framing turned out bad (proxies stream, as Knative's does) never
   * arrived whole: the app cannot act on it.
   */
  unexpectedRequests: string[];
}

const KEPT_UNEXPECTED = 200;

const state: AppState = {
  requests: 0,
  unexpected: 0,
  inFlight: 0,
  upgrades: 0,
  openSockets: 0,
  bodyBytes: 0,
  unexpectedRequests: [],
};
const OK = Buffer.from('ok\n');
const LEGITIMATE_PATH = /^\/(\?ms=\d+)?$|^\/legit(\?.*)?$/;

const server = createServer((req, res) => {
  if (req.url === '/__chaos/state') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(state));
    return;
  }
  state.requests++;
  if (!LEGITIMATE_PATH.test(req.url ?? '')) {
    state.unexpected++;
    req.once('end', () => {
      state.unexpectedRequests.push(`${req.url} ${req.headers['x-chaos-case'] ?? ''}`);
      if (state.unexpectedRequests.length > KEPT_UNEXPECTED) state.unexpectedRequests.shift();
    });
  }
  state.inFlight++;
  req.on('data', (chunk: Buffer) => {
    state.bodyBytes += chunk.length;
  });
  req.on('end', () => {
    const asked = Number(new URL(req.url ?? '/', 'http://app').searchParams.get('ms') ?? 0);
    const answer = () => {
      state.inFlight--;
      if (res.destroyed) return;
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': OK.length });
      res.end(OK);
    };
    if (Number.isFinite(asked) && asked > 0) setTimeout(answer, Math.min(asked, 60_000));
    else answer();
  });
});
server.keepAliveTimeout = 120_000;

const sockets = new WebSocketServer({ server });
sockets.on('connection', (ws) => {
  state.upgrades++;
  state.openSockets++;
  ws.on('message', (data, binary) => ws.send(data, { binary }));
  ws.on('close', () => state.openSockets--);
  ws.on('error', () => {});
});

const host = process.env['HOST'] ?? '127.0.0.1';
server.listen(port, host, () => {
  process.stdout.write(`${JSON.stringify({ msg: 'listening', port })}\n`);
});
process.on('SIGTERM', () => {
  sockets.close();
  server.close(() => process.exit(0));
  server.closeIdleConnections();
});

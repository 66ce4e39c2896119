/**
 * The user container for the benchmarks: a node:http server that answers every request with
 * `200 hello` at once, so what is measured in front of it is the proxy, not the app.
 *
 * Listens on 127.0.0.1:`PORT` (default 8080). With `HELLO_CROWDED_MS` set it runs in crowded mode
 * instead (`crowd-delay.ts`): each request is answered after `HELLO_CROWDED_MS` × (requests in flight
 * when it arrived)^`HELLO_CROWDED_EXP` (default 1.5) milliseconds, an app that slows down faster than
 * its load grows, for the activator's paced-wake measurement.
 */
import { createServer, type RequestListener } from 'node:http';
import { crowdDelayMs, parseCrowdSettings } from './crowd-delay.js';

const port = Number(process.env['PORT'] ?? 8080);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error(`hello-app: PORT must be a TCP port, got ${JSON.stringify(process.env['PORT'])}`);
  process.exit(2);
}
let crowd: ReturnType<typeof parseCrowdSettings>;
try {
  crowd = parseCrowdSettings(process.env);
} catch (err) {
  console.error(`hello-app: ${(err as Error).message}`);
  process.exit(2);
}

// Hoisted so a request allocates nothing here.
const BODY = Buffer.from('hello');
const HEADERS = { 'content-type': 'text/plain', 'content-length': String(BODY.length) };

const hello: RequestListener = (_req, res) => {
  res.writeHead(200, HEADERS);
  res.end(BODY);
};

/** The crowded mode's handler, chosen once at start so the plain one has no branch. */
function crowded(settings: NonNullable<typeof crowd>): RequestListener {
  let inFlight = 0;
  return (_req, res) => {
    inFlight++;
    let left = false;
    const leave = () => {
      if (!left) {
        left = true;
        inFlight--;
      }
    };
    res.on('close', leave);
    setTimeout(
      () => {
        res.writeHead(200, HEADERS);
        res.end(BODY);
      },
      crowdDelayMs(settings, inFlight),
    );
  };
}

const server = createServer(crowd === undefined ? hello : crowded(crowd));
server.listen(port, '127.0.0.1');

/**
 * The user container for the benchmarks: a node:http server that answers every request with
 * `200 hello` at once, so what is measured in front of it is the proxy, not the app.
 *
 * Listens on 127.0.0.1:`PORT` (default 8080).
 */
import { createServer } from 'node:http';

const port = Number(process.env['PORT'] ?? 8080);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error(`hello-app: PORT must be a TCP port, got ${JSON.stringify(process.env['PORT'])}`);
  process.exit(2);
}

// Hoisted so a request allocates nothing here.
const BODY = Buffer.from('hello');
const HEADERS = { 'content-type': 'text/plain', 'content-length': String(BODY.length) };

const server = createServer((_req, res) => {
  res.writeHead(200, HEADERS);
  res.end(BODY);
});
server.listen(port, '127.0.0.1');

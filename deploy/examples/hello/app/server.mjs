#!/usr/bin/env node
// The hello example app: answers every request at once on $PORT (Knative's contract for user containers),
// on the address in $HOST when set (the one-machine platform gives each Pod its own).
import { createServer } from 'node:http';

const port = Number(process.env.PORT ?? 8080);
const revision = process.env.K_REVISION ?? 'local';

const server = createServer((req, res) => {
  const body = `Hello from Zerogate! (revision ${revision}, path ${req.url})\n`;
  res.writeHead(200, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
});
server.listen(port, process.env.HOST ?? '127.0.0.1', () => {
  // The platform notes this line's time to split a cold start into its stages.
  process.stdout.write(`${JSON.stringify({ msg: 'listening', port, revision })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));

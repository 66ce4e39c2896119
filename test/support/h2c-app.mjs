#!/usr/bin/env node
// An h2c (prior-knowledge HTTP/2 cleartext) user container for tests, on 127.0.0.1:$PORT (0 = any; the
// bound port is printed as the first stdout line, `{"port":N}`).
import { createServer } from 'node:http2';

let current = 0;
let max = 0;
const server = createServer((req, res) => {
  const url = new URL(req.url, 'http://app');
  if (url.pathname === '/_stats') {
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(JSON.stringify({ current, max }));
  }
  current++;
  max = Math.max(max, current);
  res.on('close', () => current--);
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const reply = () => {
      res.writeHead(200, { 'content-type': 'application/json', trailer: 'x-checksum' });
      res.addTrailers({ 'x-checksum': 'abc123' });
      res.end(
        JSON.stringify({
          httpVersion: req.httpVersion,
          method: req.method,
          path: req.url,
          headers: req.headers,
          body: Buffer.concat(chunks).toString(),
        }),
      );
    };
    const delay = Number(url.searchParams.get('ms') ?? 0);
    if (delay > 0) setTimeout(reply, delay);
    else reply();
  });
});
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});

#!/usr/bin/env node
// A user container for tests: a real HTTP server on 127.0.0.1:$PORT (0 = any; the bound port is
// printed as the first stdout line, `{"port":N}`). Behaviour is chosen per request by path.
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';

const port = Number(process.env.PORT ?? 0);
let current = 0;
let max = 0;
let total = 0;
const seen = [];

function json(res, status, value) {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

const server = createServer((req, res) => {
  const url = new URL(req.url, 'http://app');
  const q = (name, dflt) => Number(url.searchParams.get(name) ?? dflt);
  if (url.pathname === '/_stats') return json(res, 200, { current, max, total });
  if (url.pathname === '/_seen') return json(res, 200, seen);
  current++;
  total++;
  max = Math.max(max, current);
  seen.push({ path: url.pathname + url.search, userAgent: req.headers['user-agent'] ?? '' });
  let done = false;
  const leave = () => {
    if (!done) {
      done = true;
      current--;
    }
  };
  res.on('close', leave);
  switch (url.pathname) {
    case '/':
      res.writeHead(200, { 'content-type': 'text/plain' });
      return res.end('hello');
    case '/echo': {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () =>
        json(res, 200, {
          method: req.method,
          url: req.url,
          httpVersion: req.httpVersion,
          headers: req.headers,
          body: Buffer.concat(chunks).toString(),
        }),
      );
      return;
    }
    case '/delay':
      setTimeout(
        () => {
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.end('ok');
        },
        q('ms', 100),
      );
      return;
    case '/crowded':
      // A cold app that slows down faster than its load grows: answers after `ms` × (requests in flight
      // when this one arrived)^`exp` ms, so that sending it everything at once is slower than pacing.
      setTimeout(
        () => {
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.end('ok');
        },
        q('ms', 1) * current ** q('exp', 1.5),
      );
      return;
    case '/stream': {
      // Server-sent events: `n` events `interval` ms apart, each flushed at once.
      const n = q('n', 3);
      const interval = q('interval', 100);
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      let i = 0;
      const tick = () => {
        res.write(`data: ${i}\n\n`);
        i++;
        if (i >= n) res.end();
        else setTimeout(tick, interval);
      };
      tick();
      return;
    }
    case '/fixed-partial':
      // Declares a length, sends part of it, then stalls.
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 100 });
      res.write('partial');
      return;
    case '/hang':
      return;
    case '/reset':
      req.socket.destroy();
      return;
    case '/headers': {
      // Answers status `code` with each `set=name:value` as a response header.
      const headers = { 'content-type': 'text/plain' };
      for (const field of url.searchParams.getAll('set')) {
        const colon = field.indexOf(':');
        headers[field.slice(0, colon)] = field.slice(colon + 1);
      }
      res.writeHead(q('code', 200), headers);
      return res.end(`status ${q('code', 200)}`);
    }
    case '/status':
      res.writeHead(q('code', 200), { 'content-type': 'text/plain' });
      return res.end(`status ${q('code', 200)}`);
    case '/upload': {
      let bytes = 0;
      req.on('data', (c) => {
        bytes += c.length;
      });
      req.on('end', () => json(res, 200, { bytes }));
      return;
    }
    default:
      res.writeHead(404);
      res.end('not found');
  }
});

// A minimal websocket endpoint: completes the handshake, then echoes text frames back unmasked.
server.on('upgrade', (req, socket) => {
  current++;
  total++;
  max = Math.max(max, current);
  socket.on('close', () => current--);
  const key = req.headers['sec-websocket-key'];
  if (!key) return socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n');
  const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
  socket.write(
    `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
  );
  let buf = Buffer.alloc(0);
  socket.on('data', (data) => {
    buf = Buffer.concat([buf, data]);
    while (buf.length >= 2) {
      const opcode = buf[0] & 0x0f;
      let len = buf[1] & 0x7f;
      let off = 2;
      if (len === 126) {
        if (buf.length < 4) return;
        len = buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) return socket.destroy();
      const masked = (buf[1] & 0x80) !== 0;
      const need = off + (masked ? 4 : 0) + len;
      if (buf.length < need) return;
      const mask = masked ? buf.subarray(off, off + 4) : null;
      const payload = Buffer.from(buf.subarray(off + (masked ? 4 : 0), need));
      if (mask) for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i % 4];
      buf = buf.subarray(need);
      if (opcode === 0x8) return socket.end(Buffer.from([0x88, 0]));
      if (opcode === 0x1) {
        const header =
          payload.length < 126
            ? Buffer.from([0x81, payload.length])
            : Buffer.from([0x81, 126, payload.length >> 8, payload.length & 0xff]);
        socket.write(Buffer.concat([header, payload]));
      }
    }
  });
  socket.on('error', () => {});
});

server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));

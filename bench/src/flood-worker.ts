/**
 * The worker thread of {@link Flood} (`flood.ts`): opens many connections to one port, sends one
 * request on each, and counts the answers by status. In a thread of its own so that opening thousands
 * of connections does not stall the event loop that times other requests.
 */
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import type { FloodCount, FloodReply, FloodRequest, FloodTarget } from './flood.js';

/** Connections opened at once; each batch is connected before the next starts, as a real crowd ramps. */
const CONNECT_BATCH = 200;

const { port, head } = workerData as FloodTarget;
const port_ = parentPort;
if (port_ === null) throw new Error('flood-worker runs as a worker thread');

let sockets = new Set<Socket>();
let statuses: Record<string, number> = {};
let failed = 0;
let lastAnswerAt: number | undefined;

/** Opens one connection and sends the request; counts its answer's status once its first line arrives. */
function open(): Promise<void> {
  return new Promise((resolve) => {
    let line = '';
    let answered = false;
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(head);
      resolve();
    });
    sockets.add(socket);
    const live = sockets;
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      if (answered) return;
      line += chunk;
      const end = line.indexOf('\r\n');
      if (end < 0) return;
      answered = true;
      const status = line.slice(0, end).split(' ')[1] ?? '?';
      statuses[status] = (statuses[status] ?? 0) + 1;
      lastAnswerAt = performance.timeOrigin + performance.now();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      live.delete(socket);
      // Counted only while the flood is live: the ones destroyed by `close` are not failures.
      if (!answered && live === sockets) failed++;
      resolve();
    });
  });
}

async function send(count: number): Promise<void> {
  for (let sent = 0; sent < count; sent += CONNECT_BATCH) {
    await Promise.all(Array.from({ length: Math.min(CONNECT_BATCH, count - sent) }, open));
  }
}

function snapshot(): FloodCount {
  return { statuses: { ...statuses }, failed, open: sockets.size, lastAnswerAt };
}

port_.on('message', async (request: FloodRequest) => {
  let reply: FloodReply;
  switch (request.op) {
    case 'send':
      await send(request.count);
      reply = { id: request.id, count: snapshot() };
      break;
    case 'count':
      reply = { id: request.id, count: snapshot() };
      break;
    case 'close': {
      const closing = sockets;
      sockets = new Set();
      statuses = {};
      failed = 0;
      lastAnswerAt = undefined;
      for (const socket of closing) socket.destroy();
      reply = { id: request.id, count: snapshot() };
      break;
    }
  }
  port_.postMessage(reply);
});

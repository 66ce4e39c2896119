import type { Server as HttpServer } from 'node:http';
import type { Http2Server } from 'node:http2';
import { createServer, type Server, type Socket } from 'node:net';

/** The client connection preface that opens every HTTP/2 connection (RFC 9113 §3.4). */
const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

/**
 * One listener for HTTP/1.1 and prior-knowledge h2c, as Knative's serving port (`pkg:network/h2c.go`):
 * each new connection's first bytes decide which server gets it, and are put back for that server to
 * read. Only the first packet of a connection is inspected, so keep-alive traffic pays nothing.
 */
export function createServingListener(http1: HttpServer, http2: Http2Server): Server {
  // Node arms HTTP/1's header and keep-alive timeout checks when its server listens; this one never does.
  http1.emit('listening');
  return createServer({ noDelay: true }, (socket) => route(socket, http1, http2, Buffer.alloc(0)));
}

function route(socket: Socket, http1: HttpServer, http2: Http2Server, seen: Buffer): void {
  socket.once('data', (chunk: Buffer) => {
    socket.pause();
    const head = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
    if (head.length < H2_PREFACE.length && H2_PREFACE.subarray(0, head.length).equals(head)) {
      // Could still be the preface: wait for more.
      socket.resume();
      route(socket, http1, http2, head);
      return;
    }
    socket.unshift(head);
    const isH2 = head.subarray(0, H2_PREFACE.length).equals(H2_PREFACE);
    if (isH2) {
      http2.emit('connection', socket);
    } else {
      http1.emit('connection', socket);
      socket.resume();
    }
  });
}

import { decodeWireStatMessages, type WireStatMessage } from '@zerogate/core';
import { WebSocketServer } from 'ws';

/** A message received from an activator, with when it arrived. */
export interface ReceivedStats {
  readonly at: number;
  readonly binary: boolean;
  readonly messages: WireStatMessage[];
}

/** A websocket server standing in for the autoscaler's stat server: records every decoded message. */
export class FakeAutoscaler {
  readonly received: ReceivedStats[] = [];
  private readonly server: WebSocketServer;
  private constructor(server: WebSocketServer) {
    this.server = server;
    server.on('connection', (socket) => {
      socket.on('message', (data, isBinary) => {
        const bytes = data instanceof Buffer ? data : Buffer.concat(data as Buffer[]);
        this.received.push({
          at: Date.now(),
          binary: isBinary,
          messages: decodeWireStatMessages(new Uint8Array(bytes)),
        });
      });
    });
  }

  /** Starts one on 127.0.0.1 (port 0 = any free one). */
  static async start(port = 0): Promise<FakeAutoscaler> {
    const server = new WebSocketServer({ host: '127.0.0.1', port });
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    return new FakeAutoscaler(server);
  }

  get url(): string {
    const address = this.server.address();
    return `ws://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  }

  /** Number of activator connections open now. */
  get clients(): number {
    return this.server.clients.size;
  }

  async close(): Promise<void> {
    for (const client of this.server.clients) client.terminate();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

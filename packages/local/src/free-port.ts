import { createServer } from 'node:net';

/**
 * A TCP port free on 127.0.0.1 now, for a process that must be told its port before it starts (the
 * user app reads `PORT`). Another process may take it meanwhile; the Pod then fails and is replaced.
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

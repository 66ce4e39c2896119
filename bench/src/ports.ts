/**
 * Free TCP ports on 127.0.0.1 for the processes a benchmark starts.
 */
import { createServer } from 'node:net';

/**
 * Returns a port that was free a moment ago: the kernel picks it for a listener on port 0, which is
 * then closed. Another process could take it in between; on a benchmark machine that is unlikely,
 * and a clash shows up as a start-up failure with the child's stderr.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}

/** Returns `count` distinct free ports. */
export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

import net from 'node:net';
import type { ProbeAttempt } from './probe-attempt.js';
import type { TcpProbeSpec } from './probe-spec.js';
import { settleExchange } from './settle-exchange.js';

/** Builds the attempt of a TCP probe: a plain connect, closed at once (`health.TCPProbe`). */
export function tcpProbe(spec: TcpProbeSpec): ProbeAttempt {
  const { host, port } = spec;
  return (signal) =>
    settleExchange<void>(signal, (resolve, reject) => {
      const socket = net.connect({ host, port });
      socket.once('connect', () => resolve());
      socket.on('error', reject);
      return { dispose: () => socket.destroy() };
    });
}

import net from 'node:net';
import type { ProbeAttempt } from './probe-attempt.js';
import type { TcpProbeSpec } from './probe-spec.js';
import { settleExchange } from './settle-exchange.js';

/**
 * How long a TCP probe keeps its connection open after the connect, ms. An app whose port opens
 * before its handler may accept connections and reset or close them at once until the handler is
 * there; the connect alone (Knative's `health.TCPProbe`) calls such an app ready, and a request then
 * sent to it fails in a way that cannot be told from one the app saw, so it is never sent again.
 * Held this long, the probe sees the reset and fails. Long enough for an idle app to accept on a
 * loaded machine; short next to a wake.
 */
export const TCP_SETTLE_MS = 20;

/**
 * The hold once the app has reset or closed a probe connection, ms: such an app is known to drop what
 * it accepts early, and on a loaded machine it may take longer than {@link TCP_SETTLE_MS} to accept;
 * apps that never drop a connection do not pay it. Within the aggressive attempt bound (100 ms).
 */
export const TCP_SETTLE_AFTER_DROP_MS = 80;

/**
 * Most times a hold starts again because its timer fired late. A late timer means this process did not
 * run for a while, so on a loaded machine the app may not have run either: the time it could not have
 * used to reset the connection does not count. Bounded, so a machine always behind still gets a Pod
 * ready.
 */
const MAX_LATE_HOLDS = 3;

/**
 * Builds the attempt of a TCP probe: a plain connect (`health.TCPProbe`), held open for `settleMs`
 * ({@link TCP_SETTLE_MS}), or `afterDropMs` ({@link TCP_SETTLE_AFTER_DROP_MS}) once the app dropped a
 * probe's connection, and again when its timer fired late (up to {@link MAX_LATE_HOLDS} times); the attempt
 * fails if the app resets or closes the connection meanwhile.
 */
export function tcpProbe(
  spec: TcpProbeSpec,
  settleMs = TCP_SETTLE_MS,
  afterDropMs = TCP_SETTLE_AFTER_DROP_MS,
): ProbeAttempt {
  const { host, port } = spec;
  let dropped = false;
  return (signal) =>
    settleExchange<void>(signal, (resolve, reject) => {
      let settle: NodeJS.Timeout | undefined;
      const socket = net.connect({ host, port });
      const drop = (err: Error): void => {
        if (settle !== undefined || (err as NodeJS.ErrnoException).code === 'ECONNRESET') dropped = true;
        reject(err);
      };
      const hold = dropped ? afterDropMs : settleMs;
      let holds = 0;
      const arm = (): void => {
        const due = Date.now() + hold;
        settle = setTimeout(() => {
          if (Date.now() - due > hold / 2 && ++holds <= MAX_LATE_HOLDS) arm();
          else resolve();
        }, hold);
      };
      socket.once('connect', arm);
      // Read (and drop) whatever the app sends, so its close shows as `end`.
      socket.resume();
      socket.once('end', () => drop(new Error('the app closed the connection')));
      socket.on('error', drop);
      return {
        dispose: () => {
          clearTimeout(settle);
          socket.destroy();
        },
      };
    });
}

/**
 * The `wakes` scenario's client, on a thread of its own: the platform the scenario runs in the main
 * thread spawns processes and writes files, which would delay this thread's clock readings if they shared
 * an event loop. Each message is one wake to send; the answer carries when it was sent, when its first
 * byte came, and what it said.
 */
import { parentPort } from 'node:worker_threads';
import { Agent, request } from 'undici';

/** One wake to send. */
export interface WakeOrder {
  readonly id: number;
  readonly url: string;
  readonly host: string;
  readonly timeoutMs: number;
}

/** How it went; times in ms since the epoch. */
export interface WakeAnswer {
  readonly id: number;
  readonly sent: number;
  readonly firstByte?: number;
  readonly status?: number;
  readonly serverTiming?: string | string[];
  /** The start of a non-2xx body, or the client's error. */
  readonly body?: string;
}

const port = parentPort;
if (port === null) throw new Error('wake-client runs as a worker thread');
let agent: Agent | undefined;

async function wake(order: WakeOrder): Promise<WakeAnswer> {
  agent ??= new Agent({ headersTimeout: order.timeoutMs });
  const sent = Date.now();
  try {
    const res = await request(order.url, {
      headers: { host: order.host },
      dispatcher: agent,
      signal: AbortSignal.timeout(order.timeoutMs),
    });
    const firstByte = Date.now();
    const text = await res.body.text();
    const ok = res.statusCode >= 200 && res.statusCode < 300;
    return {
      id: order.id,
      sent,
      firstByte,
      status: res.statusCode,
      ...(res.headers['server-timing'] === undefined ? {} : { serverTiming: res.headers['server-timing'] }),
      ...(ok ? {} : { body: text.slice(0, 200) }),
    };
  } catch (err) {
    return { id: order.id, sent, body: `client error: ${(err as Error).message}` };
  }
}

port.on('message', (order: WakeOrder | 'close') => {
  if (order === 'close') {
    void (agent?.close() ?? Promise.resolve()).then(() => port.close());
    return;
  }
  void wake(order).then((answer) => port.postMessage(answer));
});

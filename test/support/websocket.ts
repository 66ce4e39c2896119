/** A websocket client for tests (the `ws` package): open, one echo, the close. */
import { WebSocket } from 'ws';

/** Opens a websocket with extra request headers (`host` for routing), resolving once it is open. */
export function openSocket(url: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

/** Sends `text` and resolves with the next message; rejects after 10 s. */
export function echo(ws: WebSocket, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no echo of ${text}`)), 10_000);
    ws.once('message', (data) => {
      clearTimeout(timer);
      resolve(String(data));
    });
    ws.send(text);
  });
}

/** Resolves with the close code and reason the client got, and when (the client's clock). */
export function closed(ws: WebSocket): Promise<{ code: number; reason: string; at: number }> {
  return new Promise((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: String(reason), at: Date.now() })),
  );
}

/**
 * Exchanges a message a second until `seconds` have passed since `since` (ms since the epoch), each echo
 * checked; resolves with how many were exchanged.
 */
export async function echoEverySecond(ws: WebSocket, since: number, seconds: number): Promise<number> {
  let sent = 0;
  while (Date.now() - since < seconds * 1000) {
    const text = `message ${sent++}`;
    const back = await echo(ws, text);
    if (back !== text) throw new Error(`the echo of ${text} was ${back}`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  return sent;
}

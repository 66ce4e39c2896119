/**
 * The heads the raw relay writes: the request to the upstream and the response to the client, rebuilt
 * from the parsed fields (so hop-by-hop headers never cross, and framing is the relay's own), as one
 * string each.
 */
import { connectionTokens } from '../headers.js';
import type { ResponseHead } from '../http1/index.js';
import { nodeHttp } from '../node-http.js';
import { rawServerTiming, serverTimingToAdd } from '../server-timing.js';

/** Response headers that describe the upstream connection, not the response; plus our own marker. */
const RESPONSE_DROPPED = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  // Only a queue-proxy may say it did not send a request (docs/wire.md §1): an app cannot forge it.
  'k-request-not-sent',
]);

/**
 * A request head for the upstream: `headers` is the already rewritten flat list (hop-by-hop removed);
 * a chunked body keeps its chunked framing, which is forwarded byte for byte.
 */
export function requestHead(
  method: string,
  path: string,
  headers: readonly string[],
  chunked: boolean,
): string {
  let head = `${method} ${path} HTTP/1.1\r\n`;
  for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  if (chunked) head += 'transfer-encoding: chunked\r\n';
  return `${head}\r\n`;
}

/**
 * A response head for the client, from the upstream's: hop-by-hop headers (and those its `Connection`
 * names) dropped, `Date` added when the app sent none (as node:http and Go's server do), and the relay's
 * framing: `chunked` when the body is chunked or runs until the upstream closes (re-framed then), and
 * `connection: close` when the client connection ends after it. From an app (`fromApp`), its own
 * `Zerogate-Error` is dropped: only the platform may say it made a response (docs/wire.md §6). `timing`,
 * the `Server-Timing` metrics of a request that waited, is added for the names the response lacks.
 */
export function responseHead(
  head: ResponseHead,
  chunked: boolean,
  close: boolean,
  fromApp = false,
  timing?: string,
): string {
  const raw = head.rawHeaders;
  const status = head.statusCode;
  let out = `HTTP/1.1 ${status} ${head.statusText || nodeHttp.STATUS_CODES[status] || ''}\r\n`;
  // A `Connection` field may name any header, not only close or keep-alive, so it is looked for always.
  const listed = listedByConnection(raw);
  let date = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (RESPONSE_DROPPED.has(lower) || listed?.includes(lower)) continue;
    if (lower === 'date') date = true;
    else if (fromApp && lower === 'zerogate-error') continue;
    out += `${name}: ${raw[i + 1]}\r\n`;
  }
  if (!date) out += `date: ${httpDate()}\r\n`;
  if (timing !== undefined) {
    const added = serverTimingToAdd(timing, rawServerTiming(raw));
    if (added !== '') out += `server-timing: ${added}\r\n`;
  }
  if (chunked) out += 'transfer-encoding: chunked\r\n';
  if (close) out += 'connection: close\r\n';
  return `${out}\r\n`;
}

/** The header names a response's `Connection` fields list (hop-by-hop too). */
function listedByConnection(raw: readonly string[]): string[] | undefined {
  let value: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    // Only ten-letter names can be Connection: the rest are skipped without lower-casing.
    if (name.length === 10 && name.toLowerCase() === 'connection')
      value = value === undefined ? raw[i + 1] : `${value}, ${raw[i + 1]}`;
  }
  const tokens = connectionTokens(value);
  return tokens.length === 0 ? undefined : tokens;
}

let dateSecond = 0;
let dateText = '';

/** The current time as an HTTP date, made at most once a second. */
export function httpDate(now = Date.now()): string {
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(second * 1000).toUTCString();
  }
  return dateText;
}

/** The chunk-size line for a re-framed piece of body. */
export function chunkSizeLine(length: number): string {
  return `${length.toString(16)}\r\n`;
}

/** The last chunk of a re-framed body. */
export const LAST_CHUNK = '0\r\n\r\n';

/**
 * What a parsed HTTP/1.1 request head may still be refused for: node:http accepts a few heads that Go's
 * server (Knative's) or RFC 9112 refuse, and that two hops could read two ways.
 */
import type { IncomingMessage } from 'node:http';

/**
 * Why `req` must be answered 400 before any handler sees it, or undefined when it may go on: more than
 * one `Host` (Go: "too many Host headers"; the hops could route by different ones), or the asterisk-form
 * target with a method other than OPTIONS (RFC 9112 §3.2.4).
 */
export function headProblem(req: Pick<IncomingMessage, 'method' | 'url' | 'rawHeaders'>): string | undefined {
  if (req.url === '*' && req.method !== 'OPTIONS') return 'asterisk-form target without OPTIONS';
  const raw = req.rawHeaders;
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    // Only four-letter names starting with h or H can be Host: skip the rest without lower-casing.
    if (name.length === 4 && (name.charCodeAt(0) | 0x20) === 0x68 && name.toLowerCase() === 'host') {
      if (++hosts > 1) return 'more than one Host header';
    }
  }
  return undefined;
}

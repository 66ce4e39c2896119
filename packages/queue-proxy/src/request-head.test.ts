import { describe, expect, it } from 'vitest';
import { upstreamHeaders } from './request-head.js';

const PEER = '10.0.0.9';

/** Every value of a header in a flat `[name, value, …]` list, matched case-insensitively. */
function values(list: readonly string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < list.length; i += 2) {
    if (list[i]!.toLowerCase() === name.toLowerCase()) out.push(list[i + 1]!);
  }
  return out;
}

/** The names in a flat header list, lower-cased. */
function names(list: readonly string[]): string[] {
  return list.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
}

describe('upstreamHeaders', () => {
  it('restores Host from K-Original-Host and drops K-Original-Host', () => {
    const out = upstreamHeaders(
      ['Host', 'svc.ns.svc.cluster.local', 'K-Original-Host', 'app.example.com'],
      PEER,
    );
    expect(values(out, 'host')).toEqual(['app.example.com']);
    expect(values(out, 'k-original-host')).toEqual([]);
  });

  it('keeps Host when there is no K-Original-Host', () => {
    expect(values(upstreamHeaders(['Host', 'app.example.com'], PEER), 'host')).toEqual(['app.example.com']);
  });

  it('keeps Host when K-Original-Host is empty, as Knative does', () => {
    const out = upstreamHeaders(['Host', 'app.example.com', 'K-Original-Host', ''], PEER);
    expect(values(out, 'host')).toEqual(['app.example.com']);
  });

  it('drops the Knative routing headers but keeps the ones the app may read', () => {
    const out = upstreamHeaders(
      [
        'Knative-Serving-Revision',
        'hello-00001',
        'knative-serving-namespace',
        'default',
        'K-Proxy-Request',
        'activator',
        'Knative-Serving-Tag',
        'blue',
        'Knative-Serving-Default-Route',
        'true',
      ],
      PEER,
    );
    expect(names(out)).toEqual([
      'k-proxy-request',
      'knative-serving-tag',
      'knative-serving-default-route',
      'x-forwarded-for',
    ]);
  });

  it('drops hop-by-hop headers', () => {
    const out = upstreamHeaders(
      [
        'Connection',
        'keep-alive',
        'Keep-Alive',
        'timeout=5',
        'Proxy-Connection',
        'keep-alive',
        'Proxy-Authenticate',
        'Basic',
        'Proxy-Authorization',
        'Basic eA==',
        'Trailer',
        'X-Checksum',
        'Transfer-Encoding',
        'chunked',
        'Upgrade',
        'websocket',
        'Expect',
        '100-continue',
        'TE',
        'gzip',
        'Accept',
        '*/*',
      ],
      PEER,
    );
    expect(out).toEqual(['Accept', '*/*', 'x-forwarded-for', PEER]);
  });

  it('keeps te: trailers for HTTP/2, as gRPC needs, and drops other TE values', () => {
    expect(values(upstreamHeaders(['te', 'trailers'], PEER, false, true), 'te')).toEqual(['trailers']);
    expect(values(upstreamHeaders(['TE', ' Trailers '], PEER, false, true), 'te')).toEqual(['trailers']);
    expect(values(upstreamHeaders(['te', 'gzip'], PEER, false, true), 'te')).toEqual([]);
  });

  it('drops HTTP/2 pseudo-headers, turning :authority into Host', () => {
    const out = upstreamHeaders(
      [
        ':method',
        'POST',
        ':path',
        '/grpc.health.v1.Health/Check',
        ':scheme',
        'http',
        ':authority',
        'app.example.com',
        'te',
        'trailers',
        'content-type',
        'application/grpc',
      ],
      PEER,
      false,
      true,
    );
    expect(out).toEqual([
      'te',
      'trailers',
      'content-type',
      'application/grpc',
      'host',
      'app.example.com',
      'x-forwarded-for',
      PEER,
    ]);
  });

  it('prefers K-Original-Host over :authority', () => {
    const out = upstreamHeaders(
      [':authority', 'svc.ns.svc.cluster.local', 'k-original-host', 'app.example.com'],
      PEER,
      false,
      true,
    );
    expect(values(out, 'host')).toEqual(['app.example.com']);
  });

  it('keeps connection, upgrade and transfer-encoding for a tunnel, dropping the other hop-by-hop headers', () => {
    const out = upstreamHeaders(
      [
        'Connection',
        'Upgrade',
        'Upgrade',
        'websocket',
        'Transfer-Encoding',
        'chunked',
        'Keep-Alive',
        'timeout=5',
        'Proxy-Authorization',
        'x',
        'Knative-Serving-Revision',
        'r',
        'Sec-WebSocket-Key',
        'k',
      ],
      PEER,
      true,
    );
    expect(out).toEqual([
      'Connection',
      'Upgrade',
      'Upgrade',
      'websocket',
      'Transfer-Encoding',
      'chunked',
      'Sec-WebSocket-Key',
      'k',
      'x-forwarded-for',
      PEER,
    ]);
  });

  it('drops headers named in Connection', () => {
    const out = upstreamHeaders(
      [
        'Connection',
        'keep-alive, X-Secret',
        'X-Secret',
        's',
        'x-other',
        'o',
        'Connection',
        'x-other',
        'X-Kept',
        'k',
      ],
      PEER,
    );
    expect(out).toEqual(['X-Kept', 'k', 'x-forwarded-for', PEER]);
  });

  it('drops headers named in Connection for a tunnel too, keeping Upgrade', () => {
    const out = upstreamHeaders(
      ['Connection', 'Upgrade, X-Secret', 'Upgrade', 'websocket', 'X-Secret', 's'],
      PEER,
      true,
    );
    expect(values(out, 'x-secret')).toEqual([]);
    expect(values(out, 'upgrade')).toEqual(['websocket']);
    expect(values(out, 'connection')).toEqual(['Upgrade, X-Secret']);
  });

  it('keeps Host even when Connection names it', () => {
    const out = upstreamHeaders(['Host', 'app.example.com', 'Connection', 'host'], PEER);
    expect(values(out, 'host')).toEqual(['app.example.com']);
  });

  it('still appends the peer to X-Forwarded-For when Connection names it', () => {
    // Go strips the incoming list as hop-by-hop, then sets X-Forwarded-For to the peer.
    const out = upstreamHeaders(['X-Forwarded-For', '1.1.1.1', 'Connection', 'X-Forwarded-For'], PEER);
    expect(values(out, 'x-forwarded-for')).toEqual([PEER]);
  });

  it('appends the peer to X-Forwarded-For, creating it when absent', () => {
    expect(values(upstreamHeaders([], PEER), 'x-forwarded-for')).toEqual([PEER]);
    expect(values(upstreamHeaders(['X-Forwarded-For', '1.1.1.1'], PEER), 'x-forwarded-for')).toEqual([
      `1.1.1.1, ${PEER}`,
    ]);
    expect(values(upstreamHeaders([], '::1'), 'x-forwarded-for')).toEqual(['::1']);
  });

  it('joins several X-Forwarded-For lines into one before appending the peer', () => {
    const out = upstreamHeaders(['X-Forwarded-For', '1.1.1.1', 'x-forwarded-for', '2.2.2.2, 3.3.3.3'], PEER);
    expect(values(out, 'x-forwarded-for')).toEqual([`1.1.1.1, 2.2.2.2, 3.3.3.3, ${PEER}`]);
  });

  it('passes X-Forwarded-For through unchanged without a peer, and adds none when there is nothing', () => {
    expect(values(upstreamHeaders(['X-Forwarded-For', '1.1.1.1'], ''), 'x-forwarded-for')).toEqual([
      '1.1.1.1',
    ]);
    expect(upstreamHeaders(['Accept', '*/*'], '')).toEqual(['Accept', '*/*']);
  });

  it('synthesises Forwarded from the incoming X-Forwarded-* headers, without the peer', () => {
    const out = upstreamHeaders(
      [
        'X-Forwarded-For',
        '1.1.1.1, 2001:db8::2',
        'X-Forwarded-Host',
        'app.example.com',
        'X-Forwarded-Proto',
        'https',
      ],
      PEER,
    );
    expect(values(out, 'forwarded')).toEqual([
      'for=1.1.1.1;host=app.example.com;proto=https, for="[2001:db8::2]"',
    ]);
    expect(values(out, 'x-forwarded-host')).toEqual(['app.example.com']);
    expect(values(out, 'x-forwarded-proto')).toEqual(['https']);
  });

  it('synthesises Forwarded from every X-Forwarded-For line', () => {
    const out = upstreamHeaders(['X-Forwarded-For', '1.1.1.1', 'X-Forwarded-For', '2.2.2.2'], PEER);
    expect(values(out, 'forwarded')).toEqual(['for=1.1.1.1, for=2.2.2.2']);
  });

  it('synthesises Forwarded from X-Forwarded-Proto alone', () => {
    expect(values(upstreamHeaders(['X-Forwarded-Proto', 'http'], PEER), 'forwarded')).toEqual(['proto=http']);
  });

  it('adds no Forwarded without X-Forwarded-* headers, even though the peer is known', () => {
    expect(values(upstreamHeaders(['Accept', '*/*'], PEER), 'forwarded')).toEqual([]);
  });

  it('leaves an existing Forwarded header alone', () => {
    const out = upstreamHeaders(['Forwarded', 'for=9.9.9.9;proto=https', 'X-Forwarded-For', '1.1.1.1'], PEER);
    expect(values(out, 'forwarded')).toEqual(['for=9.9.9.9;proto=https']);
    expect(values(out, 'x-forwarded-for')).toEqual([`1.1.1.1, ${PEER}`]);
  });

  it('keeps unrelated headers in order with the case of their names and repeated lines', () => {
    const out = upstreamHeaders(
      [
        'Host',
        'h',
        'X-Request-ID',
        'abc',
        'accept',
        'text/html',
        'Set-Cookie-Like',
        'a=1',
        'Set-Cookie-Like',
        'b=2',
        'traceparent',
        '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      ],
      PEER,
    );
    expect(out).toEqual([
      'X-Request-ID',
      'abc',
      'accept',
      'text/html',
      'Set-Cookie-Like',
      'a=1',
      'Set-Cookie-Like',
      'b=2',
      'traceparent',
      '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      'host',
      'h',
      'x-forwarded-for',
      PEER,
    ]);
  });

  it('does not modify its input', () => {
    const raw = ['Host', 'h', 'K-Original-Host', 'o', 'Connection', 'x-a', 'X-A', '1'];
    const copy = [...raw];
    upstreamHeaders(raw, PEER);
    expect(raw).toEqual(copy);
  });
});

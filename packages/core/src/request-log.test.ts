import { describe, expect, it } from 'vitest';
import { GoTemplate } from './go-template.js';
import { canonicalHeaderKey, GoHeader, GoRequest, GoURL, RequestLog } from './request-log.js';

const REVISION = {
  Name: 'rev-1',
  Namespace: 'ns',
  Service: 'svc',
  Configuration: 'cfg',
  PodName: 'pod-1',
  PodIP: '10.0.0.9',
};

function lines(template: string, req: ConstructorParameters<typeof GoRequest>[0]): string[] {
  const out: string[] = [];
  new RequestLog(GoTemplate.parse(template), REVISION, (line) => out.push(line)).write(req, 201, 7, 0.25);
  return out;
}

describe('RequestLog', () => {
  it('ends each line with one newline, as Knative appends one to the template', () => {
    expect(lines('{{.Response.Code}} {{.Response.Size}} {{.Response.Latency}}', {})).toEqual([
      '201 7 0.25\n',
    ]);
    expect(lines('{{.Revision.PodName}}\n', {})).toEqual(['pod-1\n']);
  });

  it('writes Knative’s fallback line when the template fails at execution', () => {
    expect(lines('{{.Request.Nope}}', { method: 'PUT', url: '/x?y=1' })).toEqual([
      'Invalid request log template: method: PUT, response code: 201, latency: 0.25, url: /x?y=1\n',
    ]);
  });
});

describe('GoRequest', () => {
  it('gives Go’s fields for an HTTP/2 request: Host from :authority, no pseudo-headers, IPv6 in brackets', () => {
    const r = new GoRequest({
      method: 'POST',
      url: '/a%20b?c=d',
      httpVersion: '2.0',
      rawHeaders: [
        ':authority',
        'example.com',
        ':path',
        '/a%20b?c=d',
        'transfer-encoding',
        'chunked',
        'x-a',
        '1',
      ],
      socket: { remoteAddress: '::1', remotePort: 4000 },
    });
    expect([r.Host, r.Proto, r.ProtoMajor, r.ProtoMinor, r.RemoteAddr, r.ContentLength]).toEqual([
      'example.com',
      'HTTP/2.0',
      2,
      0,
      '[::1]:4000',
      -1,
    ]);
    // As a Go server's: Transfer-Encoding is a field of its own, not a header.
    expect([...r.Header.keys()]).toEqual(['X-A']);
    expect(r.TransferEncoding).toEqual(['chunked']);
    expect([r.URL.Path, r.URL.RawPath, r.URL.RawQuery, r.URL.String(), r.RequestURI]).toEqual([
      '/a b',
      '/a%20b',
      'c=d',
      '/a%20b?c=d',
      '/a%20b?c=d',
    ]);
  });

  it('shows an IPv4-mapped client address as IPv4', () => {
    expect(new GoRequest({ socket: { remoteAddress: '::ffff:127.0.0.1', remotePort: 1 } }).RemoteAddr).toBe(
      '127.0.0.1:1',
    );
  });
});

describe('GoHeader and GoURL', () => {
  it('canonicalises names as Go’s textproto does; Get takes any case, index the exact key', () => {
    expect(canonicalHeaderKey('x-b3-traceid')).toBe('X-B3-Traceid');
    const h = new GoHeader(['x-a', '1', 'X-A', '2']);
    expect([h.Get('X-A'), h.Values('x-a'), h.goIndex('X-A'), h.goIndex('x-a')]).toEqual([
      '1',
      ['1', '2'],
      ['1', '2'],
      [],
    ]);
  });

  it('parses an absolute-form target', () => {
    const u = new GoURL('http://host:8080/p?q');
    expect([u.Scheme, u.Host, u.Hostname(), u.Port(), u.Path, u.String()]).toEqual([
      'http',
      'host:8080',
      'host',
      '8080',
      '/p',
      'http://host:8080/p?q',
    ]);
  });
});

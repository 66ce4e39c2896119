import { describe, expect, it } from 'vitest';
import { readFacts } from './request-facts.js';

describe('readFacts', () => {
  it('has defaults for a request with no relevant headers', () => {
    expect(readFacts(['Accept', '*/*', 'Content-Type', 'text/plain', 'X-Thing', 'y'])).toEqual({
      userAgent: '',
      networkProbe: undefined,
      networkHash: '',
      kubeletProbeHeader: false,
      proxied: false,
      hasBody: false,
      contentLength: -1,
      revision: undefined,
      namespace: undefined,
      host: undefined,
      contentType: 'text/plain',
    });
    expect(readFacts([]).hasBody).toBe(false);
  });

  it('reads the user agent and Knative probe headers, whatever the case of their names', () => {
    expect(
      readFacts(['USER-AGENT', 'kube-probe/1.30', 'k-network-probe', 'probe', 'K-Network-Hash', 'abc123']),
    ).toMatchObject({ userAgent: 'kube-probe/1.30', networkProbe: 'probe', networkHash: 'abc123' });
  });

  it.each([
    'K-Proxy-Request',
    'k-proxy-request',
    'K-PROXY-REQUEST',
  ])('marks a request with %s: activator as proxied', (name) => {
    expect(readFacts([name, 'activator']).proxied).toBe(true);
  });

  it('does not mark other K-Proxy-Request values as proxied', () => {
    expect(readFacts(['K-Proxy-Request', 'something-else']).proxied).toBe(false);
    expect(readFacts(['K-Proxy-Request', '']).proxied).toBe(false);
  });

  it.each(['K-Kubelet-Probe', 'k-kubelet-probe'])('notes a %s header', (name) => {
    expect(readFacts([name, 'queue']).kubeletProbeHeader).toBe(true);
  });

  it('has a body when Content-Length is above 0', () => {
    expect(readFacts(['Content-Length', '12']).hasBody).toBe(true);
    expect(readFacts(['content-length', '1']).hasBody).toBe(true);
  });

  it('has no body when Content-Length is 0', () => {
    expect(readFacts(['Content-Length', '0']).hasBody).toBe(false);
  });

  it('has a body when Transfer-Encoding is present', () => {
    expect(readFacts(['Transfer-Encoding', 'chunked']).hasBody).toBe(true);
    expect(readFacts(['TRANSFER-ENCODING', 'chunked']).hasBody).toBe(true);
  });

  it('reads every fact from one list', () => {
    expect(
      readFacts([
        'Host',
        'h',
        'User-Agent',
        'curl/8',
        'K-Proxy-Request',
        'activator',
        'Transfer-Encoding',
        'chunked',
        'K-Kubelet-Probe',
        '1',
      ]),
    ).toEqual({
      userAgent: 'curl/8',
      networkProbe: undefined,
      networkHash: '',
      kubeletProbeHeader: true,
      proxied: true,
      hasBody: true,
      contentLength: -1,
      revision: undefined,
      namespace: undefined,
      host: 'h',
    });
  });

  it('reads the routing headers, the declared length and the HTTP/2 authority', () => {
    expect(
      readFacts([
        ':authority',
        'hello.default.svc',
        'Knative-Serving-Revision',
        'hello-00001',
        'knative-serving-namespace',
        'default',
        'Content-Length',
        '42',
      ]),
    ).toMatchObject({
      host: 'hello.default.svc',
      revision: 'hello-00001',
      namespace: 'default',
      contentLength: 42,
      hasBody: true,
    });
  });
});

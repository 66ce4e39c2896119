import { describe, expect, it } from 'vitest';
import { parseReadinessProbes } from './parse-readiness-probes.js';
import { ProbeConfigError } from './probe-config-error.js';

function parseError(fn: () => unknown): ProbeConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ProbeConfigError);
    return err as ProbeConfigError;
  }
  throw new Error('expected a ProbeConfigError');
}

describe('parseReadinessProbes', () => {
  it('gives no probes for an unset value', () => {
    expect(parseReadinessProbes(undefined, false, 8080)).toEqual([]);
    expect(parseReadinessProbes(null, true, 8080)).toEqual([]);
    expect(parseReadinessProbes([], true, 8080)).toEqual([]);
  });

  it('fills in the defaults of a TCP probe', () => {
    expect(parseReadinessProbes({ tcpSocket: {} }, false, 8080)).toEqual([
      { kind: 'tcp', host: '127.0.0.1', port: 8080, timeoutMs: 1000, periodMs: 0, successThreshold: 1 },
    ]);
    expect(parseReadinessProbes({ tcpSocket: { port: 0, host: '' }, timeoutSeconds: 0 }, false, 1)).toEqual([
      { kind: 'tcp', host: '127.0.0.1', port: 1, timeoutMs: 1000, periodMs: 0, successThreshold: 1 },
    ]);
  });

  it('parses an HTTP probe with a string port, headers and timings', () => {
    const probe = {
      httpGet: {
        path: 'healthz',
        port: '9000',
        host: '10.0.0.1',
        scheme: 'HTTPS',
        httpHeaders: [{ name: 'X-Check', value: 'yes' }],
      },
      timeoutSeconds: 3,
      periodSeconds: 5,
      successThreshold: 2,
      failureThreshold: 3,
      initialDelaySeconds: 1,
    };
    expect(parseReadinessProbes(probe, false, 8080)).toEqual([
      {
        kind: 'http',
        scheme: 'https',
        host: '10.0.0.1',
        port: 9000,
        path: '/healthz',
        headers: [['X-Check', 'yes']],
        timeoutMs: 3000,
        periodMs: 5000,
        successThreshold: 2,
      },
    ]);
    expect(parseReadinessProbes({ httpGet: {} }, false, 8080)).toMatchObject([
      { kind: 'http', scheme: 'http', host: '127.0.0.1', port: 8080, path: '/', headers: [] },
    ]);
  });

  it('parses gRPC probes and lists of probes', () => {
    const probes = [{ grpc: { port: 9090, service: 'health' } }, { grpc: {}, periodSeconds: 1 }];
    expect(parseReadinessProbes(probes, true, 8080)).toEqual([
      {
        kind: 'grpc',
        host: '127.0.0.1',
        port: 9090,
        service: 'health',
        timeoutMs: 1000,
        periodMs: 0,
        successThreshold: 1,
      },
      {
        kind: 'grpc',
        host: '127.0.0.1',
        port: 8080,
        service: '',
        timeoutMs: 1000,
        periodMs: 1000,
        successThreshold: 1,
      },
    ]);
  });

  it("sends a gRPC probe, and one naming no host, to the app's address (QUEUE_USER_HOST)", () => {
    const probes = [{ grpc: { port: 9090 } }, { tcpSocket: {} }, { httpGet: { host: '10.0.0.7' } }];
    expect(parseReadinessProbes(probes, true, 8080, '127.3.0.9').map((p) => p.host)).toEqual([
      '127.3.0.9',
      '127.3.0.9',
      '10.0.0.7',
    ]);
  });

  it('says what is wrong', () => {
    expect(
      parseError(() => parseReadinessProbes({ exec: { command: ['true'] } }, false, 8080)).message,
    ).toMatch(/^exec probes are not supported by the queue-proxy/);
    expect(
      parseError(() => parseReadinessProbes({ httpGet: { port: 'http' } }, false, 8080)).message,
    ).toMatch(/^httpGet\.port must be a number/);
    expect(parseError(() => parseReadinessProbes({ httpGet: { port: true } }, false, 8080)).message).toMatch(
      /^httpGet\.port must be a number/,
    );
    expect(
      parseError(() => parseReadinessProbes({ tcpSocket: { port: 70000 } }, false, 8080)).message,
    ).toMatch(/^tcpSocket\.port must be between 1 and 65535/);
    expect(parseError(() => parseReadinessProbes({}, false, 8080)).message).toMatch(/must set one of/);
    expect(
      parseError(() => parseReadinessProbes({ tcpSocket: {}, httpGet: {} }, false, 8080)).message,
    ).toMatch(/only one of/);
    expect(parseError(() => parseReadinessProbes([{ tcpSocket: {} }], false, 8080)).message).toMatch(
      /got an array/,
    );
    expect(parseError(() => parseReadinessProbes({ tcpSocket: {} }, true, 8080)).message).toMatch(
      /expected an array/,
    );
    expect(parseError(() => parseReadinessProbes('tcp', false, 8080)).message).toBe(
      'probe must be an object',
    );
    expect(
      parseError(() =>
        parseReadinessProbes({ httpGet: { scheme: 'FTP', httpHeaders: [{ name: 'a b' }] } }, false, 1),
      ).problems,
    ).toEqual([
      'httpGet.scheme must be HTTP or HTTPS, got "FTP"',
      'httpGet.httpHeaders[0].name must be a valid header name, got "a b"',
    ]);
    const err = parseError(() =>
      parseReadinessProbes(
        [{ tcpSocket: {} }, { tcpSocket: { port: 'x' }, timeoutSeconds: -1 }, null],
        true,
        1,
      ),
    );
    expect(err.problems).toEqual([
      'probes[1].timeoutSeconds must be a non-negative integer, got -1',
      'probes[1].tcpSocket.port must be a number (named ports are not supported), got "x"',
      'probes[2] must be an object',
    ]);
  });
});

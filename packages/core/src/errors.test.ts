import { describe, expect, it } from 'vitest';
import {
  ERRORS,
  type ErrorCode,
  errorResponse,
  isUpstreamFailure,
  wasSent,
  ZerogateError,
} from './errors.js';

/** An Error carrying a Node- or undici-style `code`. */
function coded(code: string, cause?: unknown): Error {
  return Object.assign(new Error(code, { cause }), { code });
}

describe('ERRORS', () => {
  it('declares the statuses and bodies Knative answers with', () => {
    expect(ERRORS.QUEUE_FULL).toEqual({ status: 503, body: 'pending request queue full\n' });
    expect(ERRORS.REQUEST_TIMEOUT).toEqual({ status: 504, body: 'request timeout' });
    expect(ERRORS.SHUTTING_DOWN).toEqual({ status: 503, body: 'shutting down\n' });
    expect(ERRORS.PROBE_HASH_MISSING.status).toBe(400);
    expect(ERRORS.UPSTREAM_FAILED.status).toBe(502);
    expect(ERRORS.INTERNAL.status).toBe(500);
  });
});

describe('ZerogateError', () => {
  it('takes its status from the table and its default message from the body', () => {
    const err = new ZerogateError('QUEUE_FULL');
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('ZerogateError');
    expect(err.code).toBe('QUEUE_FULL');
    expect(err.status).toBe(503);
    expect(err.message).toBe('pending request queue full');
  });

  it('keeps a given message and cause', () => {
    const cause = new Error('inner');
    const err = new ZerogateError('REQUEST_TIMEOUT', 'took too long', { cause });
    expect(err.message).toBe('took too long');
    expect(err.cause).toBe(cause);
    expect(err.status).toBe(504);
  });
});

describe('errorResponse', () => {
  it.each(Object.keys(ERRORS) as ErrorCode[])('maps a ZerogateError %s by the table', (code) => {
    expect(errorResponse(new ZerogateError(code))).toBe(ERRORS[code]);
  });

  it('maps a coded error by its table entry even when its cause is a connection error', () => {
    const err = new ZerogateError('REQUEST_TIMEOUT', undefined, { cause: coded('ECONNRESET') });
    expect(errorResponse(err)).toEqual({ status: 504, body: 'request timeout' });
  });

  it.each([
    'ECONNREFUSED',
    'ECONNRESET',
    'EPIPE',
    'ETIMEDOUT',
    'EHOSTUNREACH',
    'ENETUNREACH',
    'UND_ERR_SOCKET',
    'UND_ERR_CLOSED',
    'UND_ERR_CONNECT_TIMEOUT',
    'UND_ERR_HEADERS_TIMEOUT',
    'UND_ERR_BODY_TIMEOUT',
  ])('maps a connection error %s to 502', (code) => {
    expect(errorResponse(coded(code))).toEqual({ status: 502, body: 'upstream connection failed\n' });
  });

  it('finds a connection error nested in the cause chain', () => {
    const nested = new Error('fetch failed', {
      cause: new Error('socket', { cause: coded('ECONNREFUSED') }),
    });
    expect(isUpstreamFailure(nested)).toBe(true);
    expect(errorResponse(nested)).toBe(ERRORS.UPSTREAM_FAILED);
  });

  it('accepts a plain object with a connection code as a cause', () => {
    const err = new Error('wrapped', { cause: { code: 'ECONNRESET' } });
    expect(errorResponse(err).status).toBe(502);
  });

  it('maps other errors to 500', () => {
    expect(errorResponse(new Error('boom'))).toEqual({ status: 500, body: 'internal error\n' });
    expect(errorResponse(coded('ENOENT'))).toBe(ERRORS.INTERNAL);
    expect(errorResponse(new TypeError('bad', { cause: new Error('deeper') }))).toBe(ERRORS.INTERNAL);
  });

  it('maps non-errors to 500', () => {
    for (const value of [undefined, null, 'ECONNRESET', 42, {}, { code: 7 }]) {
      expect(errorResponse(value)).toBe(ERRORS.INTERNAL);
    }
  });

  it('stops on a cyclic cause chain', () => {
    const a: { code?: string; cause?: unknown } = {};
    const b = { cause: a };
    a.cause = b;
    expect(isUpstreamFailure(a)).toBe(false);
    expect(errorResponse(a)).toBe(ERRORS.INTERNAL);
  });
});

describe('wasSent', () => {
  it.each([
    'ECONNREFUSED',
    'EHOSTUNREACH',
    'ENETUNREACH',
    'UND_ERR_CONNECT_TIMEOUT',
    'EADDRNOTAVAIL',
  ])('says a connect error %s never sent the request, however deep in the cause chain', (code) => {
    expect(wasSent(coded(code))).toBe(false);
    expect(wasSent(new Error('fetch failed', { cause: new Error('socket', { cause: coded(code) }) }))).toBe(
      false,
    );
  });

  it("says a queue-proxy's REQUEST_NOT_SENT answer never reached the app", () => {
    expect(wasSent(new ZerogateError('REQUEST_NOT_SENT'))).toBe(false);
    expect(ERRORS.REQUEST_NOT_SENT.status).toBe(503);
  });

  it.each([
    'ECONNRESET',
    'EPIPE',
    'UND_ERR_SOCKET',
    'UND_ERR_CLOSED',
    'ETIMEDOUT',
  ])('says a failure after connecting (%s) may have reached the upstream', (code) => {
    expect(wasSent(coded(code))).toBe(true);
  });

  it('says an error without a code may have been sent', () => {
    expect(wasSent(new Error('boom'))).toBe(true);
    expect(wasSent(undefined)).toBe(true);
  });
});

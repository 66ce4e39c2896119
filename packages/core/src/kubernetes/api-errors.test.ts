import { ApiException } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { apiStatusMessage, apiStatusOf, describeApiError } from './api-errors.js';

const status = (code: number, message: string) =>
  JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message, code });

describe('apiStatusOf', () => {
  it('is the status of an answered call, undefined for anything else', () => {
    expect(apiStatusOf(new ApiException(409, 'conflict', status(409, 'x'), {}))).toBe(409);
    expect(apiStatusOf(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBe(
      undefined,
    );
    expect(apiStatusOf({ code: 404 })).toBeUndefined();
  });
});

describe('apiStatusMessage', () => {
  it('is the message of the Status in the body, undefined without one', () => {
    expect(apiStatusMessage(new ApiException(403, 'x', status(403, 'services is forbidden'), {}))).toBe(
      'services is forbidden',
    );
    expect(apiStatusMessage(new ApiException(502, 'x', '<html>', {}))).toBeUndefined();
    expect(apiStatusMessage(new ApiException(500, 'x', 'null', {}))).toBeUndefined();
    expect(apiStatusMessage(new Error('socket hang up'))).toBeUndefined();
  });
});

describe('describeApiError', () => {
  it('gives the code and the API server’s message from the Status body', () => {
    const err = new ApiException(403, 'HTTP-Code: 403 …', status(403, 'services is forbidden'), {});
    expect(describeApiError(err)).toBe('HTTP 403: services is forbidden');
  });

  it('gives the code alone when the body is no Status', () => {
    expect(describeApiError(new ApiException(502, 'bad gateway', '<html>', {}))).toBe('HTTP 502');
    expect(describeApiError(new ApiException(500, 'x', '{"kind":"Status"}', {}))).toBe('HTTP 500');
  });

  it('gives the message of any other error', () => {
    expect(describeApiError(new Error('socket hang up'))).toBe('socket hang up');
    expect(describeApiError('plain')).toBe('plain');
  });
});

import { ZerogateError } from '@zerogate/core';
import { describe, expect, it } from 'vitest';
import {
  admissionResponse,
  isJsonContentType,
  MAX_BODY_BYTES,
  parseAdmissionReview,
} from './admission-review.js';

const POD = { metadata: { name: 'p', labels: {} }, spec: { containers: [{ name: 'app', image: 'x' }] } };

function review(request: Record<string, unknown>, top: Record<string, unknown> = {}): string {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'b3c1f1d2-0000-4000-8000-00000000000a',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'default',
      operation: 'CREATE',
      object: POD,
      ...request,
    },
    ...top,
  });
}

function refusalOf(text: string): ZerogateError | undefined {
  try {
    parseAdmissionReview(text);
  } catch (err) {
    expect(err).toBeInstanceOf(ZerogateError);
    return err as ZerogateError;
  }
  return undefined;
}

function codeOf(text: string): string {
  return refusalOf(text)?.code ?? 'none';
}

describe('AdmissionReview parsing', () => {
  it('reads a Pod creation', () => {
    expect(parseAdmissionReview(review({ dryRun: true }))).toEqual({
      uid: 'b3c1f1d2-0000-4000-8000-00000000000a',
      namespace: 'default',
      operation: 'CREATE',
      dryRun: true,
      podCreate: true,
      resource: '/v1/pods',
      pod: POD,
    });
  });

  it("takes the namespace from the object when the request's is empty", () => {
    const pod = { ...POD, metadata: { namespace: 'ns1' } };
    expect(parseAdmissionReview(review({ namespace: '', object: pod })).namespace).toBe('ns1');
  });

  it('marks other operations and resources as not for injection, without checking their object', () => {
    expect(parseAdmissionReview(review({ operation: 'UPDATE', object: 'whatever' }))).toMatchObject({
      podCreate: false,
      pod: undefined,
    });
    expect(
      parseAdmissionReview(review({ resource: { group: 'apps', version: 'v1', resource: 'deployments' } })),
    ).toMatchObject({ podCreate: false, resource: 'apps/v1/deployments' });
    expect(parseAdmissionReview(review({ subResource: 'status' })).podCreate).toBe(false);
  });

  it('refuses what is not a v1 AdmissionReview of a Pod', () => {
    expect(codeOf('{"apiVersion":')).toBe('MALFORMED_JSON');
    expect(codeOf('[]')).toBe('NOT_A_REVIEW');
    expect(codeOf(review({}, { apiVersion: 'admission.k8s.io/v1beta1' }))).toBe('NOT_A_REVIEW');
    expect(codeOf(review({}, { kind: 'Pod' }))).toBe('NOT_A_REVIEW');
    expect(codeOf(review({ uid: '' }))).toBe('NO_REQUEST');
    expect(codeOf(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }))).toBe(
      'NO_REQUEST',
    );
    expect(codeOf(review({ object: null }))).toBe('NOT_A_POD');
    expect(codeOf(review({ object: { spec: { containers: 'app' } } }))).toBe('NOT_A_POD');
    expect(codeOf(review({ object: { spec: { containers: [{ image: 'x' }] } } }))).toBe('NOT_A_POD');
    expect(codeOf(review({ object: { metadata: { labels: [] }, spec: { containers: [] } } }))).toBe(
      'NOT_A_POD',
    );
    expect(codeOf(review({ object: { spec: { containers: [{ name: 'a', ports: 80 }] } } }))).toBe(
      'NOT_A_POD',
    );
  });

  it('says in its message what came instead', () => {
    expect(refusalOf('[]')?.message).toBe(
      'expected apiVersion admission.k8s.io/v1, kind AdmissionReview: got no object',
    );
    expect(refusalOf(review({}, { kind: 'Pod' }))?.message).toBe(
      'expected apiVersion admission.k8s.io/v1, kind AdmissionReview: got "admission.k8s.io/v1", "Pod"',
    );
    expect(refusalOf(review({ object: null }))?.message).toBe('request.object is not a Pod: not an object');
    expect(refusalOf(review({ uid: '' }))?.message).toBe('AdmissionReview has no request with a uid');
  });

  it('accepts application/json with parameters only', () => {
    expect(isJsonContentType('application/json')).toBe(true);
    expect(isJsonContentType('Application/JSON; charset=utf-8')).toBe(true);
    expect(isJsonContentType('text/plain')).toBe(false);
    expect(isJsonContentType('application/json-patch+json')).toBe(false);
    expect(isJsonContentType(undefined)).toBe(false);
    expect(MAX_BODY_BYTES).toBe(3 * 1024 * 1024);
    expect(new ZerogateError('BODY_TOO_LARGE').message).toBe(`request body exceeds ${MAX_BODY_BYTES} bytes`);
  });
});

describe('AdmissionReview answers', () => {
  it('carries the patch base64-encoded, with its type, and the warnings', () => {
    const patch = [{ op: 'add' as const, path: '/a', value: 1 }];
    const out = JSON.parse(admissionResponse('u1', { allowed: true, patch, warnings: ['w'] }));
    expect(out).toEqual({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: {
        uid: 'u1',
        allowed: true,
        patchType: 'JSONPatch',
        patch: Buffer.from(JSON.stringify(patch)).toString('base64'),
        warnings: ['w'],
      },
    });
  });

  it('leaves out an empty patch and empty warnings', () => {
    expect(JSON.parse(admissionResponse('u1', { allowed: true, patch: [], warnings: [] })).response).toEqual({
      uid: 'u1',
      allowed: true,
    });
  });

  it('denies with a status message', () => {
    expect(JSON.parse(admissionResponse('u1', { allowed: false, message: 'no' })).response).toEqual({
      uid: 'u1',
      allowed: false,
      status: { code: 422, reason: 'Invalid', message: 'no' },
    });
  });
});

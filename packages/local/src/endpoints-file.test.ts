import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EndpointsFile, endpointsDocument } from './endpoints-file.js';
import type { RevisionPods } from './revision-pods.js';

/** The fields of a revision's Pods the document reads. */
function revision(annotations: Record<string, string>): RevisionPods {
  return {
    namespace: 'default',
    name: 'hello-00001',
    config: {
      containerConcurrency: 0,
      timeoutSeconds: 300,
      responseStartTimeoutSeconds: 0,
      idleTimeoutSeconds: 0,
      annotations,
    },
    routable: () => [{ servingAddress: '127.0.0.1:9000', phase: 'ready' }],
  } as unknown as RevisionPods;
}

describe('endpointsDocument', () => {
  it('passes the zerogate.dev/ annotations on to the activator, and no others', () => {
    const doc = JSON.parse(
      endpointsDocument([
        revision({ 'zerogate.dev/slow-start': '2s', 'autoscaling.knative.dev/target': '10' }),
      ]),
    );
    expect(doc.revisions[0].annotations).toEqual({ 'zerogate.dev/slow-start': '2s' });
    expect(doc.revisions[0].endpoints).toEqual([{ address: '127.0.0.1:9000', ready: true }]);
  });

  it("passes a failing revision's reason on to the activator, and leaves the field out otherwise", () => {
    const failing = { ...revision({}), failing: 'app exited with code 1 (2 times)' } as RevisionPods;
    expect(JSON.parse(endpointsDocument([failing])).revisions[0].failing).toBe(
      'app exited with code 1 (2 times)',
    );
    expect(JSON.parse(endpointsDocument([revision({})])).revisions[0]).not.toHaveProperty('failing');
  });

  it('leaves the field out when the revision has none', () => {
    const doc = JSON.parse(endpointsDocument([revision({ 'autoscaling.knative.dev/target': '10' })]));
    expect(doc.revisions[0]).not.toHaveProperty('annotations');
  });
});

describe('EndpointsFile', () => {
  it('writes a burst of changes once, after the turn of the event loop they came in, and the newest state', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'endpoints-file-'));
    try {
      const path = join(dir, 'endpoints.json');
      const file = new EndpointsFile(path);
      let documents = 0;
      let address = '127.0.0.1:9000';
      const live = {
        ...revision({}),
        routable: () => {
          documents++;
          return [{ servingAddress: address, phase: 'ready' }];
        },
      } as unknown as RevisionPods;
      file.write([live]);
      documents = 0;
      for (let port = 9001; port <= 9010; port++) {
        address = `127.0.0.1:${port}`;
        file.changed([live]);
      }
      // Not written on the caller's turn: the file still has the first state.
      expect(JSON.parse(readFileSync(path, 'utf8')).revisions[0].endpoints[0].address).toBe('127.0.0.1:9000');
      await file.settled();
      expect(JSON.parse(readFileSync(path, 'utf8')).revisions[0].endpoints[0].address).toBe('127.0.0.1:9010');
      expect(documents).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('tells a failed write and writes again on the next change', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'endpoints-file-'));
    const errors: Error[] = [];
    const file = new EndpointsFile(join(dir, 'gone', 'endpoints.json'), (err) => errors.push(err));
    file.changed([revision({})]);
    await file.settled();
    expect(errors).toHaveLength(1);
    expect((errors[0] as NodeJS.ErrnoException).code).toBe('ENOENT');
    rmSync(dir, { recursive: true, force: true });
  });
});

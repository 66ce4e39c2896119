import { describe, expect, it } from 'vitest';
import { containerArgv, lookupImage, projectImages, UnknownImageError } from './image-table.js';

const rows = projectImages('/repo', '/opt/node/bin/node', '/cache/knative/bin');

describe('the node image table', () => {
  it('runs our images from the checkout mounted where the Dockerfiles put it, with their entry points', () => {
    const qp = lookupImage(rows, 'ghcr.io/zerogate/queue-proxy:0.1.0');
    expect(qp.entrypoint).toEqual(['node', 'packages/queue-proxy/dist/main.js']);
    expect(qp.mounts).toEqual([{ source: '/repo', target: '/app' }]);
    expect(qp.workingDir).toBe('/app');
    expect(lookupImage(rows, 'ghcr.io/zerogate/activator@sha256:abc').entrypoint[1]).toBe(
      'packages/activator/dist/main.js',
    );
    expect(lookupImage(rows, 'node:24.21.0-bookworm-slim').env['PATH']).toMatch(/^\/opt\/node\/bin:/);
  });

  it('runs Knative’s images as their built binaries, by ko:// or release name', () => {
    expect(lookupImage(rows, 'ko://knative.dev/serving/cmd/queue').entrypoint).toEqual([
      '/cache/knative/bin/queue',
    ]);
    expect(
      lookupImage(rows, 'gcr.io/knative-releases/knative.dev/serving/cmd/controller@sha256:0123').entrypoint,
    ).toEqual(['/cache/knative/bin/controller']);
    expect(() => lookupImage(projectImages('/repo'), 'ko://knative.dev/serving/cmd/queue')).toThrow(
      UnknownImageError,
    );
  });

  it('refuses an image it has no row for, naming it', () => {
    expect(() => lookupImage(rows, 'nginx:1.27')).toThrow(/nginx:1\.27 is not in the node's image table/);
  });

  it('takes the Pod’s command over the entry point, and args after either', () => {
    const image = lookupImage(rows, 'ghcr.io/zerogate/activator:0.1.0');
    expect(containerArgv(image, undefined, ['--x'])).toEqual([
      'node',
      'packages/activator/dist/main.js',
      '--x',
    ]);
    expect(containerArgv(image, ['node', 'packages/injector/dist/main.js'], undefined)).toEqual([
      'node',
      'packages/injector/dist/main.js',
    ]);
  });
});

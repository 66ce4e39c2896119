/**
 * A small Kubernetes API client over node:https for the node agent and the control plane: JSON calls with
 * a client certificate, and list-then-watch of one collection that resumes after a cut (relisting on
 * 410 Gone). The components under test use @kubernetes/client-node; this side stays dependency-free.
 */
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { sleep } from '@zerogate/core';

/** Who the client is and which apiserver it talks to. */
export interface ApiIdentity {
  readonly server: string;
  readonly ca: Buffer;
  readonly cert: Buffer;
  readonly key: Buffer;
}

/** Reads an identity from certificate files. */
export function identityFromFiles(
  server: string,
  files: { ca: string; cert: string; key: string },
): ApiIdentity {
  return { server, ca: readFileSync(files.ca), cert: readFileSync(files.cert), key: readFileSync(files.key) };
}

/** A non-2xx answer, with the Status the apiserver sent. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
    what: string,
  ) {
    super(`${what}: ${status} ${body.slice(0, 500)}`);
    this.name = 'ApiError';
  }
}

/** A Kubernetes object, loosely typed. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    deletionTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

/** One change a watch saw. */
export type WatchEvent<T> = { type: 'ADDED' | 'MODIFIED' | 'DELETED'; object: T };

/** JSON calls to one apiserver. */
export class ApiClient {
  private readonly agent: Agent;

  constructor(readonly identity: ApiIdentity) {
    this.agent = new Agent({ keepAlive: true, ca: identity.ca, cert: identity.cert, key: identity.key });
  }

  /** One call; resolves with the parsed body (undefined when empty), rejects with {@link ApiError}. */
  async call<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    contentType = 'application/json',
  ): Promise<T> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(
        `${this.identity.server}${path}`,
        {
          method,
          agent: this.agent,
          headers: {
            accept: 'application/json',
            ...(payload ? { 'content-type': contentType, 'content-length': payload.length } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
    if (status < 200 || status >= 300) throw new ApiError(status, text, `${method} ${path}`);
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }

  /** A strategic merge patch (JSON merge patch for custom resources: pass `contentType`). */
  patch<T = unknown>(
    path: string,
    body: unknown,
    contentType = 'application/strategic-merge-patch+json',
  ): Promise<T> {
    return this.call<T>('PATCH', path, body, contentType);
  }

  /**
   * Lists `path` (a collection URL, query allowed) and then watches it, calling `onEvent` for every object
   * (the first list as ADDED, a relist's vanished objects as DELETED). Resumes after a cut; relists on 410.
   * Returns a function that stops it.
   */
  watch<T extends KubeObject>(
    path: string,
    onEvent: (event: WatchEvent<T>) => void,
    onError?: (err: Error) => void,
  ): () => void {
    let stopped = false;
    let abort: (() => void) | undefined;
    const known = new Map<string, T>();
    const key = (o: T) => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
    const sep = path.includes('?') ? '&' : '?';

    const relist = async (): Promise<string> => {
      const list = await this.call<{ metadata: { resourceVersion: string }; items: T[] }>('GET', path);
      const seen = new Set<string>();
      for (const item of list.items) {
        seen.add(key(item));
        const before = known.get(key(item));
        known.set(key(item), item);
        if (before?.metadata.resourceVersion !== item.metadata.resourceVersion) {
          onEvent({ type: before ? 'MODIFIED' : 'ADDED', object: item });
        }
      }
      for (const [k, object] of known) {
        if (!seen.has(k)) {
          known.delete(k);
          onEvent({ type: 'DELETED', object });
        }
      }
      return list.metadata.resourceVersion;
    };

    const watchFrom = (resourceVersion: string): Promise<string | undefined> =>
      new Promise((resolve, reject) => {
        let last: string | undefined = resourceVersion;
        const req = request(
          `${this.identity.server}${path}${sep}watch=1&allowWatchBookmarks=true&resourceVersion=${resourceVersion}`,
          { agent: this.agent, headers: { accept: 'application/json' } },
          (res) => {
            if (res.statusCode !== 200) {
              res.resume();
              reject(new ApiError(res.statusCode ?? 0, '', `watch ${path}`));
              return;
            }
            let partial = '';
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => {
              const lines = (partial + chunk).split('\n');
              partial = lines.pop() ?? '';
              for (const line of lines) {
                if (line.trim() === '') continue;
                const event = JSON.parse(line) as { type: string; object: T & { code?: number } };
                if (event.type === 'ERROR') {
                  // 410 Gone: the resourceVersion is too old; relist.
                  last = undefined;
                  req.destroy();
                  return;
                }
                last = event.object.metadata?.resourceVersion ?? last;
                if (event.type === 'BOOKMARK') continue;
                const object = event.object;
                if (event.type === 'DELETED') known.delete(key(object));
                else known.set(key(object), object);
                onEvent({ type: event.type as WatchEvent<T>['type'], object });
              }
            });
            res.on('end', () => resolve(last));
            res.on('error', () => resolve(last));
            res.on('close', () => resolve(last));
          },
        );
        abort = () => req.destroy();
        req.on('error', () => resolve(last));
        req.end();
      });

    void (async () => {
      let resourceVersion: string | undefined;
      while (!stopped) {
        try {
          resourceVersion ??= await relist();
          if (stopped) break;
          const began = Date.now();
          resourceVersion = await watchFrom(resourceVersion);
          // A watch that ends at once (the apiserver restarting) is retried after a pause, not in a spin.
          if (Date.now() - began < 1000) await sleep(500);
        } catch (err) {
          resourceVersion = undefined;
          if (!stopped) onError?.(err as Error);
          await sleep(500);
        }
      }
    })();
    return () => {
      stopped = true;
      abort?.();
    };
  }

  /** Closes kept-alive connections. */
  close(): void {
    this.agent.destroy();
  }
}

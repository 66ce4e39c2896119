import { type FSWatcher, readFileSync, watch } from 'node:fs';

import { basename, dirname } from 'node:path';
import { type Logger, splitHostPort } from '@zerogate/core';
import {
  activatorAnnotations,
  type EndpointListener,
  type EndpointSource,
  type RevisionInfo,
  revisionKey,
} from './endpoint-source.js';

/** Thrown for a file that is not a valid endpoints document; the message says where and why. */
export class EndpointsFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EndpointsFileError';
  }
}

/** A safety net for file systems where change events are unreliable (network mounts, some containers). */
const POLL_INTERVAL_MS = 1000;

/**
 * Parses an endpoints document:
 * `{"revisions":[{"namespace","name","service","configuration","containerConcurrency","timeoutSeconds",
 * "responseStartTimeoutSeconds","idleTimeoutSeconds","endpoints":[{"address":"ip:port","ready":bool}],"activators":["ip"],
 * "annotations":{"zerogate.dev/…":"…"},"failing":"why"}]}`.
 * Only `namespace` and `name` are required; `endpoints` defaults to none, `service`, `configuration` and
 * `failing` (why the revision cannot become ready; '' = it is not failing) to '',
 * and the numbers as a Revision without them does.
 */
export function parseEndpointsDocument(text: string): RevisionInfo[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new EndpointsFileError(`not valid JSON: ${(err as Error).message}`);
  }
  const revisions = (doc as { revisions?: unknown } | null)?.revisions;
  if (!Array.isArray(revisions)) throw new EndpointsFileError('"revisions" must be an array');
  const seen = new Set<string>();
  return revisions.map((raw, i) => {
    const where = `revisions[${i}]`;
    if (typeof raw !== 'object' || raw === null) throw new EndpointsFileError(`${where} must be an object`);
    const r = raw as Record<string, unknown>;
    const text = (field: string): string => {
      const v = r[field];
      if (typeof v !== 'string' || v === '')
        throw new EndpointsFileError(`${where}.${field} must be a non-empty string`);
      return v;
    };
    const count = (field: string, fallback: number): number => {
      const v = r[field] ?? fallback;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
        throw new EndpointsFileError(`${where}.${field} must be a non-negative integer`);
      }
      return v;
    };
    const namespace = text('namespace');
    const name = text('name');
    const optionalText = (field: string): string => {
      const v = r[field] ?? '';
      if (typeof v !== 'string') throw new EndpointsFileError(`${where}.${field} must be a string`);
      return v;
    };
    const key = revisionKey(namespace, name);
    if (seen.has(key)) throw new EndpointsFileError(`${where}: ${key} appears twice`);
    seen.add(key);
    const endpoints = r.endpoints ?? [];
    if (!Array.isArray(endpoints)) throw new EndpointsFileError(`${where}.endpoints must be an array`);
    const ready: string[] = [];
    const notReady: string[] = [];
    endpoints.forEach((e, j) => {
      const address = (e as { address?: unknown } | null)?.address;
      const split = typeof address === 'string' ? splitHostPort(address) : undefined;
      // A name or IPv4 address, or an IPv6 address in brackets; port 1 to 65535.
      const hostPattern =
        typeof address === 'string' && address.startsWith('[') ? /^[0-9a-fA-F:.]+$/ : /^[^\s:]+$/;
      if (
        typeof address !== 'string' ||
        split === undefined ||
        !hostPattern.test(split.host) ||
        split.port < 1
      ) {
        throw new EndpointsFileError(`${where}.endpoints[${j}].address must be "host:port"`);
      }
      ((e as { ready?: unknown }).ready === true ? ready : notReady).push(address);
    });
    const activators = r.activators ?? [];
    if (!Array.isArray(activators) || activators.some((a) => typeof a !== 'string')) {
      throw new EndpointsFileError(`${where}.activators must be an array of addresses`);
    }
    const annotations = r.annotations ?? {};
    if (
      typeof annotations !== 'object' ||
      annotations === null ||
      Array.isArray(annotations) ||
      Object.values(annotations).some((v) => typeof v !== 'string')
    ) {
      throw new EndpointsFileError(`${where}.annotations must be an object of strings`);
    }
    return {
      namespace,
      name,
      annotations: activatorAnnotations(annotations as Record<string, string>),
      failing: optionalText('failing') || undefined,
      service: optionalText('service') || undefined,
      configuration: optionalText('configuration') || undefined,
      containerConcurrency: count('containerConcurrency', 0),
      timeoutSeconds: count('timeoutSeconds', 300),
      responseStartTimeoutSeconds: count('responseStartTimeoutSeconds', 0),
      idleTimeoutSeconds: count('idleTimeoutSeconds', 0),
      ready,
      notReady,
      activators: activators as string[],
    };
  });
}

/**
 * The `file` endpoint source: a JSON document re-read whenever it changes (watched through its folder, so
 * files replaced by rename are seen too), for the local platform and for anyone without Kubernetes. A
 * malformed document is logged with the reason and the last good state is kept.
 */
export class FileEndpointSource implements EndpointSource {
  private watcher: FSWatcher | null = null;
  private poll: NodeJS.Timeout | null = null;
  private listener: EndpointListener | null = null;
  private current = new Map<string, string>();
  private lastText: string | undefined;
  private reading: Promise<void> | null = null;
  private again = false;

  constructor(
    private readonly path: string,
    private readonly logger: Logger,
  ) {}

  async start(listener: EndpointListener): Promise<void> {
    this.listener = listener;
    const file = basename(this.path);
    try {
      this.watcher = watch(dirname(this.path), (_event, name) => {
        if (name === null || name === file) void this.reload();
      });
      this.watcher.on('error', (err) =>
        this.logger.warn({ err, path: this.path }, 'endpoints file watch failed'),
      );
    } catch (err) {
      this.logger.warn({ err, path: this.path }, 'cannot watch the endpoints file; polling it');
    }
    this.poll = setInterval(() => void this.reload(), POLL_INTERVAL_MS);
    await this.reload();
  }

  async stop(): Promise<void> {
    this.watcher?.close();
    this.watcher = null;
    if (this.poll) clearInterval(this.poll);
    this.poll = null;
    this.listener = null;
    await this.reading;
  }

  /** Re-reads the file; concurrent triggers collapse into one more read. */
  private reload(): Promise<void> {
    if (this.reading) {
      this.again = true;
      return this.reading;
    }
    this.reading = (async () => {
      do {
        this.again = false;
        await this.readOnce();
      } while (this.again);
    })().finally(() => {
      this.reading = null;
    });
    return this.reading;
  }

  private async readOnce(): Promise<void> {
    let text: string;
    try {
      // Read at once: a small file, and no wait for the thread pool on a machine busy starting Pods.
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if (this.lastText !== '')
        this.logger.warn({ err, path: this.path }, 'cannot read the endpoints file; keeping the last state');
      this.lastText = '';
      return;
    }
    if (text === this.lastText) return;
    this.lastText = text;
    let revisions: RevisionInfo[];
    try {
      revisions = parseEndpointsDocument(text);
    } catch (err) {
      this.logger.error(
        { err, path: this.path },
        `malformed endpoints file: ${(err as Error).message}; keeping the last state`,
      );
      return;
    }
    this.apply(revisions);
  }

  private apply(revisions: RevisionInfo[]): void {
    const listener = this.listener;
    if (!listener) return;
    const next = new Map<string, string>();
    for (const info of revisions) {
      const key = revisionKey(info.namespace, info.name);
      const serialized = JSON.stringify(info);
      next.set(key, serialized);
      if (this.current.get(key) !== serialized) listener.upsert(info);
    }
    for (const key of this.current.keys()) {
      if (!next.has(key)) {
        const slash = key.indexOf('/');
        listener.remove(key.slice(0, slash), key.slice(slash + 1));
      }
    }
    this.current = next;
  }
}

/**
 * An in-process Kubernetes API server for tests: enough of the REST protocol (list, watch, get, create,
 * update, patch, delete, the `scale` and `status` subresources) that the real `@kubernetes/client-node`
 * works against it unmodified, plus controls to cut watches, expire history and inject failures.
 */
import { writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { cloneJson, PatchError } from './test-apiserver-patch.js';
import { forbiddenError, RbacAuthorizer, type RequestAttributes } from './test-apiserver-rbac.js';
import {
  type FieldRequirement,
  type LabelRequirement,
  parseFieldSelector,
  parseLabelSelector,
  SelectorError,
} from './test-apiserver-selectors.js';
import {
  apiVersionOf,
  applyPatch,
  badRequest,
  type ChangeEvent,
  conflict,
  DEFAULT_RESOURCES,
  type EventType,
  isObject,
  matches,
  notFound,
  type Obj,
  ObjectStore,
  type ResourceType,
  StatusError,
  scaleOf,
  statusBody,
  typeKey,
} from './test-apiserver-store.js';
import { admit } from './test-apiserver-validation.js';

export { DEFAULT_RESOURCES, type ResourceType, type StatusBody, statusBody } from './test-apiserver-store.js';

/** Options of {@link TestApiServer.start}. */
export interface TestApiServerOptions {
  /** Resources served besides {@link DEFAULT_RESOURCES}. */
  readonly resources?: readonly ResourceType[];
  /** How many change events are kept for watches that resume from an old resourceVersion (default 10000). */
  readonly historyLimit?: number;
  /** How often watches that asked for bookmarks get one (default 1000 ms). */
  readonly bookmarkIntervalMs?: number;
  /** The initial {@link TestApiServer.authorize}; default every request is allowed. */
  readonly authorize?: Authorizer;
  /** The initial {@link TestApiServer.rbac}; default none. */
  readonly rbac?: RbacOptions;
  /**
   * Accept EndpointSlice addresses in 127.0.0.0/8 and ::1, which the real API server refuses (default
   * false): for tests whose Pods and activators run on this machine's loopback.
   */
  readonly loopbackEndpoints?: boolean;
}

/** The roles a server enforces and the user its clients are (see {@link TestApiServer.rbac}). */
export interface RbacOptions {
  /** Roles, ClusterRoles and their bindings; other objects are ignored (a rendered kustomization will do). */
  readonly objects: readonly KubernetesObject[];
  /** The user every request comes from, e.g. `system:serviceaccount:zerogate-system:activator`. */
  readonly user: string;
}

/** The Kubernetes verb a request was served as. */
export type Verb = 'list' | 'watch' | 'get' | 'create' | 'update' | 'patch' | 'delete';

/** One request as the server saw it, for assertions. */
export interface RecordedRequest {
  readonly method: string;
  /** The path without the query. */
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  /** Undefined when the method fits no verb (answered 405). */
  readonly verb: Verb | undefined;
  /** The status answered (200 for a watch, whose errors come as events); undefined until answered. */
  status?: number;
}

/** Decides whether a request is allowed, as RBAC would; a denied one gets 403 Forbidden. */
export type Authorizer = (request: RecordedRequest) => boolean;

interface WatchStream {
  readonly type: ResourceType;
  readonly namespace: string | undefined;
  readonly labels: readonly LabelRequirement[];
  readonly fields: readonly FieldRequirement[];
  readonly res: ServerResponse;
  readonly timers: NodeJS.Timeout[];
}

interface Failure {
  readonly method: string;
  readonly path: string | RegExp;
  readonly status: number;
  remaining: number;
}

interface Route {
  readonly type: ResourceType;
  readonly namespace: string | undefined;
  readonly name: string | undefined;
  readonly subresource: string | undefined;
  /** The legacy `/watch/` path prefix. */
  readonly watchPath: boolean;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  warnings: readonly string[] = [],
): void {
  const text = JSON.stringify(body);
  const headers: Record<string, string | string[]> = {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
  };
  // As the API server sends warnings: one `299 - "<text>"` header each.
  if (warnings.length > 0) headers['warning'] = warnings.map((w) => `299 - ${JSON.stringify(w)}`);
  res.writeHead(status, headers);
  res.end(text);
}

/**
 * An in-process Kubernetes API server on `127.0.0.1`, for tests that drive the real client.
 *
 * Every change gets the next value of one global resourceVersion and is kept in a bounded history, so a
 * watch resuming from an old resourceVersion replays what it missed, and one older than the history gets
 * a 410 Expired event and must relist, as with the real API server's watch cache. Objects are stored and
 * returned in their JSON form (timestamps are strings).
 */
export class TestApiServer {
  /** Every request served, in order; tests may clear it. */
  readonly requests: RecordedRequest[] = [];
  /**
   * Checked before anything else on every request: when it returns false the request gets 403 Forbidden
   * with a Status as the real API server words it, persistently, unlike {@link failNext}. Tests may
   * replace it at any time; undefined allows everything.
   */
  authorize: Authorizer | undefined;

  private readonly server: Server;
  private rbacOptions: RbacOptions | undefined;
  private rbacAuthorizer: RbacAuthorizer | undefined;
  private readonly store: ObjectStore;
  private readonly watches = new Set<WatchStream>();
  private readonly failures: Failure[] = [];
  private readonly bookmarkIntervalMs: number;
  private readonly loopbackEndpoints: boolean;
  private port = 0;

  private constructor(options: TestApiServerOptions) {
    const historyLimit = options.historyLimit ?? 10_000;
    this.bookmarkIntervalMs = options.bookmarkIntervalMs ?? 1000;
    this.authorize = options.authorize;
    this.rbac = options.rbac;
    this.loopbackEndpoints = options.loopbackEndpoints ?? false;
    if (!(historyLimit >= 1)) throw new RangeError('TestApiServer option historyLimit must be >= 1');
    if (!(this.bookmarkIntervalMs > 0)) {
      throw new RangeError('TestApiServer option bookmarkIntervalMs must be > 0');
    }
    this.store = new ObjectStore(
      [...DEFAULT_RESOURCES, ...(options.resources ?? [])],
      historyLimit,
      (event) => {
        for (const w of this.watches) deliver(w, event);
      },
    );
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) sendJson(res, 500, statusBody(500, String(err)));
        else res.destroy();
      });
    });
  }

  /** Starts a server on an ephemeral port of 127.0.0.1. */
  static async start(options: TestApiServerOptions = {}): Promise<TestApiServer> {
    const s = new TestApiServer(options);
    await new Promise<void>((resolve, reject) => {
      s.server.once('error', reject);
      s.server.listen(0, '127.0.0.1', () => resolve());
    });
    s.port = (s.server.address() as AddressInfo).port;
    return s;
  }

  /**
   * Enforces RBAC on every request from now on, as the real API server's RBAC authorizer: a request no
   * binding of `user` allows gets 403 Forbidden at once, worded as the real server words it. Checked
   * after {@link authorize}. Undefined (the default) allows everything; {@link apply} and the other
   * direct controls are never checked.
   */
  set rbac(options: RbacOptions | undefined) {
    this.rbacOptions = options;
    this.rbacAuthorizer = options && new RbacAuthorizer(options.objects, options.user);
  }

  get rbac(): RbacOptions | undefined {
    return this.rbacOptions;
  }

  /** `http://127.0.0.1:<port>`. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The resourceVersion of the latest change, as a string. */
  get resourceVersion(): string {
    return String(this.store.resourceVersion);
  }

  /** How many watch streams are open now. */
  get openWatches(): number {
    return this.watches.size;
  }

  /**
   * A KubeConfig whose current context points at this server without credentials. `skipTLSVerify` is set
   * because the client refuses plain `http:` servers otherwise.
   */
  kubeConfig(namespace?: string): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'test', server: this.url, skipTLSVerify: true }],
      users: [{ name: 'test' }],
      contexts: [{ name: 'test', cluster: 'test', user: 'test', ...(namespace ? { namespace } : {}) }],
      currentContext: 'test',
    });
    return kc;
  }

  /** Writes {@link kubeConfig} as a kubeconfig file to `path`; returns `path`. */
  writeKubeConfig(path: string): string {
    writeFileSync(path, this.kubeConfig().exportConfig());
    return path;
  }

  /**
   * Creates the object or replaces the stored one (ignoring its resourceVersion), as a controller outside
   * the test would; the namespace defaults to `default`. Returns the stored object.
   */
  apply<T extends KubernetesObject>(obj: T): T {
    const type = this.store.typeOf(obj.apiVersion, obj.kind);
    const body = cloneJson(obj) as unknown as Obj;
    if (!isObject(body.metadata)) body.metadata = {};
    const namespace = body.metadata.namespace ?? 'default';
    const name = body.metadata.name;
    const existing = name === undefined ? undefined : this.store.get(type, namespace, name);
    if (existing && name !== undefined) {
      body.metadata.resourceVersion = existing.metadata.resourceVersion;
      return this.store.replace(type, namespace, name, body, false) as unknown as T;
    }
    return this.store.create(type, namespace, body) as unknown as T;
  }

  /** Deletes an object by kind (`EndpointSlice`) or plural (`endpointslices`); false if it did not exist. */
  delete(kind: string, namespace: string, name: string): boolean {
    const type = this.store.typeOfKind(kind);
    const existing = this.store.get(type, namespace, name);
    if (!existing) return false;
    this.store.remove(type, existing);
    return true;
  }

  /** The stored object, or undefined. */
  get<T extends KubernetesObject = KubernetesObject>(
    kind: string,
    namespace: string,
    name: string,
  ): T | undefined {
    const obj = this.store.get(this.store.typeOfKind(kind), namespace, name);
    return obj ? (cloneJson(obj) as unknown as T) : undefined;
  }

  /** The stored objects of a kind, in one namespace or all, sorted by namespace and name. */
  list<T extends KubernetesObject = KubernetesObject>(kind: string, namespace?: string): T[] {
    return this.store
      .select(this.store.typeOfKind(kind), namespace, [], [])
      .map((o) => cloneJson(o) as unknown as T);
  }

  /** Destroys every open watch connection abruptly, as a dropped connection or an API server restart would. */
  cutWatches(): void {
    for (const w of [...this.watches]) {
      this.dropWatch(w);
      w.res.socket?.destroy();
      w.res.destroy();
    }
  }

  /** Drops the retained history: a watch from any resourceVersion older than now gets 410 Expired. */
  compactHistory(): void {
    this.store.compact();
  }

  /**
   * Answers the next `times` requests matching `method` and `path` with `status` and a Status body.
   * `method` is an HTTP method, a verb (`list`, `watch`, `get`, `create`, `update`, `patch`, `delete`) or
   * `*`; `path` is the exact path without the query, or a RegExp tested against it.
   */
  failNext(method: string, path: string | RegExp, status: number, times = 1): void {
    this.failures.push({ method: method.toLowerCase(), path, status, remaining: times });
  }

  /** Closes every watch and connection and stops listening. */
  async close(): Promise<void> {
    this.cutWatches();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private route(pathname: string): Route | undefined {
    const parts = pathname
      .split('/')
      .filter((p) => p !== '')
      .map(decodeURIComponent);
    let group: string;
    let rest: string[];
    if (parts[0] === 'api' && parts.length >= 2) {
      group = '';
      rest = parts.slice(1);
    } else if (parts[0] === 'apis' && parts.length >= 3) {
      group = parts[1]!;
      rest = parts.slice(2);
    } else {
      return undefined;
    }
    const version = rest[0]!;
    rest = rest.slice(1);
    const watchPath = rest[0] === 'watch';
    if (watchPath) rest = rest.slice(1);
    let namespace: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    if (rest.length < 1 || rest.length > 3) return undefined;
    const type = this.store.types.get(`${group}/${version}/${rest[0]}`);
    if (!type) return undefined;
    return { type, namespace, name: rest[1], subresource: rest[2], watchPath };
  }

  private takeFailure(method: string, verb: Verb | undefined, path: string): number | undefined {
    const m = method.toLowerCase();
    const i = this.failures.findIndex(
      (f) =>
        (f.method === '*' || f.method === m || f.method === verb) &&
        (typeof f.path === 'string' ? f.path === path : f.path.test(path)),
    );
    if (i < 0) return undefined;
    const failure = this.failures[i]!;
    if (--failure.remaining <= 0) this.failures.splice(i, 1);
    return failure.status;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = (req.method ?? 'GET').toUpperCase();
    const query = Object.fromEntries(url.searchParams);
    const route = this.route(url.pathname);
    const watching = route?.watchPath === true || query['watch'] === 'true' || query['watch'] === '1';
    const verb = verbOf(method, route, watching);
    const recorded: RecordedRequest = { method, path: url.pathname, query, verb };
    this.requests.push(recorded);
    res.once('finish', () => {
      recorded.status = res.statusCode;
    });
    const text = await readBody(req);
    try {
      if (this.authorize && !this.authorize(recorded)) throw forbidden(recorded, route);
      if (this.rbacAuthorizer && route && verb) {
        const attrs = attributesOf(route, verb);
        if (!this.rbacAuthorizer.allows(attrs)) throw this.rbacAuthorizer.forbidden(attrs);
      }
      const injected = this.takeFailure(method, verb, url.pathname);
      if (injected !== undefined) {
        throw new StatusError(statusBody(injected, `injected failure of ${method} ${url.pathname}`));
      }
      if (!route) throw new StatusError(statusBody(404, 'the server could not find the requested resource'));
      if (verb === undefined) throw new StatusError(statusBody(405, `${method} is not supported here`));
      let body: unknown;
      if (text !== '') {
        try {
          body = JSON.parse(text);
        } catch {
          throw badRequest('the request body is not valid JSON');
        }
      }
      const warnings: string[] = [];
      const answer = this.serve(req, res, route, verb, query, body, warnings);
      if (answer) sendJson(res, answer[0], answer[1], warnings);
    } catch (err) {
      if (err instanceof StatusError) sendJson(res, err.body.code, err.body);
      else if (err instanceof SelectorError) sendJson(res, 400, statusBody(400, err.message));
      else if (err instanceof PatchError) sendJson(res, err.status, statusBody(err.status, err.message));
      else throw err;
    }
  }

  /** Serves one request; returns the status and body to send, or undefined for a watch, which writes itself. */
  private serve(
    req: IncomingMessage,
    res: ServerResponse,
    route: Route,
    verb: Verb,
    query: Record<string, string>,
    body: unknown,
    warnings: string[],
  ): [number, unknown] | undefined {
    const { type, namespace } = route;
    // Decoding, defaulting and validation of what a client writes, as the API server does them.
    const admitted = (obj: unknown, previous: Obj | undefined): unknown => {
      if (!isObject(obj)) return obj;
      if (!isObject(obj['metadata'])) obj['metadata'] = {};
      const options = {
        fieldValidation: query['fieldValidation'],
        loopbackEndpoints: this.loopbackEndpoints,
      };
      warnings.push(...admit(type, obj as Obj, previous, options));
      return obj;
    };
    if (verb === 'list') return [200, this.serveList(type, namespace, query)];
    if (verb === 'watch') {
      this.serveWatch(res, type, namespace, query);
      return undefined;
    }
    if (namespace === undefined) throw new StatusError(statusBody(405, `${verb} needs a namespaced path`));
    if (verb === 'create') return [201, this.store.create(type, namespace, admitted(body, undefined))];
    const name = route.name!;
    const sub = route.subresource;
    if (sub !== undefined && sub !== 'status' && !(sub === 'scale' && type.scalable)) {
      throw new StatusError(statusBody(404, 'the server could not find the requested resource'));
    }
    if (sub !== undefined && verb === 'delete') {
      throw new StatusError(statusBody(405, 'a subresource cannot be deleted'));
    }
    const current = this.store.get(type, namespace, name);
    if (!current) throw notFound(type, name);
    const write = (next: unknown, checkVersion: boolean) =>
      sub === 'status' || sub === 'scale'
        ? this.store.writeSubresource(type, current, sub, next, checkVersion)
        : this.store.replace(type, namespace, name, admitted(next, current), checkVersion);
    switch (verb) {
      case 'get':
        return [200, sub === 'scale' ? scaleOf(current) : current];
      case 'delete':
        return [200, this.store.remove(type, current, body)];
      case 'update':
        return [200, write(body, true)];
      case 'patch': {
        const patched = applyPatch(
          type,
          sub === 'scale' ? scaleOf(current) : current,
          req.headers['content-type'] ?? '',
          body,
        );
        // A patch that names a resourceVersion is a precondition, as with the real API server.
        if (patched.metadata.resourceVersion !== current.metadata.resourceVersion) throw conflict(type, name);
        return [200, write(patched, false)];
      }
    }
  }

  /**
   * A list, a page at a time when the client sets `limit`: each page but the last carries a continue
   * token naming the list's resourceVersion and the last key served, and every page is cut from the
   * objects as they were at that resourceVersion (a consistent snapshot, as etcd serves one), until the
   * history no longer reaches back to it: then 410 Expired, and the client must list afresh.
   */
  private serveList(
    type: ResourceType,
    namespace: string | undefined,
    query: Record<string, string>,
  ): unknown {
    const labels = parseLabelSelector(query['labelSelector']);
    const fields = parseFieldSelector(query['fieldSelector']);
    const limitText = query['limit'] ?? '';
    const limit = limitText === '' ? 0 : Number(limitText);
    if (!Number.isSafeInteger(limit)) throw badRequest(`invalid limit "${limitText}"`);
    const token = query['continue'] ?? '';
    let rv = this.store.resourceVersion;
    let start = '';
    let items: Obj[];
    if (token !== '') {
      if (query['resourceVersion']) {
        throw badRequest('specifying resource version is not allowed when using continue');
      }
      [rv, start] = decodeContinue(token);
      const snapshot = this.store.selectAt(type, rv, namespace, labels, fields);
      if (!snapshot) throw new StatusError(statusBody(410, CONTINUE_EXPIRED, 'Expired'));
      items = snapshot.filter((o) => keyOf(o) > start);
    } else {
      items = this.store.select(type, namespace, labels, fields);
    }
    const metadata: Record<string, unknown> = { resourceVersion: String(rv) };
    if (limit > 0 && items.length > limit) {
      const remaining = items.length - limit;
      items = items.slice(0, limit);
      metadata['continue'] = encodeContinue(rv, keyOf(items.at(-1)!));
      // As the API server: the count is known only for an unfiltered list.
      if (labels.length === 0 && fields.length === 0) metadata['remainingItemCount'] = remaining;
    }
    return { kind: `${type.kind}List`, apiVersion: apiVersionOf(type), metadata, items };
  }

  private serveWatch(
    res: ServerResponse,
    type: ResourceType,
    namespace: string | undefined,
    query: Record<string, string>,
  ): void {
    const labels = parseLabelSelector(query['labelSelector']);
    const fields = parseFieldSelector(query['fieldSelector']);
    const rvText = query['resourceVersion'] ?? '';
    // Unset and "0" both mean: start with the current state as ADDED events.
    const since = rvText === '' || rvText === '0' ? undefined : Number(rvText);
    if (since !== undefined && !(Number.isSafeInteger(since) && since > 0)) {
      throw badRequest(`invalid resourceVersion "${rvText}"`);
    }
    const timeoutSeconds =
      query['timeoutSeconds'] === undefined ? undefined : Number(query['timeoutSeconds']);
    if (timeoutSeconds !== undefined && !(timeoutSeconds >= 0)) throw badRequest('invalid timeoutSeconds');
    const bookmarks = query['allowWatchBookmarks'] === 'true';

    // Headers go out now: clients resolve their watch call (and informers their start) on the headers.
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache, private' });
    res.flushHeaders();
    const stream: WatchStream = { type, namespace, labels, fields, res, timers: [] };
    const missed = since === undefined ? [] : this.store.changesSince(since);
    if (missed === undefined) {
      const message = `too old resource version: ${since} (${this.store.oldestResumable})`;
      res.end(`${JSON.stringify({ type: 'ERROR', object: statusBody(410, message, 'Expired') })}\n`);
      return;
    }
    if (since === undefined) {
      const current = this.store
        .select(type, namespace, labels, fields)
        .sort((a, b) => Number(a.metadata.resourceVersion) - Number(b.metadata.resourceVersion));
      for (const object of current) send(res, 'ADDED', object);
    }
    for (const event of missed) deliver(stream, event);
    this.watches.add(stream);
    res.on('close', () => this.dropWatch(stream));
    const bookmark = () =>
      send(res, 'BOOKMARK', {
        kind: type.kind,
        apiVersion: apiVersionOf(type),
        metadata: { resourceVersion: this.resourceVersion },
      });
    if (bookmarks) stream.timers.push(setInterval(bookmark, this.bookmarkIntervalMs));
    if (timeoutSeconds !== undefined && timeoutSeconds > 0) {
      const end = () => {
        if (bookmarks) bookmark();
        this.dropWatch(stream);
        res.end();
      };
      stream.timers.push(setTimeout(end, timeoutSeconds * 1000));
    }
  }

  private dropWatch(stream: WatchStream): void {
    for (const t of stream.timers) clearTimeout(t);
    this.watches.delete(stream);
  }
}

/** The 410 of a continue token whose snapshot was compacted (`storage/etcd3/errors.go`). */
const CONTINUE_EXPIRED =
  'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.';

/** The key objects are listed by, and a continue token resumes after. */
function keyOf(obj: Obj): string {
  return `${obj.metadata.namespace}/${obj.metadata.name}`;
}

/** A continue token as the API server makes one (`storage/continue.go`): base64url JSON. */
function encodeContinue(rv: number, lastKey: string): string {
  const token = { v: 'meta.k8s.io/v1', rv, start: `${lastKey}\u0000` };
  return Buffer.from(JSON.stringify(token)).toString('base64url');
}

/** The resourceVersion and last key of a continue token; 400 when it is not one. */
function decodeContinue(token: string): [number, string] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  if (
    !isObject(parsed) ||
    parsed['v'] !== 'meta.k8s.io/v1' ||
    !(Number.isSafeInteger(parsed['rv']) && (parsed['rv'] as number) > 0) ||
    typeof parsed['start'] !== 'string' ||
    !parsed['start'].endsWith('\u0000')
  ) {
    throw badRequest(
      'continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)',
    );
  }
  return [parsed['rv'] as number, parsed['start'].slice(0, -1)];
}

function send(res: ServerResponse, type: EventType | 'BOOKMARK', object: unknown): void {
  if (!res.writableEnded && !res.destroyed) res.write(`${JSON.stringify({ type, object })}\n`);
}

/** Sends a change to a watch as its selector sees it: leaving the selection is DELETED, entering it ADDED. */
function deliver(stream: WatchStream, event: ChangeEvent): void {
  if (typeKey(event.type) !== typeKey(stream.type)) return;
  const { namespace, labels, fields } = stream;
  const now = matches(event.object, namespace, labels, fields);
  const before = event.previous !== undefined && matches(event.previous, namespace, labels, fields);
  let type: EventType | undefined;
  if (event.eventType === 'ADDED') type = now ? 'ADDED' : undefined;
  else if (event.eventType === 'DELETED') type = now || before ? 'DELETED' : undefined;
  else if (now) type = before ? 'MODIFIED' : 'ADDED';
  else if (before) type = 'DELETED';
  if (type) send(stream.res, type, event.object);
}

/** The attributes RBAC decides a resource request on. */
function attributesOf(route: Route, verb: Verb): RequestAttributes {
  return {
    verb,
    group: route.type.group,
    resource: route.type.plural,
    subresource: route.subresource,
    namespace: route.namespace,
    name: route.name,
  };
}

/** The real API server's 403: `endpointslices.discovery.k8s.io is forbidden: User … cannot list …`. */
function forbidden(request: RecordedRequest, route: Route | undefined): StatusError {
  if (!route || !request.verb) {
    return new StatusError(statusBody(403, `${request.method} ${request.path} is forbidden`));
  }
  return forbiddenError('system:anonymous', attributesOf(route, request.verb));
}

function verbOf(method: string, route: Route | undefined, watching: boolean): Verb | undefined {
  const named = route?.name !== undefined;
  switch (method) {
    case 'GET':
      return named ? 'get' : watching ? 'watch' : 'list';
    case 'POST':
      return named ? undefined : 'create';
    case 'PUT':
      return named ? 'update' : undefined;
    case 'PATCH':
      return named ? 'patch' : undefined;
    case 'DELETE':
      return named ? 'delete' : undefined;
    default:
      return undefined;
  }
}

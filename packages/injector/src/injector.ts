/**
 * The webhook server: HTTPS only, `POST /mutate-pods` for AdmissionReviews of Pods and `GET /healthz` for
 * the kubelet. Every answer leaves well within the API server's webhook timeout: bodies are capped, the
 * Kubernetes calls share a deadline, and a failure of those calls still admits the Pod, with warnings.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import { KubeConfig } from '@kubernetes/client-node';
import {
  CertificateWatcher,
  ListenError,
  type Logger,
  listenOn,
  parseGoDuration,
  type RunningComponent,
  sendError,
  sendText,
  ZerogateError,
} from '@zerogate/core';
import {
  type AdmissionAnswer,
  type AdmissionRequest,
  admissionResponse,
  isJsonContentType,
  MAX_BODY_BYTES,
  parseAdmissionReview,
} from './admission-review.js';
import type { InjectorConfig } from './config.js';
import { planInjection } from './pod-injection.js';
import { RevisionWiring } from './revision-wiring.js';

/** Test seams of {@link startInjector}. */
export interface InjectorOptions {
  /** The cluster; default: `KUBECONFIG`, the Pod's service account, or the client's defaults. */
  readonly kubeConfig?: KubeConfig;
}

/** Limits on a slow client: the API server sends a small body at once. */
const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 10_000;
/** Idle keep-alive connections outlive the API server's own idle timeout (Go's 90 s), so it never reuses one being closed. */
const KEEP_ALIVE_TIMEOUT_MS = 95_000;
/** How long a stop waits for requests in flight before closing their connections. */
const SHUTDOWN_GRACE_MS = 5000;
/** The API server speaks TLS 1.2 and 1.3 to webhooks. */
const MIN_TLS_VERSION = 'TLSv1.2';
/** Share of the API server's `?timeout=` the Kubernetes calls may use, leaving the rest for the answer. */
const TIMEOUT_SHARE = 0.5;

/** Sent with an answer whose request body was not read whole: the connection cannot be reused. */
const CLOSE = { connection: 'close' };

/** Reads the body whole; rejects with BODY_TOO_LARGE as soon as it passes `limit` bytes. */
function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        chunks.length = 0;
        reject(new ZerogateError('BODY_TOO_LARGE'));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', (err) => {
      if (!failed) reject(err);
      failed = true;
    });
  });
}

/** A kubeconfig that cannot be loaded stops the start, naming the variable, as a port that cannot be bound does. */
export class KubeConfigError extends ListenError {}

/** The cluster from `KUBECONFIG`, else the Pod's service account, else the client's defaults. */
function loadKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  try {
    kc.loadFromDefault();
  } catch (err) {
    throw new KubeConfigError(`KUBECONFIG: cannot load: ${(err as Error).message}`, { cause: err });
  }
  return kc;
}

/**
 * Starts the injector: the HTTPS listener on `config.port` (a port that cannot be bound rejects with a
 * ListenError naming INJECTOR_PORT), the certificate reloader and the revision wiring.
 */
export async function startInjector(
  config: Readonly<InjectorConfig>,
  logger: Logger,
  options: InjectorOptions = {},
): Promise<RunningComponent> {
  const kubeConfig = options.kubeConfig ?? loadKubeConfig();
  const wiring = new RevisionWiring({
    kubeConfig,
    logger,
    timeoutMs: config.apiTimeoutMs,
    activatorService: config.activatorService,
  });
  const injection = {
    image: config.queueProxyImage,
    resources: config.queueProxyResources,
    queueProxyLogLevel: config.queueProxyLogLevel,
    systemNamespace: config.systemNamespace,
  };

  /** Decides about one review; side effects only for injected Pods of requests that are not dry runs. */
  const decide = async (review: AdmissionRequest, budgetMs: number): Promise<[AdmissionAnswer, string]> => {
    if (!review.podCreate || !review.pod) {
      // Admitted as it is; a webhook configuration sending other resources is worth saying so.
      const warnings = review.resource.endsWith('/pods')
        ? []
        : [`the zerogate injector handles Pod creations only, not ${review.resource}`];
      return [{ allowed: true, warnings }, `not a Pod creation (${review.operation} ${review.resource})`];
    }
    const plan = planInjection(review.pod, review.namespace, injection);
    if (plan.kind === 'deny') return [{ allowed: false, message: plan.message }, 'denied'];
    if (plan.kind === 'unchanged') return [{ allowed: true, warnings: plan.warnings }, plan.reason];
    const warnings = [...plan.warnings];
    if (!review.dryRun) {
      warnings.push(
        ...(await wiring.ensure(
          {
            namespace: review.namespace,
            revision: plan.revision,
            settings: plan.settings,
            h2c: plan.h2c,
            userPort: plan.userPort,
            deployment: plan.deployment,
          },
          budgetMs,
        )),
      );
    }
    return [{ allowed: true, patch: plan.patch, warnings }, 'injected'];
  };

  const mutate = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const contentType = req.headers['content-type'];
    if (!isJsonContentType(contentType))
      throw new ZerogateError('CONTENT_TYPE', JSON.stringify(contentType ?? ''));
    if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES)
      throw new ZerogateError('BODY_TOO_LARGE');
    const started = performance.now();
    const review = parseAdmissionReview(await readBody(req, MAX_BODY_BYTES));
    // The API server says how long it waits (`?timeout=10s`, a Go duration): the calls get a share of it.
    const waitMs = parseGoDuration(url.searchParams.get('timeout') ?? '');
    const budgetMs = Math.min(
      config.apiTimeoutMs,
      waitMs === undefined || waitMs < 0 ? Infinity : waitMs * TIMEOUT_SHARE,
    );
    const [answer, outcome] = await decide(review, Math.max(budgetMs, 1));
    const meta = review.pod?.metadata;
    const entry = {
      uid: review.uid,
      namespace: review.namespace,
      pod: meta?.name || meta?.generateName || undefined,
      allowed: answer.allowed,
      outcome,
      dryRun: review.dryRun || undefined,
      ...(answer.warnings && answer.warnings.length > 0 ? { warnings: answer.warnings } : {}),
      ...(answer.allowed ? {} : { message: answer.message }),
      ms: Math.round((performance.now() - started) * 10) / 10,
    };
    // Logged before the answer leaves, so the line exists whatever happens to the connection.
    if (answer.warnings?.length || !answer.allowed) logger.warn(entry, 'admission');
    else if (outcome === 'injected') logger.info(entry, 'admission');
    else logger.debug(entry, 'admission');
    const body = admissionResponse(review.uid, answer);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'https://injector');
    try {
      if (url.pathname === '/healthz') {
        if (req.method !== 'GET' && req.method !== 'HEAD') throw new ZerogateError('METHOD_NOT_ALLOWED');
        sendText(res, 200, 'ok\n');
      } else if (url.pathname === '/mutate-pods') {
        if (req.method !== 'POST') throw new ZerogateError('METHOD_NOT_ALLOWED');
        await mutate(req, res, url);
      } else {
        throw new ZerogateError('UNKNOWN_PATH');
      }
    } catch (err) {
      if (!(err instanceof ZerogateError)) throw err;
      logger.warn(
        {
          status: err.status,
          code: err.code,
          method: req.method,
          path: url.pathname,
          remote: req.socket.remoteAddress,
        },
        err.message,
      );
      sendError(res, err.code, req.complete ? undefined : CLOSE, err.detail);
    }
  };

  const server: Server = createServer(
    {
      cert: config.tls.cert,
      key: config.tls.key,
      minVersion: MIN_TLS_VERSION,
      headersTimeout: HEADERS_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
      keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    },
    (req, res) => {
      handle(req, res).catch((err: unknown) => {
        logger.error({ err, path: req.url }, 'request failed');
        if (!res.headersSent) sendError(res, 'INTERNAL', CLOSE);
        else res.destroy();
      });
    },
  );
  server.on('tlsClientError', (err) => logger.debug({ err }, 'TLS handshake failed'));

  const port = await listenOn(server, config.port, config.bindAddress, 'INJECTOR_PORT');
  const reloader = new CertificateWatcher({
    certFile: config.tlsCertFile,
    keyFile: config.tlsKeyFile,
    current: config.tls,
    // setSecureContext resets every option it is not given: pass the version floor again.
    install: (pair) => server.setSecureContext({ ...pair, minVersion: MIN_TLS_VERSION }),
    logger,
  });

  return {
    ports: { https: port },
    async shutdown() {
      reloader.stop();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
      await closed;
      clearTimeout(timer);
    },
  };
}

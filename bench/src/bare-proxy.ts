/**
 * The floor for any Node reverse proxy: a node:http server forwarding every request to the user
 * container through an undici `Pool`, and nothing else. Benchmarks put it beside the queue-proxy to
 * show how much of the queue-proxy's cost is its features and how much is Node proxying at all.
 *
 * It reads the queue-proxy's own variables (`QUEUE_SERVING_PORT`, `USER_PORT`,
 * `QUEUE_BIND_ADDRESS`), so it can stand in for the queue-proxy under the same environment.
 *
 * What it does per request, all of which any proxy must do: strip hop-by-hop headers both ways,
 * stream the request body up and the response body down with backpressure, abort upstream when the
 * client goes away, answer 502 when the app cannot be reached.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { type Dispatcher, Pool } from 'undici';
import { forwardRequestHeaders, forwardResponseHeaders } from './forward-headers.js';

/** Answers 502 if nothing was sent yet, else cuts the response short. */
function fail(res: ServerResponse, err: Error): void {
  if (res.headersSent) {
    res.destroy(err);
  } else {
    res.writeHead(502, { 'content-type': 'text/plain' });
    res.end('bad gateway');
  }
}

/**
 * Writes one upstream response straight into the client's `ServerResponse`. A dispatch handler
 * rather than `pool.stream()`: same work, without the async-resource and stream-lifecycle
 * bookkeeping, which is what a floor should measure.
 */
class ForwardHandler implements Dispatcher.DispatchHandler {
  readonly #res: ServerResponse;
  #controller: Dispatcher.DispatchController | undefined;
  #done = false;

  constructor(res: ServerResponse) {
    this.#res = res;
    res.once('close', this.#onClientClose);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
  ): void {
    // 1xx interim responses are not relayed; Node answers `Expect: 100-continue` itself.
    if (statusCode < 200) return;
    this.#res.writeHead(statusCode, forwardResponseHeaders(headers));
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.#res.write(chunk)) {
      controller.pause();
      this.#res.once('drain', () => controller.resume());
    }
  }

  onResponseEnd(): void {
    this.#done = true;
    this.#res.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    this.#done = true;
    fail(this.#res, err);
  }

  // The client went away before the response finished: stop the upstream request too.
  readonly #onClientClose = (): void => {
    if (!this.#done && this.#controller !== undefined && !this.#controller.aborted) {
      this.#controller.abort(new Error('client closed the connection'));
    }
  };
}

/** Whether a request carries a body to stream upstream. */
function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  if (length !== undefined) return length !== '0';
  return req.headers['transfer-encoding'] !== undefined;
}

/** Starts the bare proxy: listens on `bindAddress:port` and forwards to `127.0.0.1:userPort`. */
function startBareProxy(port: number, userPort: number, bindAddress: string): void {
  // Keep-alive upstream connections, one request in flight on each, as many as the load needs.
  const upstream = new Pool(`http://127.0.0.1:${userPort}`, { pipelining: 1 });
  const server = createServer((req, res) => {
    const handler = new ForwardHandler(res);
    try {
      upstream.dispatch(
        {
          path: req.url ?? '/',
          method: req.method as Dispatcher.HttpMethod,
          headers: forwardRequestHeaders(req.rawHeaders),
          body: hasBody(req) ? req : null,
        },
        handler,
      );
    } catch (err) {
      fail(res, err as Error);
    }
  });
  server.listen(port, bindAddress);
}

function portFromEnv(name: string): number {
  const value = Number(process.env[name]);
  if (!Number.isInteger(value) || value <= 0 || value > 65535) {
    console.error(`bare-proxy: ${name} must be a TCP port, got ${JSON.stringify(process.env[name])}`);
    process.exit(2);
  }
  return value;
}

startBareProxy(
  portFromEnv('QUEUE_SERVING_PORT'),
  portFromEnv('USER_PORT'),
  process.env['QUEUE_BIND_ADDRESS'] ?? '127.0.0.1',
);

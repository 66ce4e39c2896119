import type { ClientHttp2Session } from 'node:http2';
import { nodeHttp2 } from '../node-http.js';
import type { SpanSenderHandle } from './http-span-sender.js';
import type { Span } from './span.js';

/** How long one export may take before it counts as failed, as over HTTP. */
const EXPORT_TIMEOUT_MS = 10_000;

/** OTLP/gRPC's one call: `opentelemetry.proto.collector.trace.v1.TraceService/Export`. */
const EXPORT_PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

/**
 * A sender that exports each batch, an OTLP `ExportTraceServiceRequest` encoded by `encode`, as one
 * unary gRPC call over one kept HTTP/2 connection to `endpoint`'s origin (`http://` without TLS,
 * `https://` with it; the path is gRPC's own), opened again after it closes. Anything but `grpc-status`
 * 0, a timeout or a connection error rejects.
 */
export function grpcSpanSender(
  endpoint: string,
  encode: (spans: readonly Span[]) => Buffer,
): SpanSenderHandle {
  const url = new URL(endpoint);
  const origin = `${url.protocol}//${url.host}`;
  let session: ClientHttp2Session | undefined;
  const connected = (): ClientHttp2Session => {
    if (session && !session.closed && !session.destroyed) return session;
    const opened = nodeHttp2().connect(origin);
    // A failed connection fails the call on it; the next call connects again.
    opened.on('error', () => undefined);
    opened.on('close', () => {
      if (session === opened) session = undefined;
    });
    // An idle export connection never keeps the process alive.
    opened.unref();
    session = opened;
    return opened;
  };
  const send = (spans: readonly Span[]): Promise<void> =>
    new Promise((resolve, reject) => {
      const message = encode(spans);
      // gRPC's length-prefixed message: not compressed, then the length (big-endian).
      const frame = Buffer.allocUnsafe(5 + message.length);
      frame[0] = 0;
      frame.writeUInt32BE(message.length, 1);
      message.copy(frame, 5);
      const stream = connected().request({
        ':method': 'POST',
        ':path': EXPORT_PATH,
        'content-type': 'application/grpc',
        te: 'trailers',
      });
      let grpcStatus: string | undefined;
      let grpcMessage = '';
      const take = (fields: Record<string, unknown>) => {
        if (fields['grpc-status'] === undefined) return;
        grpcStatus = String(fields['grpc-status']);
        grpcMessage = decodeURIComponent(String(fields['grpc-message'] ?? ''));
      };
      stream.setTimeout(EXPORT_TIMEOUT_MS, () =>
        stream.destroy(new Error(`${endpoint} did not answer in ${EXPORT_TIMEOUT_MS} ms`)),
      );
      stream.on('response', (headers) => {
        const status = Number(headers[':status']);
        if (status !== 200) stream.destroy(new Error(`${endpoint} answered HTTP ${status}`));
        // A trailers-only answer carries its status in the headers.
        else take(headers);
      });
      stream.on('trailers', take);
      stream.resume();
      stream.on('end', () => {
        if (grpcStatus === '0') resolve();
        else reject(new Error(`${endpoint} answered grpc-status ${grpcStatus ?? 'none'}: ${grpcMessage}`));
      });
      stream.on('error', reject);
      stream.end(frame);
    });
  return { send, close: () => session?.close() };
}

/**
 * Drives unary gRPC load with @grpc/grpc-js in this process: a closed loop of N calls in flight on
 * one channel, each call timed with `process.hrtime` into a nanosecond histogram.
 *
 * One channel means one HTTP/2 connection carrying N concurrent streams, as a gRPC client talks to
 * one backend; it is created for the run and closed after it, with a subchannel pool of its own so
 * that no connection is shared with an earlier run.
 */
import { Client, credentials, Metadata, status } from '@grpc/grpc-js';
import { ECHO_PAYLOAD, ECHO_SERVICE } from './grpc-echo.js';
import { LatencyHistogram, type LatencyMs } from './latency-histogram.js';

/** One gRPC load run. */
export interface GrpcLoadOptions {
  /** `host:port` to dial, plaintext. */
  readonly address: string;
  /** Unary calls kept in flight, each one started as soon as the previous one on its slot ends. */
  readonly inFlight: number;
  readonly durationSeconds: number;
  /** Metadata sent with every call (e.g. Knative's revision routing headers). */
  readonly metadata?: Readonly<Record<string, string>>;
}

/** What one gRPC load run measured. */
export interface GrpcLoadResult {
  readonly inFlight: number;
  /** Wall-clock length of the run, from the first call to the last answer, seconds. */
  readonly seconds: number;
  /** Calls answered with status OK. */
  readonly calls: number;
  /** OK calls per second over the run. */
  readonly callsPerSecond: number;
  /** Of OK calls, from per-call hrtime, nanosecond histogram (3 significant digits). */
  readonly latencyMs: LatencyMs;
  /** Calls that ended with another status, by status name. */
  readonly errors: number;
  readonly errorsByStatus: Readonly<Record<string, number>>;
  /** The first error's message, for a suspect row. */
  readonly firstError?: string;
}

/** A call taking longer than this fails with DEADLINE_EXCEEDED. */
const CALL_DEADLINE_MS = 10_000;

/** Channel options: a private subchannel pool, so each run opens a connection of its own. */
const CHANNEL_OPTIONS = { 'grpc.use_local_subchannel_pool': 1 } as const;

/** gRPC metadata holding `record`'s entries. */
export function metadataOf(record: Readonly<Record<string, string>> | undefined): Metadata {
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(record ?? {})) metadata.set(key, value);
  return metadata;
}

const { path, requestSerialize, responseDeserialize } = ECHO_SERVICE.Echo;

/** Sends one Echo call and resolves with its error, or undefined when it succeeded. */
export function echoOnce(
  client: Client,
  metadata: Metadata,
  timeoutMs = CALL_DEADLINE_MS,
): Promise<(Error & { code?: number }) | undefined> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      path,
      requestSerialize,
      responseDeserialize,
      ECHO_PAYLOAD,
      metadata,
      { deadline: Date.now() + timeoutMs },
      (err) => resolve(err ?? undefined),
    );
  });
}

/** Opens a channel to `address` (closed by the caller). */
export function echoClient(address: string): Client {
  return new Client(address, credentials.createInsecure(), CHANNEL_OPTIONS);
}

/** Runs the closed loop against `address` and resolves with its figures once every call is over. */
export async function runGrpcLoad(options: GrpcLoadOptions): Promise<GrpcLoadResult> {
  const client = echoClient(options.address);
  const metadata = metadataOf(options.metadata);
  const histogram = new LatencyHistogram();
  const errorsByStatus: Record<string, number> = {};
  let calls = 0;
  let errors = 0;
  let firstError: string | undefined;
  const started = process.hrtime.bigint();
  const deadline = started + BigInt(Math.round(options.durationSeconds * 1e9));
  // The hot loop: one callback per call, no per-call allocation beyond what grpc-js itself makes.
  const slot = () =>
    new Promise<void>((done) => {
      const next = () => {
        const sent = process.hrtime.bigint();
        if (sent >= deadline) {
          done();
          return;
        }
        client.makeUnaryRequest(
          path,
          requestSerialize,
          responseDeserialize,
          ECHO_PAYLOAD,
          metadata,
          { deadline: Date.now() + CALL_DEADLINE_MS },
          (err) => {
            if (err) {
              errors++;
              const name = status[err.code] ?? String(err.code);
              errorsByStatus[name] = (errorsByStatus[name] ?? 0) + 1;
              firstError ??= err.message;
            } else {
              calls++;
              histogram.recordNs(Number(process.hrtime.bigint() - sent));
            }
            next();
          },
        );
      };
      next();
    });
  try {
    await Promise.all(Array.from({ length: options.inFlight }, slot));
  } finally {
    client.close();
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return {
    inFlight: options.inFlight,
    seconds,
    calls,
    callsPerSecond: calls / seconds,
    latencyMs: histogram.latencyMs(),
    errors,
    errorsByStatus,
    ...(firstError === undefined ? {} : { firstError }),
  };
}

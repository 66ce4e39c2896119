/**
 * The gRPC service of the h2c benchmark, defined by hand: one unary `Echo` method and the standard
 * health check, with identity (de)serializers over Buffers, so neither side needs a .proto file or a
 * protobuf runtime and what is measured is gRPC framing over HTTP/2, not message encoding.
 */
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';

const identity = (buffer: Buffer): Buffer => buffer;

function unary(path: string): MethodDefinition<Buffer, Buffer> {
  return {
    path,
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  };
}

/** `zerogate.bench.Echo/Echo`: answers with the request's bytes. */
export const ECHO_SERVICE = {
  Echo: unary('/zerogate.bench.Echo/Echo'),
} as const satisfies ServiceDefinition;

/**
 * `grpc.health.v1.Health/Check`, which the queue-proxy's gRPC readiness probe calls (Knative's
 * `pkg/queue/health/probe.go`); the request is ignored, every service is SERVING.
 */
export const HEALTH_SERVICE = {
  Check: unary('/grpc.health.v1.Health/Check'),
} as const satisfies ServiceDefinition;

/** An encoded `HealthCheckResponse { status: SERVING }` (field 1, varint 1). */
export const HEALTH_SERVING = Buffer.from([0x08, 0x01]);

/** The request payload of every benchmark call, and so the answer too. */
export const ECHO_PAYLOAD = Buffer.from('hello');

/**
 * The two messages of `grpc.health.v1` the readiness probe speaks, on core's protobuf codec:
 * `HealthCheckRequest { string service = 1; }` and `HealthCheckResponse { ServingStatus status = 1; }`.
 */

import { ProtoDecodeError, ProtoReader, ProtoWriter, WIRE_VARINT } from '@zerogate/core';

/** `grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING`; every other status is not ready. */
export const SERVING_STATUS_SERVING = 1;

/** Encodes a `HealthCheckRequest`; the empty service (the whole server) encodes as no bytes, as proto3 does. */
export function encodeHealthCheckRequest(service: string): Uint8Array {
  const w = new ProtoWriter();
  w.string(1, service);
  return w.finish();
}

/**
 * Decodes a `HealthCheckResponse` and returns its status (0, UNKNOWN, when absent, as proto3 omits
 * default values). Unknown fields are skipped.
 *
 * @throws {ProtoDecodeError} naming what is malformed.
 */
export function decodeHealthCheckResponse(message: Uint8Array): number {
  const r = new ProtoReader(message);
  let status = 0;
  try {
    while (!r.done) {
      const key = Number(r.varint());
      const field = Math.floor(key / 8);
      const wire = key % 8;
      if (field === 1 && wire === WIRE_VARINT) status = Number(r.varint());
      else r.skip(wire);
    }
  } catch (err) {
    throw new ProtoDecodeError(`malformed gRPC health response: ${(err as Error).message}`);
  }
  return status;
}

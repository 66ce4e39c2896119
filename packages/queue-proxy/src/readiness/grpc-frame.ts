/**
 * gRPC's length-prefixed message framing over HTTP/2: a one-byte compressed flag, the length as a
 * big-endian uint32, then the message.
 */

/** Wraps a message in a gRPC frame, uncompressed. */
export function grpcFrame(message: Uint8Array): Buffer {
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt8(0, 0);
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  return frame;
}

/**
 * Returns the message of the first frame of a response body (a view, not a copy). Throws when the body
 * holds no whole frame or the frame is compressed, which a client that asked for no compression refuses.
 */
export function readGrpcFrame(body: Buffer): Buffer {
  if (body.length < 5) throw new Error('malformed gRPC response: no message');
  if (body[0] !== 0) throw new Error('gRPC response is compressed, which was not asked for');
  const length = body.readUInt32BE(1);
  if (body.length < 5 + length) throw new Error('malformed gRPC response: truncated message');
  return body.subarray(5, 5 + length);
}

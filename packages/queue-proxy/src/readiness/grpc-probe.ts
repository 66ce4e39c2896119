import type http2 from 'node:http2';
import { joinHostPort } from '@zerogate/core';
import { grpcFrame, readGrpcFrame } from './grpc-frame.js';
import {
  decodeHealthCheckResponse,
  encodeHealthCheckRequest,
  SERVING_STATUS_SERVING,
} from './grpc-health-proto.js';
import { type H2cResult, h2cExchange } from './h2c-exchange.js';
import { asError, PROBE_USER_AGENT, type ProbeAttempt } from './probe-attempt.js';
import type { GrpcProbeSpec } from './probe-spec.js';

const GRPC_HEALTH_CHECK_PATH = '/grpc.health.v1.Health/Check';

/**
 * Builds the attempt of a gRPC probe: `grpc.health.v1.Health/Check` over prior-knowledge h2c, which must
 * answer grpc-status 0 and SERVING (`health.GRPCProbe`).
 */
export function grpcProbe(spec: GrpcProbeSpec): ProbeAttempt {
  const authority = joinHostPort(spec.host, spec.port);
  const url = `http://${authority}`;
  const frame = grpcFrame(encodeHealthCheckRequest(spec.service));
  return async (signal) => {
    const headers: http2.OutgoingHttpHeaders = {
      ':method': 'POST',
      ':path': GRPC_HEALTH_CHECK_PATH,
      ':scheme': 'http',
      ':authority': authority,
      'content-type': 'application/grpc',
      // Required by gRPC over HTTP/2 to detect proxies that would drop the trailers carrying the status.
      te: 'trailers',
      'user-agent': PROBE_USER_AGENT,
    };
    let r: H2cResult;
    try {
      r = await h2cExchange(url, headers, frame, 'collect', signal);
    } catch (err) {
      throw new Error(`gRPC health check of ${authority} failed: ${asError(err).message}`, { cause: err });
    }
    if (r.status !== 200) throw new Error(`gRPC health check got HTTP status ${r.status}`);
    // A "trailers-only" response carries grpc-status in its headers.
    const meta = r.trailers?.['grpc-status'] !== undefined ? r.trailers : r.headers;
    const grpcStatus = meta['grpc-status'];
    if (grpcStatus !== '0') {
      const message = meta['grpc-message'];
      const code = grpcStatus ?? 'missing';
      const hint = grpcStatus === '12' ? ' (the server does not implement grpc.health.v1.Health)' : '';
      throw new Error(`gRPC health check failed: grpc-status ${code}${message ? ` ${message}` : ''}${hint}`);
    }
    const status = decodeHealthCheckResponse(readGrpcFrame(r.body));
    if (status !== SERVING_STATUS_SERVING)
      throw new Error(`gRPC service unhealthy: serving status ${status}`);
  };
}

/**
 * The gRPC user container for the h2c benchmark: a @grpc/grpc-js server whose unary `Echo` answers
 * at once with the request's bytes, plus the health check the queue-proxy probes, so what is measured
 * in front of it is the proxy, not the app.
 *
 * Listens on 127.0.0.1:`PORT` (default 8080), plaintext HTTP/2 (h2c).
 */
import {
  Server,
  ServerCredentials,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { ECHO_SERVICE, HEALTH_SERVICE, HEALTH_SERVING } from './grpc-echo.js';

const port = Number(process.env['PORT'] ?? 8080);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error(`grpc-app: PORT must be a TCP port, got ${JSON.stringify(process.env['PORT'])}`);
  process.exit(2);
}

type Unary = (call: { request: Buffer }, callback: (err: null, value: Buffer) => void) => void;
const echo: Unary = (call, callback) => callback(null, call.request);
const check: Unary = (_call, callback) => callback(null, HEALTH_SERVING);

const server = new Server();
server.addService(ECHO_SERVICE as ServiceDefinition, { Echo: echo } as UntypedServiceImplementation);
server.addService(HEALTH_SERVICE as ServiceDefinition, { Check: check } as UntypedServiceImplementation);
server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (err) => {
  if (err) {
    console.error(`grpc-app: cannot listen on 127.0.0.1:${port}: ${err.message}`);
    process.exit(1);
  }
});
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => server.forceShutdown());
}

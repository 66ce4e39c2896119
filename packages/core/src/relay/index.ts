/**
 * The raw HTTP/1.1 relay: plain HTTP/1.1 requests moved between two sockets with only their heads
 * parsed and rebuilt (docs/queue-proxy.md §3.5); node:http keeps everything rarer.
 */
export { Http1Relay, type Http1RelayOptions } from './http1-relay.js';
export type { RelayConnection, RelayRoute } from './relay-connection.js';
export { type RelayClient, RelayExchange, type RelayRequest } from './relay-exchange.js';
export { UpstreamConnections } from './upstream-connections.js';

/**
 * Thrown when an h2c attempt reached the server but the HTTP/2 exchange failed (the server speaks
 * something else), so an HTTP/1.1 retry is worth it; Knative's `autoDowngradingTransport` decides alike.
 */
export class H2cProtocolError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'H2cProtocolError';
  }
}

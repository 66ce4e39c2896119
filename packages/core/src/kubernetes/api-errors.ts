/** What a failed call of the generated Kubernetes API client says, for retries, warnings and logs. */
import { ApiException } from '@kubernetes/client-node';

/**
 * The HTTP status the API server answered a failed call with, or undefined when no answer came
 * (refused, reset, timed out, aborted).
 */
export function apiStatusOf(err: unknown): number | undefined {
  return err instanceof ApiException ? err.code : undefined;
}

/**
 * A failed call in one line: `HTTP <code>: <message>` with the API server's message from the Status in
 * the body (the client keeps it as text), `HTTP <code>` when the body is no Status, else the error's
 * own message. The client's own message would add the raw body and headers.
 */
export function describeApiError(err: unknown): string {
  if (err instanceof ApiException) {
    try {
      const status = JSON.parse(String(err.body)) as { message?: unknown };
      if (typeof status.message === 'string') return `HTTP ${err.code}: ${status.message}`;
    } catch {
      // Not JSON: the code alone.
    }
    return `HTTP ${err.code}`;
  }
  return err instanceof Error ? err.message : String(err);
}

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
 * The API server's own words from a failed call's Status body (`… is forbidden: User "…" cannot list …`),
 * which name the service account; undefined when no answer came or its body is no Status.
 */
export function apiStatusMessage(err: unknown): string | undefined {
  if (!(err instanceof ApiException)) return undefined;
  try {
    const status = JSON.parse(String(err.body)) as { message?: unknown } | null;
    return typeof status?.message === 'string' ? status.message : undefined;
  } catch {
    // Not JSON.
    return undefined;
  }
}

/**
 * A failed call in one line: `HTTP <code>: <message>` with the API server's message from the Status in
 * the body (the client keeps it as text), `HTTP <code>` when the body is no Status, else the error's
 * own message. The client's own message would add the raw body and headers.
 */
export function describeApiError(err: unknown): string {
  if (err instanceof ApiException) {
    const message = apiStatusMessage(err);
    return message === undefined ? `HTTP ${err.code}` : `HTTP ${err.code}: ${message}`;
  }
  return err instanceof Error ? err.message : String(err);
}

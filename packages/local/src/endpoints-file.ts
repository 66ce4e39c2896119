/**
 * The activator's view of the platform: the endpoints document its `file` source watches (format in
 * README, `ACTIVATOR_ENDPOINTS_FILE`), rewritten whole on every change. Each write goes to a temporary
 * file renamed over the old one, so the activator never reads half a document.
 */
import { renameSync, writeFileSync } from 'node:fs';
import type { RevisionPods } from './revision-pods.js';

/** The revision's `zerogate.dev/` annotations (how the activator holds and wakes it), when it has any. */
function zerogateAnnotations(all: Readonly<Record<string, string>>): {
  annotations?: Record<string, string>;
} {
  const picked = Object.entries(all).filter(([key]) => key.startsWith('zerogate.dev/'));
  return picked.length === 0 ? {} : { annotations: Object.fromEntries(picked) };
}

function failingOf(revision: RevisionPods): { failing?: string } {
  const failing = revision.failing;
  return failing === undefined ? {} : { failing };
}

/** The endpoints document of these revisions: every started Pod, ready or not (the activator probes those). */
export function endpointsDocument(revisions: Iterable<RevisionPods>): string {
  const list = [...revisions].map((r) => ({
    namespace: r.namespace,
    name: r.name,
    containerConcurrency: r.config.containerConcurrency,
    timeoutSeconds: r.config.timeoutSeconds,
    responseStartTimeoutSeconds: r.config.responseStartTimeoutSeconds,
    idleTimeoutSeconds: r.config.idleTimeoutSeconds,
    ...zerogateAnnotations(r.config.annotations),
    endpoints: r.routable().map((p) => ({ address: p.servingAddress, ready: p.phase === 'ready' })),
    // Why it cannot become ready: the activator refuses its requests meanwhile (docs/activator.md §10.1).
    ...failingOf(r),
  }));
  return `${JSON.stringify({ revisions: list }, null, 1)}\n`;
}

/**
 * The document at `path`, kept in step with the revisions: {@link write} writes at once (at start);
 * {@link changed} writes once the current turn of the event loop is over, so a burst of Pod changes
 * (many Pods starting at once) costs one write, not one each. The write itself is synchronous: a few
 * kilobytes, and the activator learns a Pod is ready sooner than after four round trips through the
 * thread pool, which on a machine busy starting Pods each wait their turn.
 */
export class EndpointsFile {
  private last = '';
  private latest: Iterable<RevisionPods> = [];
  private scheduled: Promise<void> | undefined;

  constructor(
    private readonly path: string,
    /** Told when a write failed; the next change tries again. */
    private readonly onError: (err: Error) => void = () => {},
  ) {}

  /** Writes the document of `revisions` now, when it changed. */
  write(revisions: Iterable<RevisionPods>): void {
    const text = endpointsDocument(revisions);
    if (text === this.last) return;
    const temporary = `${this.path}.next`;
    writeFileSync(temporary, text);
    renameSync(temporary, this.path);
    this.last = text;
  }

  /** The revisions changed: their document is written after this turn of the event loop. */
  changed(revisions: Iterable<RevisionPods>): void {
    this.latest = revisions;
    this.scheduled ??= new Promise<void>((resolve) =>
      setImmediate(() => {
        this.scheduled = undefined;
        try {
          this.write(this.latest);
        } catch (err) {
          this.onError(err as Error);
        }
        resolve();
      }),
    );
  }

  /** Resolves once every change so far is written. */
  async settled(): Promise<void> {
    await this.scheduled;
  }
}

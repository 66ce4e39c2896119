/**
 * The activator's view of the platform: the endpoints document its `file` source watches (format in
 * README, `ACTIVATOR_ENDPOINTS_FILE`), rewritten whole on every change. Each write goes to a temporary
 * file renamed over the old one, so the activator never reads half a document.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
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
 * {@link changed} writes soon and off the event loop, so a burst of Pod changes (many Pods starting at
 * once) costs one write, not one blocking write each: the changes of one turn of the event loop make
 * one write, and a write waits for the one before it.
 */
export class EndpointsFile {
  private last = '';
  private latest: Iterable<RevisionPods> = [];
  private flushing: Promise<void> | undefined;
  private again = false;

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

  /** The revisions changed: their document is written soon. */
  changed(revisions: Iterable<RevisionPods>): void {
    this.latest = revisions;
    if (this.flushing !== undefined) {
      this.again = true;
      return;
    }
    this.flushing = this.flush();
  }

  /** Resolves once every change so far is written. */
  async settled(): Promise<void> {
    await this.flushing;
  }

  private async flush(): Promise<void> {
    do {
      // The rest of this turn's changes join this write.
      await new Promise<void>((resolve) => setImmediate(resolve));
      this.again = false;
      const text = endpointsDocument(this.latest);
      if (text === this.last) continue;
      const temporary = `${this.path}.next`;
      try {
        await writeFile(temporary, text);
        await rename(temporary, this.path);
        this.last = text;
      } catch (err) {
        this.onError(err as Error);
      }
    } while (this.again);
    this.flushing = undefined;
  }
}

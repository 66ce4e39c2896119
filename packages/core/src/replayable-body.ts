import { Readable } from 'node:stream';

/**
 * A request body that can be sent again: each attempt gets a fresh stream that replays what earlier
 * attempts took of the body, then carries on with the rest as it arrives. Only the first `limit` bytes
 * are kept; past them the body can no longer be replayed. For a request an upstream provably never
 * processed (an HTTP/2 stream refused, or above a GOAWAY's last stream id) whose body had already
 * started to flow: without the kept bytes it could not be sent elsewhere.
 */
export class ReplayableBody {
  private kept: Buffer[] = [];
  private keptBytes = 0;
  private overflowed = false;
  private ended = false;
  private current: Readable | null = null;

  constructor(
    private readonly source: Readable,
    private readonly limit: number,
  ) {
    source.pause();
    source.on('data', (chunk: Buffer) => this.onData(chunk));
    source.once('end', () => {
      this.ended = true;
      this.current?.push(null);
    });
    source.once('error', (err: Error) => this.current?.destroy(err));
  }

  /** Whether another attempt can still carry the whole body. */
  get replayable(): boolean {
    return !this.overflowed;
  }

  /** A stream of the whole body for one attempt (an earlier one is abandoned); undefined once not replayable. */
  attempt(): Readable | undefined {
    if (this.overflowed) return undefined;
    const previous = this.current;
    this.current = null;
    if (previous && !previous.destroyed) previous.destroy();
    const stream = new Readable({
      read: () => {
        if (this.current === stream) this.source.resume();
      },
    });
    for (const chunk of this.kept) stream.push(chunk);
    if (this.ended) stream.push(null);
    this.current = stream;
    return stream;
  }

  private onData(chunk: Buffer): void {
    if (!this.overflowed) {
      this.keptBytes += chunk.length;
      if (this.keptBytes > this.limit) {
        this.overflowed = true;
        this.kept = [];
      } else this.kept.push(chunk);
    }
    const current = this.current;
    if (current === null || current.destroyed) {
      this.source.pause();
      return;
    }
    if (!current.push(chunk)) this.source.pause();
  }
}

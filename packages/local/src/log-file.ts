/**
 * A log file of bounded size: lines are appended until the file holds `maxBytes`, then it is renamed to
 * `<file>.1` (replacing the one before) and a new file begun, so a process that logs without end keeps
 * at most twice `maxBytes` on disk, the newest lines always in `<file>`. Its tail is read back by
 * {@link readLogTail} for the dashboard.
 */
import { appendFileSync, createWriteStream, openSync, renameSync, statSync, type WriteStream } from 'node:fs';
import { open } from 'node:fs/promises';

/** Size at which a log file is rotated: each process keeps at most twice this on disk. */
export const LOG_FILE_MAX_BYTES = 10 * 1024 * 1024;

/** Appends to a file, rotating it at a size. */
export class LogFile {
  private stream: WriteStream;
  private size: number;

  constructor(
    readonly path: string,
    private readonly maxBytes = LOG_FILE_MAX_BYTES,
  ) {
    this.size = sizeOf(path);
    this.stream = this.open();
  }

  /** Appends `chunk`; rotates first when it would take the file past its bound. */
  write(chunk: string | Buffer): void {
    const bytes = typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
    if (this.size > 0 && this.size + bytes > this.maxBytes) this.rotate();
    this.size += bytes;
    this.stream.write(chunk);
  }

  /** Flushes and closes the file; resolves once it is written. */
  end(): Promise<void> {
    return new Promise((resolve) => {
      if (this.stream.closed || this.stream.destroyed) resolve();
      else this.stream.end(() => resolve());
    });
  }

  /** Why open synchronously: a rotation renames the file under an open descriptor (see {@link rotate}). */
  private open(): WriteStream {
    let fd: number | undefined;
    try {
      fd = openSync(this.path, 'a');
    } catch {
      // Left undefined: the stream fails to open by itself and its lines are lost.
    }
    const stream =
      fd === undefined ? createWriteStream(this.path, { flags: 'a' }) : createWriteStream('', { fd });
    // A log that cannot be written must not take the platform down; the lines are lost.
    stream.on('error', () => {});
    return stream;
  }

  /**
   * Why rename before closing: the open descriptor follows the file, so lines still buffered for it land
   * in `<file>.1` in order, and the new file starts clean.
   */
  private rotate(): void {
    moveAside(this.path);
    this.stream.end();
    this.stream = this.open();
    this.size = 0;
  }
}

/**
 * The same bound for a log written synchronously (the platform's own, whose last lines must be on disk
 * when it exits at once after a shutdown).
 */
export class SyncLogFile {
  private size: number;

  constructor(
    readonly path: string,
    private readonly maxBytes = LOG_FILE_MAX_BYTES,
  ) {
    this.size = sizeOf(path);
  }

  /** Appends `text`; false when the file cannot be written. */
  write(text: string): boolean {
    const bytes = Buffer.byteLength(text);
    if (this.size > 0 && this.size + bytes > this.maxBytes) {
      moveAside(this.path);
      this.size = 0;
    }
    try {
      appendFileSync(this.path, text);
    } catch {
      return false;
    }
    this.size += bytes;
    return true;
  }
}

function moveAside(path: string): void {
  try {
    renameSync(path, `${path}.1`);
  } catch {
    // Not there (removed by hand): the new file begins all the same.
  }
}

function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/**
 * The last `maxBytes` of the log at `path` (reaching into `<path>.1` when the file was just rotated),
 * starting at a line's beginning when the tail was cut; undefined when neither file exists.
 */
export async function readLogTail(path: string, maxBytes: number): Promise<string | undefined> {
  const current = await readEnd(path, maxBytes);
  if (current === undefined) return undefined;
  let text = current.text;
  let cut = current.cut;
  if (!cut && current.text.length < maxBytes) {
    const older = await readEnd(`${path}.1`, maxBytes - current.text.length);
    if (older) {
      text = Buffer.concat([older.text, current.text]);
      cut = older.cut;
    }
  }
  if (cut) {
    const newline = text.indexOf(0x0a);
    if (newline !== -1 && newline < text.length - 1) text = text.subarray(newline + 1);
  }
  return text.toString('utf8');
}

async function readEnd(path: string, maxBytes: number): Promise<{ text: Buffer; cut: boolean } | undefined> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const { size } = await handle.stat();
    // One byte more than asked, when there is one: it tells whether the tail begins a line.
    const length = Math.min(size, maxBytes + 1);
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, size - length);
    const text = buffer.subarray(0, bytesRead);
    if (length <= maxBytes) return { text, cut: false };
    return { text: text.subarray(1), cut: text[0] !== 0x0a };
  } finally {
    await handle.close();
  }
}

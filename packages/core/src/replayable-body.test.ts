import { PassThrough, type Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ReplayableBody } from './replayable-body.js';

async function text(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

/** Reads what `stream` has now, without waiting for more. */
async function readSoFar(stream: Readable): Promise<string> {
  stream.read(0);
  await new Promise((resolve) => setImmediate(resolve));
  const chunks: Buffer[] = [];
  for (let c = stream.read(); c !== null; c = stream.read()) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

describe('ReplayableBody', () => {
  it('gives each attempt the whole body: what earlier attempts took, then the rest as it arrives', async () => {
    const source = new PassThrough();
    const body = new ReplayableBody(source, 1024);
    const first = body.attempt()!;
    source.write('abc');
    expect(await readSoFar(first)).toBe('abc');
    const second = body.attempt()!;
    expect(first.destroyed).toBe(true);
    source.write('def');
    source.end('g');
    expect(await text(second)).toBe('abcdefg');
    // And once the body has ended, a further attempt gets it whole at once.
    expect(await text(body.attempt()!)).toBe('abcdefg');
  });

  it('cannot be replayed once more than its limit has gone out', async () => {
    const source = new PassThrough();
    const body = new ReplayableBody(source, 4);
    const first = body.attempt()!;
    source.end('abcdef');
    expect(await text(first)).toBe('abcdef');
    expect(body.replayable).toBe(false);
    expect(body.attempt()).toBeUndefined();
  });

  it('passes on backpressure: the source is not read faster than the attempt is', async () => {
    const source = new PassThrough({ highWaterMark: 4 });
    const body = new ReplayableBody(source, 1 << 20);
    const attempt = body.attempt()!;
    let written = 0;
    for (let i = 0; i < 100 && source.write(Buffer.alloc(16 * 1024)); i++) written++;
    await new Promise((resolve) => setImmediate(resolve));
    // The attempt is not read: the source stops being drained well before everything was taken.
    expect(attempt.readableLength).toBeLessThanOrEqual(64 * 1024);
    expect(written).toBeLessThan(100);
  });

  it('fails the attempt with the source’s error', async () => {
    const source = new PassThrough();
    const attempt = new ReplayableBody(source, 1024).attempt()!;
    source.destroy(new Error('client went away'));
    await expect(text(attempt)).rejects.toThrow('client went away');
  });
});

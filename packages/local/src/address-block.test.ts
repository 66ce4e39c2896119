import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { claimAddressBlock } from './address-block.js';

const BUILT = fileURLToPath(new URL('../dist/address-block.js', import.meta.url));

describe('claimAddressBlock', () => {
  it('gives platforms side by side separate blocks and port starting points, and a released block goes out again', async () => {
    const scope = `test-${process.pid}-a-`;
    const first = await claimAddressBlock(scope);
    const second = await claimAddressBlock(scope);
    expect(first.block).toBe(1);
    expect(first.network).toEqual({ firstAddress: '127.1.0.1', addresses: 65_534, firstPortOffset: 0 });
    expect(second.block).toBe(2);
    expect(second.network).toEqual({ firstAddress: '127.2.0.1', addresses: 65_534, firstPortOffset: 1000 });
    await first.release();
    const third = await claimAddressBlock(scope);
    expect(third.block).toBe(1);
    await Promise.all([second.release(), third.release()]);
  });

  it('skips a block another process holds, and gets it once that process was killed', async () => {
    const scope = `test-${process.pid}-b-`;
    const holder = spawn(
      process.execPath,
      [
        '-e',
        `import(${JSON.stringify(BUILT)}).then((m) => m.claimAddressBlock(${JSON.stringify(scope)})).then((b) => { process.stdout.write(b.block + '\\n'); setInterval(() => {}, 1000); })`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const [line] = (await once(holder.stdout!, 'data')) as [Buffer];
    expect(line.toString().trim()).toBe('1');
    const mine = await claimAddressBlock(scope);
    expect(mine.block).toBe(2);
    holder.kill('SIGKILL');
    await once(holder, 'exit');
    const freed = await claimAddressBlock(scope);
    expect(freed.block).toBe(1);
    await Promise.all([mine.release(), freed.release()]);
  });
});

import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { canListenEverywhere, PodNetwork, PodNetworkExhaustedError } from './pod-network.js';

const always = async () => true;

describe('PodNetwork', () => {
  it('gives each live Pod its own address and port, in turn from the first', async () => {
    const network = new PodNetwork({ firstAddress: '127.1.0.254', firstPort: 30_000, portIsFree: always });
    const leases = await Promise.all([network.acquire(), network.acquire(), network.acquire()]);
    expect(leases).toEqual([
      { address: '127.1.0.254', appPort: 30_000 },
      { address: '127.1.0.255', appPort: 30_001 },
      { address: '127.1.1.0', appPort: 30_002 },
    ]);
    expect(network.held).toBe(3);
  });

  it('starts handing out ports at firstPortOffset, going round the range', async () => {
    const network = new PodNetwork({ ports: 3, firstPortOffset: 5, portIsFree: always });
    const ports = [];
    for (let i = 0; i < 3; i++) ports.push((await network.acquire()).appPort);
    expect(ports).toEqual([20_002, 20_000, 20_001]);
    expect(() => new PodNetwork({ firstPortOffset: -1 })).toThrow(/firstPortOffset must be an integer >= 0/);
  });

  it('hands a given-back address or port out again only after every other free one', async () => {
    const network = new PodNetwork({ firstAddress: '127.9.0.1', addresses: 3, ports: 3, portIsFree: always });
    const a = await network.acquire();
    const b = await network.acquire();
    network.release(a);
    // Not a's address or port yet, though they are free again: the range goes on first.
    expect(await network.acquire()).toEqual({ address: '127.9.0.3', appPort: 20_002 });
    // Then round to a's, skipping b's, which is still held.
    expect(await network.acquire()).toEqual({ address: '127.9.0.1', appPort: 20_000 });
    expect(b).toEqual({ address: '127.9.0.2', appPort: 20_001 });
  });

  it('fails when every address is held, and is whole again once one is given back', async () => {
    const network = new PodNetwork({ addresses: 2, portIsFree: always });
    const a = await network.acquire();
    await network.acquire();
    await expect(network.acquire()).rejects.toBeInstanceOf(PodNetworkExhaustedError);
    expect(network.held).toBe(2);
    network.release(a);
    expect((await network.acquire()).address).toBe(a.address);
  });

  it('skips ports something else holds, and gives an address back when no port is free', async () => {
    const busy = new Set([20_000, 20_002]);
    const network = new PodNetwork({ ports: 3, portIsFree: async (port) => !busy.has(port) });
    expect((await network.acquire()).appPort).toBe(20_001);
    await expect(network.acquire()).rejects.toThrow(/no free app port in 20000-20002/);
    expect(network.held).toBe(1);
  });

  it('never gives two Pods starting at once the same port, however slow the check', async () => {
    const checks: number[] = [];
    const network = new PodNetwork({
      portIsFree: async (port) => {
        checks.push(port);
        await new Promise((r) => setTimeout(r, 5));
        return true;
      },
    });
    const ports = (await Promise.all(Array.from({ length: 50 }, () => network.acquire()))).map(
      (l) => l.appPort,
    );
    expect(new Set(ports).size).toBe(50);
    expect(new Set(checks).size).toBe(checks.length);
  });

  it('hands out a stats port beside the app port when asked, and takes both back', async () => {
    const network = new PodNetwork({ firstAddress: '127.9.0.1', ports: 3, portIsFree: always });
    const inProcess = await network.acquire({ statsPort: true });
    expect(inProcess).toEqual({ address: '127.9.0.1', appPort: 20_000, statsPort: 20_001 });
    expect(await network.acquire()).toEqual({ address: '127.9.0.2', appPort: 20_002 });
    // Every port is held now (the failed attempt went on past 127.9.0.3); once the first Pod gave
    // back both of its ports, both go out again.
    await expect(network.acquire()).rejects.toBeInstanceOf(PodNetworkExhaustedError);
    network.release(inProcess);
    expect(await network.acquire({ statsPort: true })).toEqual({
      address: '127.9.0.4',
      appPort: 20_000,
      statsPort: 20_001,
    });
  });

  it('gives the address and app port back when no stats port is free', async () => {
    const network = new PodNetwork({ ports: 1, portIsFree: always });
    await expect(network.acquire({ statsPort: true })).rejects.toThrow(/no free app port/);
    expect(network.held).toBe(0);
    expect((await network.acquire()).appPort).toBe(20_000);
  });

  it('rejects a range outside 127.0.0.0/8', () => {
    expect(() => new PodNetwork({ firstAddress: '10.0.0.1' })).toThrow(/firstAddress/);
    expect(() => new PodNetwork({ firstAddress: '127.255.255.0', addresses: 300 })).toThrow(/addresses/);
    expect(() => new PodNetwork({ firstPort: 65_000, ports: 1000 })).toThrow(/ports/);
  });
});

describe('canListenEverywhere', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  });

  it('is false for a port a process holds on any one loopback address, true once it is let go', async () => {
    const server = createServer();
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.1.200.9', r));
    const { port } = server.address() as { port: number };
    expect(await canListenEverywhere(port)).toBe(false);
    await new Promise((r) => server.close(r));
    servers.length = 0;
    expect(await canListenEverywhere(port)).toBe(true);
  });
});

/**
 * Pod networking on this node: a bridge in the node's network namespace holding the Pod range's first
 * address, and for each Pod a sandbox — a pause process in a network namespace of its own, joined to the
 * bridge by a veth pair, with one address of the range and a default route through the bridge. Every
 * container of the Pod enters that namespace, so Pods bind any port without clashing, exactly as on a
 * real node. Needs root, and is meant for a network namespace made for the tests (`netns.sh`).
 */
import { execFileSync, spawn } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { sleep } from '@zerogate/core';
import { stopPid } from '../daemon.js';

/** The bridge's settings. */
export interface PodNetworkOptions {
  /** The bridge device's name. */
  readonly bridge: string;
  /** The Pod range's first three octets, e.g. `10.244.0` (a /24: up to 253 Pods at once). */
  readonly prefix: string;
}

/** A Pod's sandbox: its network namespace, kept by a pause process. */
export interface Sandbox {
  readonly ip: string;
  readonly pausePid: number;
  /** The path containers enter with `nsenter --net=`. */
  readonly netns: string;
}

/** The node's Pod network: the bridge and address allocation. */
export class PodNetwork {
  /** The bridge's own address, the Pods' gateway and the node's InternalIP. */
  readonly gateway: string;
  private readonly used = new Set<number>();
  /** The host part last handed out; allocation goes on after it. */
  private last = 1;

  constructor(private readonly options: PodNetworkOptions) {
    this.gateway = `${options.prefix}.1`;
    // A bridge (or veth) left by an agent that did not stop cleanly would make every name below clash.
    removeLink(options.bridge);
    ip(['link', 'add', options.bridge, 'type', 'bridge']);
    ip(['addr', 'add', `${this.gateway}/24`, 'dev', options.bridge]);
    ip(['link', 'set', options.bridge, 'up']);
  }

  /** Makes a sandbox: a pause process in a new network namespace with a free address of the range. */
  async create(): Promise<Sandbox> {
    const host = this.allocate();
    const ipAddress = `${this.options.prefix}.${host}`;
    const pause = spawn('unshare', ['--net', '--', 'sleep', 'infinity'], { stdio: 'ignore', detached: true });
    pause.unref();
    const pid = pause.pid;
    if (pid === undefined) throw new Error('the pause process did not start');
    const netns = `/proc/${pid}/ns/net`;
    try {
      await waitForOwnNamespace(pid);
      // Named by the address it serves: unique among this node's Pods; a stale one of that name goes first.
      const veth = `zgv${host}`;
      removeLink(veth);
      ip(['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', String(pid)]);
      ip(['link', 'set', veth, 'master', this.options.bridge, 'up']);
      const inside = (args: string[]) =>
        execFileSync('nsenter', [`--net=${netns}`, 'ip', ...args], { stdio: 'pipe' });
      inside(['link', 'set', 'lo', 'up']);
      inside(['addr', 'add', `${ipAddress}/24`, 'dev', 'eth0']);
      inside(['link', 'set', 'eth0', 'up']);
      inside(['route', 'add', 'default', 'via', this.gateway]);
      return { ip: ipAddress, pausePid: pid, netns };
    } catch (err) {
      await stopPid(pid, 0);
      this.used.delete(host);
      throw err;
    }
  }

  /** Ends the sandbox: its namespace, and the veth with it, go when the pause process does. */
  async remove(sandbox: Sandbox): Promise<void> {
    await stopPid(sandbox.pausePid, 1000);
    this.used.delete(Number(sandbox.ip.split('.').at(-1)));
  }

  /** Removes the bridge. */
  close(): void {
    try {
      ip(['link', 'del', this.options.bridge]);
    } catch {
      // Gone with the namespace already.
    }
  }

  private allocate(): number {
    const host = nextHost(this.used, this.last);
    this.used.add(host);
    this.last = host;
    return host;
  }
}

/**
 * The host part (2–254) of the next free address after `last`, wrapping around, as CNI's host-local IPAM
 * allocates. Never the lowest free one: an address freed a moment ago stays in the neighbour (ARP) caches
 * of the node and of other Pods with the old Pod's MAC for up to a minute, and a new Pod given it at once
 * would be unreachable from them meanwhile.
 */
export function nextHost(used: ReadonlySet<number>, last: number): number {
  for (let i = 1; i <= 253; i++) {
    const host = ((last - 2 + i) % 253) + 2;
    if (!used.has(host)) return host;
  }
  throw new Error('the Pod range is full');
}

function ip(args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe' });
}

/** Deletes a network device if there is one (a veth goes with its peer). */
function removeLink(name: string): void {
  try {
    ip(['link', 'del', name]);
  } catch {
    // Not there.
  }
}

/** Waits until `pid` runs in a network namespace other than ours (unshare has done its work). */
async function waitForOwnNamespace(pid: number): Promise<void> {
  const ours = readlinkSync('/proc/self/ns/net');
  for (let i = 0; i < 200; i++) {
    try {
      if (readlinkSync(`/proc/${pid}/ns/net`) !== ours) return;
    } catch {
      // Not there yet.
    }
    await sleep(10);
  }
  throw new Error(`pause process ${pid} did not get a network namespace of its own`);
}

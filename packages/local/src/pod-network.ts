/**
 * Addresses and app ports of the Pods on this machine. Linux routes all of 127.0.0.0/8 to loopback, so
 * every Pod gets a loopback address of its own (127.1.0.1, 127.1.0.2, …) with no setup: its app and its
 * queue-proxy listen there, and no Pod can reach another Pod's process by accident, as Pods on a node
 * each have their own IP. The app's port is handed out too, unique among live Pods and below the
 * kernel's ephemeral range, so that apps listening on all interfaces keep working and no port the
 * kernel picks for another process (a queue-proxy's listener, an outgoing connection) can be the one an
 * app is about to bind.
 */
import { createServer, isIPv4 } from 'node:net';

/** What one Pod holds until it stopped. */
export interface PodLease {
  /** The Pod's own loopback address: its app and its queue-proxy listen there. */
  readonly address: string;
  /** The app's port (`PORT`), unique among live Pods. */
  readonly appPort: number;
  /**
   * A second port from the same range, when asked for: the stats port of an app that carries the
   * queue-proxy's contract itself (`queueProxy: in-process`), which the platform must know to register
   * it with the autoscaler.
   */
  readonly statsPort?: number;
}

/** What a Pod asks of {@link PodNetwork.acquire} besides its address and app port. */
export interface PodLeaseRequest {
  /** Also hand out {@link PodLease.statsPort}. */
  readonly statsPort?: boolean;
}

/** Options of {@link PodNetwork}; the defaults suit a machine. */
export interface PodNetworkOptions {
  /** First Pod address; default 127.1.0.1. */
  readonly firstAddress?: string;
  /** How many addresses from the first; default 65 534 (up to 127.1.255.254). */
  readonly addresses?: number;
  /** First app port; default 20 000. */
  readonly firstPort?: number;
  /** How many app ports from the first; default 10 000 (below Linux's ephemeral range, 32 768 up). */
  readonly ports?: number;
  /**
   * Where in the port range handing out starts (taken modulo `ports`); default 0. Platforms side by side
   * start at different points, so their checks of a free port rarely race.
   */
  readonly firstPortOffset?: number;
  /** Whether a port can be bound on all interfaces now; tests replace it. */
  readonly portIsFree?: (port: number) => Promise<boolean>;
}

/** Thrown by {@link PodNetwork.acquire} when every address or port is taken. */
export class PodNetworkExhaustedError extends Error {
  readonly code = 'POD_NETWORK_EXHAUSTED';
}

const DEFAULTS = {
  firstAddress: '127.1.0.1',
  addresses: 65_534,
  firstPort: 20_000,
  ports: 10_000,
  firstPortOffset: 0,
};

/**
 * Hands out Pod addresses and app ports. Both go round the range, so an address or port a Pod gave
 * back is handed out again only after every other free one was (and never while a Pod holds it):
 * connections to a stopped Pod never reach its successor.
 */
export class PodNetwork {
  private readonly first: number;
  private readonly addressCount: number;
  private readonly firstPort: number;
  private readonly portCount: number;
  private readonly portIsFree: (port: number) => Promise<boolean>;
  private readonly addressesHeld = new Set<number>();
  private readonly portsHeld = new Set<number>();
  private nextAddress = 0;
  private nextPort = 0;

  constructor(options: PodNetworkOptions = {}) {
    const o = { ...DEFAULTS, ...options };
    if (!isIPv4(o.firstAddress) || !o.firstAddress.startsWith('127.')) {
      throw new RangeError(`PodNetwork option firstAddress must be in 127.0.0.0/8, got ${o.firstAddress}`);
    }
    this.first = toNumber(o.firstAddress);
    const last = toNumber('127.255.255.255');
    if (!Number.isSafeInteger(o.addresses) || o.addresses < 1 || this.first + o.addresses - 1 > last) {
      throw new RangeError(`PodNetwork option addresses must fit in 127.0.0.0/8, got ${o.addresses}`);
    }
    if (!Number.isSafeInteger(o.firstPort) || !Number.isSafeInteger(o.ports) || o.firstPort < 1) {
      throw new RangeError('PodNetwork options firstPort and ports must be positive integers');
    }
    if (o.ports < 1 || o.firstPort + o.ports - 1 > 65_535) {
      throw new RangeError(`PodNetwork option ports must fit below 65536, got ${o.firstPort} + ${o.ports}`);
    }
    this.addressCount = o.addresses;
    this.firstPort = o.firstPort;
    this.portCount = o.ports;
    if (!Number.isSafeInteger(o.firstPortOffset) || o.firstPortOffset < 0) {
      throw new RangeError(
        `PodNetwork option firstPortOffset must be an integer >= 0, got ${o.firstPortOffset}`,
      );
    }
    this.nextPort = o.firstPortOffset % o.ports;
    this.portIsFree = options.portIsFree ?? canListenEverywhere;
  }

  /** Leases held now. */
  get held(): number {
    return this.addressesHeld.size;
  }

  /**
   * An address and a port (two with `request.statsPort`) for a new Pod; give them back with
   * {@link release} once it stopped.
   */
  async acquire(request: PodLeaseRequest = {}): Promise<PodLease> {
    const address = this.takeAddress();
    let appPort: number | undefined;
    try {
      appPort = await this.takePort();
      const lease = { address: toAddress(this.first + address), appPort };
      return request.statsPort ? { ...lease, statsPort: await this.takePort() } : lease;
    } catch (err) {
      this.addressesHeld.delete(address);
      if (appPort !== undefined) this.portsHeld.delete(appPort);
      throw err;
    }
  }

  /** Gives back what a stopped Pod held. */
  release(lease: PodLease): void {
    this.addressesHeld.delete(toNumber(lease.address) - this.first);
    this.portsHeld.delete(lease.appPort);
    if (lease.statsPort !== undefined) this.portsHeld.delete(lease.statsPort);
  }

  private takeAddress(): number {
    for (let i = 0; i < this.addressCount; i++) {
      const candidate = (this.nextAddress + i) % this.addressCount;
      if (this.addressesHeld.has(candidate)) continue;
      this.addressesHeld.add(candidate);
      this.nextAddress = (candidate + 1) % this.addressCount;
      return candidate;
    }
    throw new PodNetworkExhaustedError(`all ${this.addressCount} Pod addresses are in use`);
  }

  private async takePort(): Promise<number> {
    const start = this.nextPort;
    for (let i = 0; i < this.portCount; i++) {
      const port = this.firstPort + ((start + i) % this.portCount);
      if (this.portsHeld.has(port)) continue;
      // Held before the check, so Pods starting at once never test (and take) the same port.
      this.portsHeld.add(port);
      this.nextPort = (port - this.firstPort + 1) % this.portCount;
      if (await this.portIsFree(port)) return port;
      this.portsHeld.delete(port);
    }
    throw new PodNetworkExhaustedError(
      `no free app port in ${this.firstPort}-${this.firstPort + this.portCount - 1}`,
    );
  }
}

function toNumber(address: string): number {
  return address.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

function toAddress(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/**
 * Whether `port` can be bound on every interface (IPv6 and IPv4, or IPv4 alone on a machine without
 * IPv6): then an app may bind its Pod's address or all interfaces.
 */
export async function canListenEverywhere(port: number): Promise<boolean> {
  const attempt = (host: string) =>
    new Promise<string | undefined>((resolve) => {
      const server = createServer();
      server.unref();
      server.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'ERROR'));
      server.listen({ port, host, ipv6Only: false, exclusive: true }, () =>
        server.close(() => resolve(undefined)),
      );
    });
  const v6 = await attempt('::');
  if (v6 === 'EAFNOSUPPORT' || v6 === 'EADDRNOTAVAIL') return (await attempt('0.0.0.0')) === undefined;
  return v6 === undefined;
}

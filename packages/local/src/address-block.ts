/**
 * The share of 127.0.0.0/8 one platform hands to its Pods. Two platforms on one machine (two projects,
 * or tests running side by side) must never give Pods the same address: a request would reach the other
 * platform's app. Each platform claims a block 127.B.0.0/16 by listening on a Linux abstract socket named
 * for B, which the kernel frees when the process ends however it ends, so a crashed platform never
 * leaves a block claimed. Blocks also start their app ports at different points of the range, so that
 * apps listening on all interfaces rarely race for one port either.
 */
import { createServer, type Server } from 'node:net';
import type { PodNetworkOptions } from './pod-network.js';

/** Blocks 127.1.0.0/16 to 127.254.0.0/16. */
const FIRST_BLOCK = 1;
const LAST_BLOCK = 254;
/** How far apart the blocks' first app ports are, within the app port range. */
const PORT_STRIDE = 1000;

/** A claimed block: the Pod network options that keep to it, held until {@link release}. */
export interface AddressBlock {
  /** The B of 127.B.0.0/16. */
  readonly block: number;
  /** Addresses 127.B.0.1 to 127.B.255.254, app ports starting at the block's own point. */
  readonly network: Pick<PodNetworkOptions, 'firstAddress' | 'addresses' | 'firstPortOffset'>;
  /** Gives the block back (also done by the kernel when the process ends). */
  release(): Promise<void>;
}

/** Thrown by {@link claimAddressBlock} when every block is claimed. */
export class AddressBlocksExhaustedError extends Error {
  readonly code = 'ADDRESS_BLOCKS_EXHAUSTED';
}

/** The abstract socket name that marks block `block` as claimed; `scope` keeps tests apart. */
function claimName(block: number, scope: string): string {
  return `\0zerogate-pod-block-${scope}${block}`;
}

/** Claims the lowest free block. `scope` names a separate set of blocks (tests use their own). */
export async function claimAddressBlock(scope = ''): Promise<AddressBlock> {
  for (let block = FIRST_BLOCK; block <= LAST_BLOCK; block++) {
    const server = await listenAbstract(claimName(block, scope));
    if (!server) continue;
    server.unref();
    return {
      block,
      network: {
        firstAddress: `127.${block}.0.1`,
        addresses: 65_534,
        firstPortOffset: (block - FIRST_BLOCK) * PORT_STRIDE,
      },
      release: () => new Promise((resolve) => server.close(() => resolve())),
    };
  }
  throw new AddressBlocksExhaustedError(
    `all ${LAST_BLOCK - FIRST_BLOCK + 1} Pod address blocks (127.1.0.0/16 to 127.254.0.0/16) are claimed by other platforms on this machine`,
  );
}

/** A server listening on the abstract socket `name`, or undefined when another process holds it. */
function listenAbstract(name: string): Promise<Server | undefined> {
  return new Promise((resolve, reject) => {
    const server = createServer((socket) => socket.destroy());
    server.once('error', (err: NodeJS.ErrnoException) =>
      err.code === 'EADDRINUSE' ? resolve(undefined) : reject(err),
    );
    server.listen(name, () => resolve(server));
  });
}

/**
 * Runs a command line of the bench again inside a network namespace of its own
 * (packages/cluster/netns.sh), for what needs a real control plane: its Pods get addresses a real
 * apiserver accepts, and all their traffic stays in that namespace, which ends with the command.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const NETNS_SCRIPT = fileURLToPath(new URL('../../packages/cluster/netns.sh', import.meta.url));

/** Whether this process already runs in the namespace netns.sh made. */
export function inNetns(): boolean {
  return process.env['ZEROGATE_NETNS'] === '1';
}

/** Runs `entry` (a built main) with `argv` under Node in a namespace of its own; resolves to its exit code. */
export function rerunInNetns(entry: string, argv: readonly string[]): number {
  const inner = spawnSync('bash', [NETNS_SCRIPT, process.execPath, entry, ...argv], { stdio: 'inherit' });
  return inner.status ?? 1;
}

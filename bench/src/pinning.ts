/**
 * CPU pinning with `taskset`: which CPU the load generator, the user container and the proxy under
 * test run on, and how to apply that to this process and to the children it spawns.
 */
import { spawnSync } from 'node:child_process';

/** CPUs chosen for each role. */
export interface CpuRoles {
  /** The load generator: this process (autocannon runs in it). */
  readonly load: number;
  /** The user container (the hello app). */
  readonly app: number;
  /** The proxy under test. */
  readonly proxy: number;
}

/**
 * The default layout on a two-CPU machine: load generator and app share CPU 0, the proxy under test
 * has CPU 1 to itself. The proxy is what is measured, so it gets a core no one else competes for and
 * its CPU figures are its own; the app is trivial and stays on CPU 0 for every target, direct
 * included, so the only thing that changes between rows is the proxy hop.
 */
export const DEFAULT_ROLES: CpuRoles = { load: 0, app: 0, proxy: 1 };

/** A pinning decision: either roles applied with `taskset`, or unpinned with the reason why. */
export type PinPlan =
  | { readonly enabled: true; readonly roles: CpuRoles; readonly allowed: readonly number[] }
  | { readonly enabled: false; readonly reason: string };

/** Parses a kernel CPU list such as `0-3,6` into sorted CPU numbers. */
export function parseCpuList(text: string): number[] {
  const cpus = new Set<number>();
  for (const part of text.trim().split(',')) {
    if (part === '') continue;
    const [from, to] = part.split('-');
    const start = Number(from);
    const end = to === undefined ? start : Number(to);
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end < start) {
      throw new Error(`invalid CPU list ${JSON.stringify(text)}`);
    }
    for (let cpu = start; cpu <= end; cpu++) cpus.add(cpu);
  }
  return [...cpus].sort((a, b) => a - b);
}

/** Parses `--cpus load,app,proxy` (e.g. `0,0,1`). */
export function parseCpuRoles(text: string): CpuRoles {
  const parts = text.split(',').map((p) => Number(p.trim()));
  if (parts.length !== 3 || parts.some((p) => !Number.isInteger(p) || p < 0)) {
    throw new Error(`--cpus must be three CPU numbers "load,app,proxy", got ${JSON.stringify(text)}`);
  }
  const [load, app, proxy] = parts as [number, number, number];
  return { load, app, proxy };
}

/** Decides whether pinning is possible: `taskset` must exist and every role's CPU must be allowed. */
export function planPinning(wanted: boolean, roles: CpuRoles): PinPlan {
  if (!wanted) return { enabled: false, reason: 'disabled with --no-pin' };
  const probe = spawnSync('taskset', ['-c', '-p', String(process.pid)], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    return { enabled: false, reason: 'taskset is not available' };
  }
  // "pid 123's current affinity list: 0,1"
  const allowed = parseCpuList(probe.stdout.slice(probe.stdout.lastIndexOf(':') + 1));
  const missing = [roles.load, roles.app, roles.proxy].filter((cpu) => !allowed.includes(cpu));
  if (missing.length > 0) {
    return {
      enabled: false,
      reason: `CPU ${missing.join(', ')} not available to this process (allowed: ${allowed.join(',')})`,
    };
  }
  return { enabled: true, roles, allowed };
}

/** Prefixes a command with `taskset -c <cpu>` when pinning is on. */
export function pinned(plan: PinPlan, cpu: number, argv: readonly string[]): string[] {
  return plan.enabled ? ['taskset', '-c', String(cpu), ...argv] : [...argv];
}

/**
 * Pins every thread of this process to one CPU. Threads started later inherit the affinity of the
 * thread that creates them, so autocannon and everything else in this process stays there.
 */
export function pinSelf(plan: PinPlan, cpu: number): void {
  if (!plan.enabled) return;
  const result = spawnSync('taskset', ['-a', '-c', '-p', String(cpu), String(process.pid)], {
    encoding: 'utf8',
  });
  if (result.status !== 0) {
    throw new Error(`taskset could not pin the load generator to CPU ${cpu}: ${result.stderr.trim()}`);
  }
}

/** One line describing the layout, for output headers. */
export function describePinning(plan: PinPlan): string {
  if (!plan.enabled) return `unpinned (${plan.reason})`;
  const { load, app, proxy } = plan.roles;
  return `taskset: load generator on CPU ${load}, app on CPU ${app}, proxy under test on CPU ${proxy}`;
}

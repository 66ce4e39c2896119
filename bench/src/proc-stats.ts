/**
 * Readers for Linux `/proc`: CPU time, resident and proportional memory of a process and of the tree
 * below it.
 *
 * Parsing is kept apart from reading so it can be tested on fixed text. Reads are synchronous on
 * purpose: the files are tiny, and a sync read costs the sampling process less than a trip through
 * the libuv thread pool, which shares its CPU with the load generator.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** The fields of `/proc/<pid>/stat` the benchmarks use; times are in clock ticks. */
export interface ProcStat {
  readonly pid: number;
  readonly comm: string;
  readonly ppid: number;
  /** User-mode CPU time of all the process's threads. */
  readonly utime: number;
  /** Kernel-mode CPU time of all the process's threads. */
  readonly stime: number;
  /** User-mode CPU time of children that have exited and been waited for. */
  readonly cutime: number;
  /** Kernel-mode CPU time of children that have exited and been waited for. */
  readonly cstime: number;
}

/**
 * Parses the text of `/proc/<pid>/stat`. The command name sits in parentheses and may itself hold
 * spaces and parentheses, so fields are counted from the last `)`.
 */
export function parseProcStat(text: string): ProcStat {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open)
    throw new Error(`malformed /proc stat line: ${JSON.stringify(text.slice(0, 80))}`);
  const pid = Number(text.slice(0, open).trim());
  // After ") " come field 3 (state) onward; utime is field 14, so index 11 here.
  const rest = text
    .slice(close + 2)
    .trim()
    .split(' ');
  const field = (n: number): number => {
    const value = Number(rest[n - 3]);
    if (!Number.isFinite(value)) throw new Error(`malformed /proc stat line: field ${n} is ${rest[n - 3]}`);
    return value;
  };
  return {
    pid,
    comm: text.slice(open + 1, close),
    ppid: field(4),
    utime: field(14),
    stime: field(15),
    cutime: field(16),
    cstime: field(17),
  };
}

/** Parses the `VmRSS` line of `/proc/<pid>/status` into KiB; undefined for kernel threads or zombies. */
export function parseVmRssKiB(text: string): number | undefined {
  return statusKiB(text, 'VmRSS');
}

/**
 * Parses the `RssAnon` line of `/proc/<pid>/status` into KiB: the anonymous part of the resident set
 * (heap, stacks, the JIT's code), without the file-backed pages of the executable and its libraries.
 * A static Go binary and Node map very different files, so this is the fairer memory comparison.
 */
export function parseRssAnonKiB(text: string): number | undefined {
  return statusKiB(text, 'RssAnon');
}

/**
 * Parses the `Pss` line of `/proc/<pid>/smaps_rollup` into KiB: the proportional set size, the
 * resident pages with each page shared with other processes divided among them. The pages of an
 * executable and its libraries mapped by several processes (every node on the machine shares the
 * node binary's) count only in part, so this is the memory a process adds beside the others running.
 * Only the `Pss:` line, not `Pss_Anon:`, `Pss_File:` and the like.
 */
export function parsePssKiB(text: string): number | undefined {
  return statusKiB(text, 'Pss');
}

function statusKiB(text: string, field: string): number | undefined {
  const match = new RegExp(`^${field}:\\s+(\\d+)\\s+kB$`, 'm').exec(text);
  return match ? Number(match[1]) : undefined;
}

/**
 * Total CPU ticks of a process including the waited-for children folded into it. Summed over a
 * live tree this counts every tick once: a child's time moves into its parent's `cutime` only when
 * the child is reaped, at which point it is no longer in the tree.
 */
export function totalTicks(stat: ProcStat): number {
  return stat.utime + stat.stime + stat.cutime + stat.cstime;
}

/** Returns the pids of `root` and all its descendants, given the pid → parent pid of every process. */
export function descendants(root: number, parents: ReadonlyMap<number, number>): number[] {
  const children = new Map<number, number[]>();
  for (const [pid, ppid] of parents) {
    const list = children.get(ppid);
    if (list) list.push(pid);
    else children.set(ppid, [pid]);
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) {
    for (const child of children.get(out[i]!) ?? []) out.push(child);
  }
  return out;
}

/** Reads and parses `/proc/<pid>/stat`; undefined if the process is gone. */
export function readProcStat(pid: number): ProcStat | undefined {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'latin1'));
  } catch {
    return undefined;
  }
}

/** Resident memory of one process, KiB. */
export interface MemoryReading {
  readonly rssKiB: number;
  /** The anonymous part of {@link rssKiB} (see {@link parseRssAnonKiB}). */
  readonly rssAnonKiB: number;
}

/** Reads the resident set size of one process and its anonymous part; undefined if the process is gone. */
export function readMemoryKiB(pid: number): MemoryReading | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'latin1');
  } catch {
    return undefined;
  }
  const rssKiB = parseVmRssKiB(text);
  return rssKiB === undefined ? undefined : { rssKiB, rssAnonKiB: parseRssAnonKiB(text) ?? 0 };
}

/**
 * Reads the proportional set size of one process (see {@link parsePssKiB}); undefined if the process
 * is gone or the kernel has no `smaps_rollup` (before Linux 4.14).
 */
export function readPssKiB(pid: number): number | undefined {
  try {
    return parsePssKiB(readFileSync(`/proc/${pid}/smaps_rollup`, 'latin1'));
  } catch {
    return undefined;
  }
}

/**
 * Lists `root` and its live descendants by scanning `/proc` (the kernel's `children` files are not
 * always compiled in). A shell wrapper around the process under test is thereby measured with it.
 */
export function processTree(root: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const stat = readProcStat(pid);
    if (stat) parents.set(pid, stat.ppid);
  }
  if (!parents.has(root)) return [];
  return descendants(root, parents);
}

/** A point-in-time reading of a process tree. */
export interface TreeReading {
  readonly pids: readonly number[];
  /** CPU ticks over the tree (see {@link totalTicks}). */
  readonly ticks: number;
  /** Summed resident set size over the tree, KiB. */
  readonly rssKiB: number;
  /** Summed anonymous resident memory over the tree, KiB. */
  readonly rssAnonKiB: number;
  /**
   * Summed proportional set size over the tree, KiB: undefined when it was not asked for or no
   * process of the tree had a readable `smaps_rollup`.
   */
  readonly pssKiB: number | undefined;
}

/**
 * Reads CPU ticks and resident memory summed over `root` and its descendants, and with `pss` their
 * proportional set size too. PSS is optional because `smaps_rollup` costs the kernel a walk of the
 * process's page tables: about 1 ms for a 100 MiB Node process against 20 µs for `status`.
 */
export function readTree(root: number, pss = false): TreeReading {
  const pids = processTree(root);
  let ticks = 0;
  let rssKiB = 0;
  let rssAnonKiB = 0;
  let pssKiB: number | undefined;
  for (const pid of pids) {
    const stat = readProcStat(pid);
    if (stat) ticks += totalTicks(stat);
    const memory = readMemoryKiB(pid);
    rssKiB += memory?.rssKiB ?? 0;
    rssAnonKiB += memory?.rssAnonKiB ?? 0;
    const proportional = pss ? readPssKiB(pid) : undefined;
    if (proportional !== undefined) pssKiB = (pssKiB ?? 0) + proportional;
  }
  return { pids, ticks, rssKiB, rssAnonKiB, pssKiB };
}

/**
 * Busy clock ticks of the whole machine from the first line of `/proc/stat`: user, nice, system and
 * steal (guest time is already inside user). Steal counts because on a virtual machine it is CPU the
 * benchmark did not get. Interrupt and softirq time is left out: with IRQ time accounting it is
 * charged to no process, and here it is mostly the benchmark's own loopback traffic.
 */
export function parseBusyTicks(text: string): number {
  const newline = text.indexOf('\n');
  const line = newline < 0 ? text : text.slice(0, newline);
  const fields = line.trim().split(/\s+/);
  if (fields[0] !== 'cpu') throw new Error(`malformed /proc/stat: ${JSON.stringify(line.slice(0, 80))}`);
  const [user, nice, system, _idle, _iowait, _irq, _softirq, steal] = fields.slice(1).map(Number);
  return (user ?? 0) + (nice ?? 0) + (system ?? 0) + (steal ?? 0);
}

/** Busy clock ticks of the whole machine (see {@link parseBusyTicks}). */
export function readBusyTicks(): number {
  return parseBusyTicks(readFileSync('/proc/stat', 'latin1'));
}

/** CPU ticks this process has used itself (its children are measured separately). */
export function readOwnTicks(): number {
  const stat = readProcStat(process.pid);
  return stat ? stat.utime + stat.stime : 0;
}

/**
 * CPU ticks of this process's children that have exited and been reaped: the whole life of every
 * short-lived process the benchmark started and stopped, start-up and exit included.
 */
export function readReapedChildTicks(): number {
  const stat = readProcStat(process.pid);
  return stat ? stat.cutime + stat.cstime : 0;
}

let ticksPerSecond: number | undefined;

/** The kernel's clock ticks per second (`getconf CLK_TCK`, almost always 100), read once. */
export function clockTicksPerSecond(): number {
  if (ticksPerSecond === undefined) {
    try {
      const value = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
      ticksPerSecond = Number.isInteger(value) && value > 0 ? value : 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

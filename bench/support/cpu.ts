import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time used by processes during a measurement, read from /proc (Linux), to tell who was busy:
 * the load generator saturating its core means the figure is a client limit, not a server one.
 * Elsewhere (no /proc) every figure is undefined.
 */

let ticksPerSecond: number | undefined;
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    ticksPerSecond = Number(out.stdout?.trim()) || 100;
  }
  return ticksPerSecond;
}

interface ProcStat {
  ppid: number;
  /**
   * utime + stime + cutime + cstime, in clock ticks: its own CPU and that of the children it has reaped,
   * so a process that exits (a Postgres backend whose pool closed it) keeps counting in its parent's
   * figure instead of taking its CPU history out of the tree's total.
   */
  ticks: number;
}

function readStats(): Map<number, ProcStat> | undefined {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return undefined;
  }
  const stats = new Map<number, ProcStat>();
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const raw = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The command name (field 2) may hold spaces and parentheses: split after its closing one.
      const fields = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
      // fields[0] is field 3 (state): ppid is field 4, utime 14, stime 15, cutime 16, cstime 17.
      const [utime, stime, cutime, cstime] = fields.slice(11, 15).map(Number);
      stats.set(Number(entry), { ppid: Number(fields[1]), ticks: utime + stime + cutime + cstime });
    } catch {
      // gone meanwhile
    }
  }
  return stats;
}

/** CPU seconds of each root and all its descendants (Postgres's backends are the postmaster's children). */
function treeSeconds(stats: Map<number, ProcStat>, roots: number[]): number[] {
  const children = new Map<number, number[]>();
  for (const [pid, s] of stats) {
    const list = children.get(s.ppid) ?? [];
    list.push(pid);
    children.set(s.ppid, list);
  }
  return roots.map((root) => {
    let ticks = 0;
    const todo = [root];
    const seen = new Set<number>();
    while (todo.length) {
      const pid = todo.pop()!;
      if (seen.has(pid)) continue;
      seen.add(pid);
      ticks += stats.get(pid)?.ticks ?? 0;
      todo.push(...(children.get(pid) ?? []));
    }
    return ticks / clockTicks();
  });
}

/** Busy and total clock ticks of the whole machine, from the `cpu` line of /proc/stat. */
function machineTicks(): { busy: number; total: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
    // user nice system idle iowait irq softirq steal (guest time is already in user)
    const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
    const busy = user + nice + system + irq + softirq + (steal || 0);
    return { busy, total: busy + idle + iowait };
  } catch {
    return undefined;
  }
}

export interface CpuWatch {
  /**
   * Per name: average cores busy since `start` (1.0 = one core fully used), or undefined without /proc;
   * plus `bench` (this process), `machine` (all processes) and `other` (machine minus everything named:
   * work this benchmark did not start, which makes its figures unreliable when it is large).
   */
  stop(): Record<string, number | undefined>;
}

/**
 * Starts watching the named process trees plus this process's own CPU (`bench` — the load generator).
 * Descendants that exit are counted once their parent has reaped them (the parent's cutime/cstime),
 * so a backend closing between the two samples neither vanishes nor takes its earlier CPU with it.
 */
export function watchCpu(pids: Record<string, number | undefined>): CpuWatch {
  const names = Object.keys(pids).filter((n) => pids[n] !== undefined);
  const roots = names.map((n) => pids[n]!);
  const before = readStats();
  const beforeSeconds = before ? treeSeconds(before, roots) : undefined;
  const ownBefore = process.cpuUsage();
  const machineBefore = machineTicks();
  const startedAt = process.hrtime.bigint();
  return {
    stop() {
      const wall = Number(process.hrtime.bigint() - startedAt) / 1e9;
      const own = process.cpuUsage(ownBefore);
      const result: Record<string, number | undefined> = { bench: (own.user + own.system) / 1e6 / wall };
      const after = readStats();
      const afterSeconds = after ? treeSeconds(after, roots) : undefined;
      names.forEach((name, i) => {
        result[name] = beforeSeconds && afterSeconds ? Math.max(0, afterSeconds[i] - beforeSeconds[i]) / wall : undefined;
      });
      const machineAfter = machineTicks();
      if (machineBefore && machineAfter) {
        const known = Object.values(result).reduce<number>((sum, v) => sum + (v ?? 0), 0);
        const machine = (machineAfter.busy - machineBefore.busy) / clockTicks() / wall;
        result.machine = machine;
        result.other = Math.max(0, machine - known);
      }
      return result;
    },
  };
}

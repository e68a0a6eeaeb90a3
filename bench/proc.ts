/**
 * CPU accounting of workerd processes from `/proc` (Linux), shared by the runner and the load generator. workerd
 * runs a Worker's JavaScript on one thread, so on a shared machine the CPU time it spends per request is a
 * steadier measure of cost than requests per second.
 *
 * @module
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

/** Fields of `/proc/<pid>/stat` after the command name (index 0 is field 3, the state). */
function statFields(pid: number | string): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

/**
 * The ids of the workerd processes whose parent is `parent` (Linux; empty elsewhere).
 *
 * @example
 * ```ts
 * const before = new Set(workerdPids());
 * await mf.ready;
 * const mine = workerdPids().filter((pid) => !before.has(pid));
 * ```
 */
export function workerdPids(parent: number = process.pid): number[] {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return [];
  }
  const pids: number[] = [];
  for (const pid of entries) {
    if (!/^\d+$/.test(pid)) continue;
    let comm: string;
    try {
      comm = readFileSync(`/proc/${pid}/comm`, "utf8").trim();
    } catch {
      continue;
    }
    if (comm.startsWith("workerd") && Number(statFields(pid)?.[1]) === parent) pids.push(Number(pid));
  }
  return pids;
}

let clockTicks: number | undefined;

/** Clock ticks per second (`getconf CLK_TCK`), the unit of utime and stime in `/proc/<pid>/stat`. */
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/**
 * CPU time (user + system, every thread) a process has used so far, in microseconds: fields 14 and 15 of
 * `/proc/<pid>/stat`. Resolution is one clock tick (10 ms at the usual 100 Hz), so read it around runs of
 * seconds, or add many short readings up. `undefined` when there is no such process or no `/proc`.
 *
 * @example
 * ```ts
 * const before = processCpuUs(worker.pid);
 * await load(config);
 * const after = processCpuUs(worker.pid);
 * const usPerRequest = before === undefined || after === undefined ? undefined : (after - before) / requests;
 * ```
 */
export function processCpuUs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  const fields = statFields(pid);
  if (fields === undefined) return undefined;
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / ticksPerSecond();
}

/**
 * CPU time a process's live threads have run, in microseconds, from the scheduler's nanosecond counters
 * (`/proc/<pid>/task/<tid>/schedstat`, first field): a finer cross-check of `processCpuUs`, which counts in clock
 * ticks (it misses threads that already exited). `undefined` without `/proc` or schedstats.
 *
 * @example
 * ```ts
 * const before = threadsCpuUs(worker.pid);
 * ```
 */
export function threadsCpuUs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
      } catch {
        // the thread ended between the listing and the read
      }
    }
    return ns / 1000;
  } catch {
    return undefined;
  }
}

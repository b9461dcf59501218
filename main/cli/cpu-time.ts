import fs from 'node:fs';

/**
 * CPU seconds of a trainer process's main thread, where a pretraining run computes its steps
 * (the batch worker has its own thread). On a machine shared with other work the wall clock
 * says little about how much training a budget buys; the training thread's CPU time does (on
 * an idle machine the two are about equal): `jigclu pretrain --cpu-time-limit` and the line
 * saying how much CPU a run used read it. Linux: /proc/<pid>/task/<pid>/stat, utime + stime in
 * clock ticks of 1/100 s.
 */

/** CPU seconds of the main thread of process `pid` (a run's trainer process); undefined where /proc cannot say (not Linux, or it has exited). */
export function threadCpuSeconds(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at state; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

import fs from 'node:fs';

/**
 * CPU seconds used so far by this process's main thread, where a CLI pretraining run computes
 * its steps (the batch worker has its own thread). On a machine shared with other work the wall
 * clock says little about how much training a budget buys; the training thread's CPU time does
 * (on an idle machine the two are about equal). Linux: /proc/self/task/<pid>/stat, utime + stime
 * in clock ticks of 1/100 s; elsewhere the whole process's CPU time (all threads), which is more.
 */
export function mainThreadCpuSeconds(): number {
  try {
    const stat = fs.readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at state; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    const usage = process.cpuUsage();
    return (usage.user + usage.system) / 1e6;
  }
}

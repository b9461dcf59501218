import { describe, expect, it } from 'vitest';
import { threadCpuSeconds } from '../../main/cli/cpu-time';

describe('threadCpuSeconds', () => {
  it("counts a process's main thread's CPU time: it grows by about the time of a busy loop, and never past the whole process's", () => {
    if (process.platform !== 'linux') {
      console.log('threadCpuSeconds reads /proc, which only Linux has: not checked on this machine.');
      expect(threadCpuSeconds(process.pid)).toBeUndefined();
      return;
    }
    const before = threadCpuSeconds(process.pid)!;
    const started = process.cpuUsage();
    let x = 0;
    const until = performance.now() + 300;
    while (performance.now() < until) x += Math.sqrt(x + 1);
    const used = threadCpuSeconds(process.pid)! - before;
    const processUsed = (process.cpuUsage(started).user + process.cpuUsage(started).system) / 1e6;
    expect(x).toBeGreaterThan(0);
    // 300 ms of wall time busy on this thread: at most that much CPU, at least some (ticks of 10 ms).
    expect(used).toBeGreaterThan(0);
    expect(used).toBeLessThanOrEqual(0.4);
    expect(used).toBeLessThanOrEqual(processUsed + 0.02);
  });

  it('says nothing for a process that is not there', () => {
    expect(threadCpuSeconds(2 ** 22 + 12345)).toBeUndefined();
  });
});

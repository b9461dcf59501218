import { describe, expect, it } from 'vitest';
import { mainThreadCpuSeconds } from '../../main/cli/cpu-time';

describe('mainThreadCpuSeconds', () => {
  it("counts this thread's CPU time: it grows by about the time of a busy loop, and never past the whole process's", () => {
    const before = mainThreadCpuSeconds();
    const started = process.cpuUsage();
    let x = 0;
    const until = performance.now() + 300;
    while (performance.now() < until) x += Math.sqrt(x + 1);
    const used = mainThreadCpuSeconds() - before;
    const processUsed = (process.cpuUsage(started).user + process.cpuUsage(started).system) / 1e6;
    expect(x).toBeGreaterThan(0);
    // 300 ms of wall time busy on this thread: at most that much CPU, at least some (ticks of 10 ms).
    expect(used).toBeGreaterThan(0);
    expect(used).toBeLessThanOrEqual(0.4);
    expect(used).toBeLessThanOrEqual(processUsed + 0.02);
  });
});

import { describe, expect, it } from 'vitest';
import type { TaskInfo } from '../../main/common/tasks';
import { TaskRegistry, type TaskContext } from '../../main/services/tasks';

/**
 * The task registry's rate and ETA on a clock of our own: a paused task has no ETA, and the
 * time it was paused never lowers its rate (the ETA after a pause is the one before it).
 */
describe('task registry', () => {
  it('shows no ETA while paused and does not count the pause in the rate', async () => {
    let now = 0;
    const events: TaskInfo[] = [];
    const registry = new TaskRegistry((info) => events.push(info), () => now);
    let context!: TaskContext;
    let finish!: () => void;
    const info = registry.start({ kind: 'pretrain', title: 'Run', unit: 'steps', total: 100 }, (task) => {
      context = task;
      return new Promise<void>((resolve) => (finish = resolve));
    });
    const latest = () => registry.list().find((task) => task.id === info.id)!;
    // 10 steps a second for 2 seconds.
    for (let step = 1; step <= 20; step += 1) {
      now += 100;
      context.progress(step, 100);
    }
    expect(latest().rate).toBeCloseTo(10, 5);
    expect(latest().etaSeconds).toBeCloseTo(8, 5);

    context.paused!(true);
    expect(latest()).toMatchObject({ paused: true });
    expect(latest().etaSeconds).toBeUndefined();
    expect(events.at(-1)).toMatchObject({ paused: true });
    // A minute paused.
    now += 60_000;
    context.paused!(false);
    expect(latest().paused).toBeUndefined();
    for (let step = 21; step <= 30; step += 1) {
      now += 100;
      context.progress(step, 100);
    }
    expect(latest().rate).toBeCloseTo(10, 5);
    expect(latest().etaSeconds).toBeCloseTo(7, 5);
    finish();
    await registry.settled(info.id);
    expect(latest()).toMatchObject({ status: 'finished', etaSeconds: 0 });
  });
});

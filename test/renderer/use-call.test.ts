import { describe, expect, it } from 'vitest';
import { err, ok, type AppError, type Result } from '../../main/common/result';
import { useAction, useActions, useCall } from '../../renderer/src/composables/use-call';

describe('useCall', () => {
  it('is busy while the call runs, then keeps its value and tells onValue', async () => {
    let finish!: (result: Result<number>) => void;
    const seen: number[] = [];
    const call = useCall(
      (a: number) =>
        new Promise<Result<number>>((resolve) => (finish = (r) => resolve(r.ok ? ok(r.value + a) : r))),
      (value) => seen.push(value),
    );
    const running = call.run(2);
    expect(call.busy.value).toBe(true);
    // A second run while one runs is refused, and does not disturb the first.
    expect((await call.run(5))?.code).toBe('CONFLICT');
    finish(ok(40));
    expect(await running).toBeUndefined();
    expect(call.busy.value).toBe(false);
    expect(call.value.value).toBe(42);
    expect(call.error.value).toBeUndefined();
    expect(seen).toEqual([42]);
  });

  it('keeps the error of a refused call, clears the old value, and clears the error on the next run', async () => {
    let answer: Result<string> = ok('first');
    const call = useCall(async () => answer);
    await call.run();
    expect(call.value.value).toBe('first');
    answer = err('NOT_FOUND', 'no such classifier');
    const error = await call.run();
    expect(error).toEqual({ code: 'NOT_FOUND', message: 'no such classifier' });
    expect(call.error.value).toEqual(error);
    expect(call.value.value).toBeUndefined();
    answer = ok('again');
    await call.run();
    expect(call.error.value).toBeUndefined();
    expect(call.value.value).toBe('again');
  });

  it('is not left busy when the call throws', async () => {
    const call = useCall(async (): Promise<Result<number>> => {
      throw new Error('the connection closed');
    });
    await expect(call.run()).rejects.toThrow('the connection closed');
    expect(call.busy.value).toBe(false);
  });
});

describe('useCall for reads (overlap: latest)', () => {
  it('keeps only the newest answer, and none after reset', async () => {
    const answers: ((result: Result<string>) => void)[] = [];
    const call = useCall((_id: number) => new Promise<Result<string>>((resolve) => answers.push(resolve)), {
      overlap: 'latest',
    });
    const first = call.run(1);
    const second = call.run(2);
    expect(call.busy.value).toBe(true);
    answers[1]!(ok('two'));
    await second;
    answers[0]!(ok('one'));
    await first;
    expect(call.value.value).toBe('two');
    expect(call.busy.value).toBe(false);

    const third = call.run(3);
    call.reset();
    expect(call.busy.value).toBe(false);
    answers[2]!(err('INTERNAL', 'late'));
    expect(await third).toBeUndefined();
    expect(call.error.value).toBeUndefined();
    expect(call.value.value).toBeUndefined();
  });
});

describe('useAction and useActions (store actions that answer with their error)', () => {
  it('useAction keeps the error an action answers with, and clears it on the next run', async () => {
    let failure: AppError | undefined = { code: 'CONFLICT', message: 'a run is training' };
    const action = useAction(async (_runId: number) => failure);
    expect(await action.run(1)).toEqual(failure);
    expect(action.error.value?.message).toBe('a run is training');
    failure = undefined;
    expect(await action.run(1)).toBeUndefined();
    expect(action.error.value).toBeUndefined();
    expect(action.busy.value).toBe(false);
  });

  it('useActions names the action running, refuses another meanwhile, and keeps the last error', async () => {
    const { busy, error, act } = useActions();
    let finish!: (error: AppError | undefined) => void;
    const pausing = act('pause', () => new Promise((resolve) => (finish = resolve)));
    expect(busy.value).toBe('pause');
    expect((await act('delete', async () => undefined))?.code).toBe('CONFLICT');
    expect(busy.value).toBe('pause');
    finish({ code: 'NOT_FOUND', message: 'no such run' });
    expect(await pausing).toEqual({ code: 'NOT_FOUND', message: 'no such run' });
    expect(busy.value).toBeUndefined();
    expect(error.value?.message).toBe('no such run');
    await act('resume', async () => undefined);
    expect(error.value).toBeUndefined();
  });
});

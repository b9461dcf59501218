import { describe, expect, it, vi } from 'vitest';
import { callNames } from '../../main/common/api-contract';
import { ServiceError, type Err, type Result } from '../../main/common/result';
import { defaultSettings, type Settings } from '../../main/common/settings';
import { dispatch, type Handlers } from '../../main/services/dispatch';

/**
 * Handlers that record every call, so a test can prove a refused call never ran. Every call of
 * the contract gets a spy (calls these tests do not use throw), so the fake keeps up as the
 * contract grows.
 */
function fakeHandlers(overrides: Partial<Handlers> = {}) {
  const spies = Object.fromEntries(
    callNames.map((name) => [
      name,
      vi.fn((): unknown => {
        throw new Error(`${name} is not used by these tests`);
      }),
    ]),
  );
  const settingsGet = vi.fn((): Settings => defaultSettings());
  const settingsSet = vi.fn(({ patch }: { patch: Partial<Settings> }): Settings => ({
    ...defaultSettings(),
    ...patch,
  }));
  const handlers = { ...spies, settingsGet, settingsSet, ...overrides } as unknown as Handlers;
  /** True when no handler at all ran. */
  const noneCalled = () =>
    [...Object.values(spies), settingsGet, settingsSet].every((spy) => spy.mock.calls.length === 0);
  return { handlers, settingsGet, settingsSet, noneCalled };
}

function expectErr(result: Result<unknown>): Err['error'] {
  expect(result.ok).toBe(false);
  if (result.ok) throw new Error('expected a failed result');
  return result.error;
}

describe('dispatch: unknown calls', () => {
  it.each<[string, unknown]>([
    ['a string that is not in the contract', 'deleteEverything'],
    ['__proto__', '__proto__'],
    ['toString', 'toString'],
    ['constructor', 'constructor'],
    ['hasOwnProperty', 'hasOwnProperty'],
    ['a number', 42],
    ['undefined', undefined],
    ['null', null],
    ['an object', { name: 'appInfo' }],
    ['a case variant of a real call', 'AppInfo'],
  ])('refuses %s with UNKNOWN_CALL and runs no handler', async (_label, name) => {
    const fake = fakeHandlers();
    const result = await dispatch(fake.handlers, name, {});
    const error = expectErr(result);
    expect(error.code).toBe('UNKNOWN_CALL');
    expect(error.message).toMatch(/unknown call/i);
    expect(fake.noneCalled()).toBe(true);
  });
});

describe('dispatch: argument validation', () => {
  it('refuses a settingsSet patch with a value outside the enum, naming the call and the field', async () => {
    const fake = fakeHandlers();
    const error = expectErr(await dispatch(fake.handlers, 'settingsSet', { patch: { theme: 'blue' } }));
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toContain('settingsSet');
    expect(error.message).toContain('theme');
    expect(fake.settingsSet).not.toHaveBeenCalled();
  });

  it('refuses an unknown key inside the patch, naming it', async () => {
    const fake = fakeHandlers();
    const error = expectErr(await dispatch(fake.handlers, 'settingsSet', { patch: { colour: 'dark' } }));
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toContain('settingsSet');
    expect(error.message).toContain('colour');
    expect(fake.settingsSet).not.toHaveBeenCalled();
  });

  it('refuses an extra unknown top-level argument, naming it', async () => {
    const fake = fakeHandlers();
    const error = expectErr(await dispatch(fake.handlers, 'settingsSet', { patch: {}, sneaky: true }));
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toContain('settingsSet');
    expect(error.message).toContain('sneaky');
    expect(fake.settingsSet).not.toHaveBeenCalled();
  });

  it('refuses an extra argument to a call that takes none', async () => {
    const fake = fakeHandlers();
    const error = expectErr(await dispatch(fake.handlers, 'settingsGet', { all: true }));
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toContain('settingsGet');
    expect(error.message).toContain('all');
    expect(fake.settingsGet).not.toHaveBeenCalled();
  });

  it('refuses a missing required argument, naming it', async () => {
    const fake = fakeHandlers();
    const error = expectErr(await dispatch(fake.handlers, 'settingsSet', {}));
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toContain('settingsSet');
    expect(error.message).toContain('patch');
    expect(fake.settingsSet).not.toHaveBeenCalled();
  });

  it.each<[string, unknown]>([
    ['a string', 'patch'],
    ['a number', 7],
    ['an array', [{ patch: {} }]],
    ['true', true],
  ])('refuses %s as arguments', async (_label, args) => {
    const fake = fakeHandlers();
    const error = expectErr(await dispatch(fake.handlers, 'settingsSet', args));
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toContain('settingsSet');
    expect(fake.settingsSet).not.toHaveBeenCalled();
  });

  it('passes valid, parsed arguments to the handler and wraps its value', async () => {
    const fake = fakeHandlers();
    const result = await dispatch(fake.handlers, 'settingsSet', { patch: { theme: 'dark' } });
    expect(result).toEqual({ ok: true, value: { ...defaultSettings(), theme: 'dark' } });
    expect(fake.settingsSet).toHaveBeenCalledTimes(1);
    expect(fake.settingsSet.mock.calls[0]?.[0].patch.theme).toBe('dark');
  });

  // zod 4 applies .default() inside .partial(): the patch schema must be built without defaults,
  // or a patch of one field would reach the handler with every other field reset.
  it('hands the handler only the fields the caller patched', async () => {
    const fake = fakeHandlers();
    await dispatch(fake.handlers, 'settingsSet', { patch: { theme: 'dark' } });
    expect(fake.settingsSet).toHaveBeenCalledWith({ patch: { theme: 'dark' } });
  });

  it('treats missing arguments of a no-argument call as {}', async () => {
    const fake = fakeHandlers();
    const result = await dispatch(fake.handlers, 'settingsGet', undefined);
    expect(result).toEqual({ ok: true, value: defaultSettings() });
    expect(fake.settingsGet).toHaveBeenCalledWith({});
  });
});

describe('dispatch: handler failures', () => {
  it('keeps the code and message of a ServiceError', async () => {
    const fake = fakeHandlers({
      settingsGet: () => {
        throw new ServiceError('CONFLICT', 'Another window is saving the settings.');
      },
    });
    const error = expectErr(await dispatch(fake.handlers, 'settingsGet', {}));
    expect(error).toEqual({ code: 'CONFLICT', message: 'Another window is saving the settings.' });
  });

  it('keeps the code of a ServiceError from an async handler', async () => {
    const fake = fakeHandlers({
      settingsGet: async () => {
        await Promise.resolve();
        throw new ServiceError('NOT_FOUND', 'gone');
      },
    });
    const error = expectErr(await dispatch(fake.handlers, 'settingsGet', {}));
    expect(error.code).toBe('NOT_FOUND');
  });

  it('turns a plain Error into INTERNAL naming the call and the message', async () => {
    const fake = fakeHandlers({
      settingsGet: () => {
        throw new Error('disk on fire');
      },
    });
    const error = expectErr(await dispatch(fake.handlers, 'settingsGet', {}));
    expect(error.code).toBe('INTERNAL');
    expect(error.message).toContain('settingsGet');
    expect(error.message).toContain('disk on fire');
  });

  it('turns a rejected promise and a thrown non-Error into INTERNAL', async () => {
    const rejecting = fakeHandlers({ settingsGet: () => Promise.reject(new TypeError('bad state')) });
    expect(expectErr(await dispatch(rejecting.handlers, 'settingsGet', {})).code).toBe('INTERNAL');

    const throwingString = fakeHandlers({
      settingsGet: () => {
        throw 'just a string';
      },
    });
    const error = expectErr(await dispatch(throwingString.handlers, 'settingsGet', {}));
    expect(error.code).toBe('INTERNAL');
    expect(error.message).toContain('just a string');

    const throwingNull = fakeHandlers({
      settingsGet: () => {
        throw null;
      },
    });
    expect(expectErr(await dispatch(throwingNull.handlers, 'settingsGet', {})).code).toBe('INTERNAL');
  });

  it('never throws or rejects, whatever it is given', async () => {
    const fake = fakeHandlers({
      settingsSet: () => {
        throw new Error('boom');
      },
    });
    const inputs: [unknown, unknown][] = [
      ['nope', {}],
      [Symbol('call'), {}],
      ['settingsSet', { patch: { theme: 'blue' } }],
      ['settingsSet', { patch: { theme: 'dark' } }],
      ['settingsGet', 'x'],
      [{ toString: () => 'settingsGet' }, {}],
    ];
    for (const [name, args] of inputs) {
      const outcome = await dispatch(fake.handlers, name, args).then(
        (result) => ({ settled: 'resolved' as const, result }),
        (error: unknown) => ({ settled: 'rejected' as const, error }),
      );
      expect(outcome.settled).toBe('resolved');
      if (outcome.settled === 'resolved') expect(outcome.result.ok).toBe(false);
    }
  });
});

describe('dispatch: names JSON cannot write', () => {
  // Electron's structured clone can carry a BigInt or a cyclic object as the call name; JSON
  // cannot write them, so the error message must not depend on JSON.stringify.
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  it.each<[string, unknown]>([
    ['a BigInt', 10n],
    ['a cyclic object', cyclic],
  ])('refuses %s as a call name without rejecting', async (_label, name) => {
    const result = await dispatch(fakeHandlers().handlers, name, {});
    expect(expectErr(result).code).toBe('UNKNOWN_CALL');
  });
});

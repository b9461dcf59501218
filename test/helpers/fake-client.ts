import type { CallName, EventName, EventPayload } from '../../main/common/api-contract';
import { err, isResult, ok } from '../../main/common/result';
import type { ApiClient } from '../../renderer/src/api/client';

/** A faked call: answers with a value or a Result (or a promise of either). */
export type Handler = (args: never) => unknown;

/** A renderer API client whose calls answer from `handlers` (a value or a Result) and whose events the test emits. */
export function fakeClient(handlers: Partial<Record<CallName, Handler>>) {
  const listeners = new Map<string, Set<(payload: unknown) => void>>();
  const calls: { name: CallName; args: Record<string, unknown> }[] = [];
  const client: ApiClient = {
    transport: 'http',
    async call(name, args) {
      calls.push({ name, args: args as Record<string, unknown> });
      const handler = handlers[name];
      if (!handler) return err('UNAVAILABLE', `${name} is not faked`) as never;
      const value = await handler(args as never);
      return (isResult(value) ? value : ok(value)) as never;
    },
    on(name, listener) {
      const set = listeners.get(name) ?? new Set();
      listeners.set(name, set);
      set.add(listener as (payload: unknown) => void);
      return () => set.delete(listener as (payload: unknown) => void);
    },
    onConnection(listener) {
      listener('open');
      return () => undefined;
    },
  };
  function emit<K extends EventName>(name: K, payload: EventPayload<K>): void {
    for (const listener of listeners.get(name) ?? []) listener(payload);
  }
  /** The calls of one name, in order. */
  const named = (name: CallName) => calls.filter((call) => call.name === name);
  return { client, calls, emit, handlers, named };
}

import { computed, ref, shallowRef, type ComputedRef, type Ref, type ShallowRef } from 'vue';
import type { AppError, Result } from '../../../main/common/result';

/** One call's state for the view: whether it runs, its last error, its last value. */
export interface CallState<Args extends unknown[], Value> {
  /** True while a call runs. */
  busy: Ref<boolean>;
  /** The error of the last call; cleared when a call starts. */
  error: Ref<AppError | undefined>;
  /** The value of the last call that succeeded; cleared when a call starts. */
  value: ShallowRef<Value | undefined>;
  /** Runs the call; resolves to its error, or undefined when it succeeded (or was superseded). */
  run(...args: Args): Promise<AppError | undefined>;
  /** Forgets the value and error, and drops the answer of a call still running. */
  reset(): void;
}

/** How `run` treats a call made while another runs. */
export interface CallOptions<Value> {
  /** Told of each value kept. */
  onValue?: (value: Value) => void;
  /**
   * 'refuse' (the default, for actions: the button that started it is busy) answers CONFLICT;
   * 'latest' (for reads: another image, another filter) starts it and drops the earlier one's answer.
   */
  overlap?: 'refuse' | 'latest';
}

/**
 * The busy / error / value triplet every store call needs, in one place: `run` sets `busy`, clears the
 * last error and value, awaits `call`, and keeps its error or value (then `onValue`). Only the answer of
 * the newest call is kept, and none after `reset`.
 */
export function useCall<Args extends unknown[], Value>(
  call: (...args: Args) => Promise<Result<Value>>,
  options: CallOptions<Value> | ((value: Value) => void) = {},
): CallState<Args, Value> {
  const { onValue, overlap = 'refuse' } = typeof options === 'function' ? { onValue: options } : options;
  const busy = ref(false);
  const error = ref<AppError>();
  const value = shallowRef<Value>();
  let latest = 0;

  async function run(...args: Args): Promise<AppError | undefined> {
    if (busy.value && overlap === 'refuse') return { code: 'CONFLICT', message: 'This is already running.' };
    const asked = ++latest;
    busy.value = true;
    error.value = undefined;
    value.value = undefined;
    try {
      const result = await call(...args);
      if (asked !== latest) return undefined;
      if (!result.ok) {
        error.value = result.error;
        return result.error;
      }
      value.value = result.value;
      onValue?.(result.value);
      return undefined;
    } finally {
      if (asked === latest) busy.value = false;
    }
  }

  function reset(): void {
    latest += 1;
    busy.value = false;
    error.value = undefined;
    value.value = undefined;
  }

  return { busy, error, value, run, reset };
}

/**
 * `useCall` for a store action that answers with its error, or undefined when it succeeded (the
 * store keeps what it changed): busy and error for the button that runs it.
 */
export function useAction<Args extends unknown[]>(
  action: (...args: Args) => Promise<AppError | undefined>,
  options: CallOptions<undefined> = {},
): CallState<Args, undefined> {
  return useCall(async (...args: Args): Promise<Result<undefined>> => {
    const error = await action(...args);
    return error ? { ok: false, error } : { ok: true, value: undefined };
  }, options);
}

/** A row of buttons, one action at a time: which one runs, and the last one's error. */
export interface ActionsState {
  /** The name of the action running, if one is. */
  busy: ComputedRef<string | undefined>;
  error: Ref<AppError | undefined>;
  /** Runs `action` under `name` (refused with CONFLICT while another runs). */
  act(name: string, action: () => Promise<AppError | undefined>): Promise<AppError | undefined>;
}

/** `useAction` for several actions that share one busy state and one error (a run's controls). */
export function useActions(): ActionsState {
  const call = useAction((_name: string, action: () => Promise<AppError | undefined>) => action());
  const running = ref<string>();
  const busy = computed(() => (call.busy.value ? running.value : undefined));
  function act(name: string, action: () => Promise<AppError | undefined>): Promise<AppError | undefined> {
    if (!call.busy.value) running.value = name;
    return call.run(name, action);
  }
  return { busy, error: call.error, act };
}

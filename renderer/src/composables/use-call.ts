import { ref, shallowRef, type Ref, type ShallowRef } from 'vue';
import type { AppError, Result } from '../../../main/common/result';

/** One call's state for the view: whether it runs, its last error, its last value. */
export interface CallState<Args extends unknown[], Value> {
  /** True while a call runs. */
  busy: Ref<boolean>;
  /** The error of the last call; cleared when a call starts. */
  error: Ref<AppError | undefined>;
  /** The value of the last call that succeeded; cleared when a call starts. */
  value: ShallowRef<Value | undefined>;
  /** Runs the call; resolves to its error, or undefined when it succeeded. */
  run(...args: Args): Promise<AppError | undefined>;
}

/**
 * The busy / error / value triplet every store call needs, in one place: `run` sets `busy`, clears the
 * last error and value, awaits `call`, and keeps its error or value (then `onValue`, if given). A
 * second `run` while one runs is refused with a CONFLICT error (the button that started it is busy).
 */
export function useCall<Args extends unknown[], Value>(
  call: (...args: Args) => Promise<Result<Value>>,
  onValue?: (value: Value) => void,
): CallState<Args, Value> {
  const busy = ref(false);
  const error = ref<AppError>();
  const value = shallowRef<Value>();
  async function run(...args: Args): Promise<AppError | undefined> {
    if (busy.value) return { code: 'CONFLICT', message: 'This is already running.' };
    busy.value = true;
    error.value = undefined;
    value.value = undefined;
    try {
      const result = await call(...args);
      if (!result.ok) {
        error.value = result.error;
        return result.error;
      }
      value.value = result.value;
      onValue?.(result.value);
      return undefined;
    } finally {
      busy.value = false;
    }
  }
  return { busy, error, value, run };
}

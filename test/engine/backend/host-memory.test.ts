import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '../../../main/engine/backend/tfjs';
import { floatView, newFloatOutput, wasmHeap } from '../../../main/engine/backend/host-memory';
import { useCpuBackend, useWasmBackend } from '../../helpers/engine';

/**
 * host-memory.ts on the wasm engine: views are the tensors' own heap memory, and the Identity
 * that tfjs clones saved tensors with shares the data (one more reference) instead of copying it,
 * while a clone still outlives its original and memory is returned when both are gone.
 */

beforeAll(useWasmBackend);
afterAll(useCpuBackend);

describe('host memory on wasm', () => {
  it('views a tensor where it lives, and an output allocated for a kernel', () => {
    const backend = tf.backend();
    const x = tf.tensor1d([1, 2, 3]);
    const heap = wasmHeap(backend)!;
    expect(heap).toBeDefined();
    const view = floatView(backend, x);
    expect(Array.from(view)).toEqual([1, 2, 3]);
    expect(view.byteOffset).toBe(heap.offset(x));
    const out = newFloatOutput(backend, [2, 2]);
    expect(floatView(backend, out).length).toBe(4);
    tf.engine().makeTensorFromTensorInfo(out).dispose();
    x.dispose();
  });

  it('clones by sharing data: same memory, the clone outlives the original, nothing leaks', () => {
    const heap = wasmHeap(tf.backend())!;
    const before = tf.memory().numTensors;
    const x = tf.tensor1d([4, 5, 6]);
    const y = tf.clone(x);
    expect(heap.offset(y)).toBe(heap.offset(x));
    x.dispose();
    expect(Array.from(y.dataSync())).toEqual([4, 5, 6]);
    y.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('gradients through saved (shared) tensors are unchanged', () => {
    const x = tf.tensor2d([1, -2, 3, 4], [2, 2]);
    const g = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.relu(a), a)))(x);
    // d/da relu(a) a = 2a where a > 0, 0 elsewhere.
    expect(Array.from(g.dataSync())).toEqual([2, 0, 6, 8]);
    tf.dispose([x, g]);
  });
});

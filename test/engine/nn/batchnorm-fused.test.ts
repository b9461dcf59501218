import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import * as tf from '../../../main/engine/backend/tfjs';
import { useWasmThreads } from '../../../main/engine/backend/wasm-threads';
import { batchNormTraining } from '../../../main/engine/nn/resnet';
import { seeded, useCpuBackend } from '../../helpers/engine';

/**
 * The fused BatchNorm kernels (batchnorm-fused.ts) against the tfjs-op form of the same
 * formulas ('ops', itself held to naive float64 loops and finite differences in
 * batchnorm.test.ts) and against a float64 forward written here: on wasm's single-threaded build
 * and its threaded build (the SIMD module imports a plain memory in one and a shared memory in
 * the other), with channel counts that take the SIMD loops (multiples of 4) and the JavaScript
 * loops (others), and on cpu (JavaScript loops). The committed module must be what the .wat
 * assembles to.
 */

afterAll(useCpuBackend);

async function onEngine(engine: string): Promise<void> {
  await useCpuBackend();
  if (engine === 'cpu') return;
  await useWasmThreads(engine === 'wasm, 2 threads' ? 2 : 1);
  expect(await tf.setBackend('wasm')).toBe(true);
  await tf.ready();
}

function values(length: number, seed: number, spread: (i: number) => number): Float32Array {
  const next = seeded(seed);
  return Float32Array.from({ length }, (_, i) => spread(i) * (next() * 2 - 1));
}

type Epilogue = 'none' | 'relu' | 'residual + relu';

/** Forward and all gradients (x, gamma, beta, the residual's) of sum(y * dy) for one BatchNorm form. */
function run(shape: [number, number, number, number], form: 'fused' | 'ops', epilogue: Epilogue = 'none') {
  const c = shape[3];
  const size = shape.reduce((a, b) => a * b, 1);
  // Channel means far from 0 and spreads that differ, so a wrong axis or a lost centring shows.
  const x = tf.tensor4d(values(size, 1, (i) => 1 + (i % c)).map((v, i) => v + 3 * (i % c) - 4), shape);
  const gamma = tf.tensor1d(values(c, 2, () => 2));
  const beta = tf.tensor1d(values(c, 3, () => 1));
  const dy = tf.tensor4d(values(size, 4, () => 1), shape);
  const shortcut = tf.tensor4d(values(size, 5, () => 2), shape);
  const options = (r: tf.Tensor) => ({ form, epilogue: epilogue === 'none' ? {} : epilogue === 'relu' ? { relu: true } : { relu: true, residual: r } });
  const result = tf.tidy(() => {
    const { y, mean, variance } = batchNormTraining(x, gamma, beta, options(shortcut));
    const grads = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor, r: tf.Tensor) => {
      const out = batchNormTraining(a as tf.Tensor4D, g as tf.Tensor1D, b as tf.Tensor1D, options(r));
      out.mean.dispose();
      out.variance.dispose();
      // (Without the residual in the epilogue, r's gradient is zero: keep it in the graph.)
      return tf.add(tf.sum(tf.mul(out.y, dy)), tf.mul(tf.sum(r), 0));
    })([x, gamma, beta, shortcut]);
    return [y, mean, variance, ...grads].map((t) => t.dataSync() as Float32Array);
  });
  const [xv] = [x.dataSync() as Float32Array];
  tf.dispose([x, gamma, beta, dy, shortcut]);
  return { x: xv, y: result[0]!, mean: result[1]!, variance: result[2]!, dx: result[3]!, dgamma: result[4]!, dbeta: result[5]!, dresidual: result[6]! };
}

function worst(got: Float32Array, want: ArrayLike<number>): number {
  expect(got.length).toBe(want.length);
  let largest = 0;
  for (let i = 0; i < got.length; i++) largest = Math.max(largest, Math.abs(got[i]! - want[i]!));
  return largest;
}

describe.each(['wasm, 1 thread', 'wasm, 2 threads', 'cpu'])('fused BatchNorm on %s', (engine) => {
  it.each([
    [[2, 5, 3, 8]],
    [[4, 8, 8, 16]],
    [[2, 5, 3, 6]],
    [[3, 2, 2, 3]],
  ] as [[number, number, number, number]][])('equals the tfjs-op form and a float64 forward, shape %j', async (shape) => {
    await onEngine(engine);
    const fused = run(shape, 'fused');
    const ops = run(shape, 'ops');
    const c = shape[3];
    const rows = fused.x.length / c;
    const mean = Array.from({ length: c }, (_, k) => fused.x.filter((_, i) => i % c === k).reduce((a, b) => a + b, 0) / rows);
    const variance = Array.from({ length: c }, (_, k) => fused.x.filter((_, i) => i % c === k).reduce((a, v) => a + (v - mean[k]!) ** 2, 0) / rows);
    expect(worst(fused.mean, mean), 'mean').toBeLessThan(1e-5);
    expect(worst(fused.variance, variance), 'variance').toBeLessThan(1e-4);
    for (const key of ['y', 'mean', 'variance', 'dx', 'dgamma', 'dbeta'] as const) {
      const scale = Math.max(1, ...Array.from(ops[key], Math.abs));
      expect(worst(fused[key], ops[key]) / scale, `${key}: fused vs ops`).toBeLessThan(2e-5);
    }
  });

  it.each([
    ['relu', [2, 5, 3, 8]],
    ['relu', [2, 5, 3, 6]],
    ['residual + relu', [2, 5, 3, 8]],
    ['residual + relu', [2, 5, 3, 6]],
  ] as [Epilogue, [number, number, number, number]][])('with the %s after it equals the tfjs ops, shape %j', async (epilogue, shape) => {
    await onEngine(engine);
    const fused = run(shape, 'fused', epilogue);
    const ops = run(shape, 'ops', epilogue);
    // The ReLU really cut something, and the residual really changed the output.
    expect(Array.from(fused.y).filter((v) => v === 0).length).toBeGreaterThan(fused.y.length / 5);
    const plain = run(shape, 'ops', 'relu');
    expect(worst(fused.y, plain.y) > 0.1).toBe(epilogue === 'residual + relu');
    for (const key of ['y', 'dx', 'dgamma', 'dbeta', 'dresidual'] as const) {
      const scale = Math.max(1, ...Array.from(ops[key], Math.abs));
      expect(worst(fused[key], ops[key]) / scale, `${key}: fused vs ops`).toBeLessThan(2e-5);
    }
  });
});

describe('fused BatchNorm, bad shapes', () => {
  it('names a gamma, beta or residual that does not fit x instead of reading past them', async () => {
    await onEngine('wasm, 1 thread');
    tf.tidy(() => {
      const x = tf.zeros([2, 3, 3, 8]) as tf.Tensor4D;
      expect(() => batchNormTraining(x, tf.ones([4]), tf.zeros([8]), { form: 'fused' })).toThrow('x has 8 channels but gamma has 4 and beta 8 values');
      expect(() => batchNormTraining(x, tf.ones([8]), tf.zeros([8]), { form: 'fused', epilogue: { relu: true, residual: tf.zeros([2, 3, 3, 4]) } })).toThrow('the residual has shape [2,3,3,4] but x has [2,3,3,8]');
    });
  });
});

describe('the SIMD module', () => {
  it('is what batchnorm-simd.wat assembles to (node scripts/build-wasm.mjs --check)', () => {
    expect(execFileSync(process.execPath, ['scripts/build-wasm.mjs', '--check'], { encoding: 'utf8' })).toContain('matches');
  });
});

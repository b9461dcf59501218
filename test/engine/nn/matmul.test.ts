import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '../../../main/engine/backend/tfjs';
import { matMul } from '../../../main/engine/nn/matmul';
import { seeded, useCpuBackend, useWasmBackend } from '../../helpers/engine';

/**
 * matMul (nn/matmul.ts): on wasm explicit transposes and 'JigCluMatMul' with its own gradient,
 * elsewhere tf.matMul. Its product and both gradients against tf.matMul's on the same engine
 * (a broadcast batch against tf.matMul of the batch tiled, whose gradient tfjs sums), on wasm
 * and cpu, plain, transposed and batched.
 */

interface Case {
  label: string;
  a: number[];
  b: number[];
  transposeA: boolean;
  transposeB: boolean;
}

const cases: Case[] = [
  { label: 'plain [5,7] x [7,3]', a: [5, 7], b: [7, 3], transposeA: false, transposeB: false },
  { label: 'a^T: [7,5]^T x [7,3]', a: [7, 5], b: [7, 3], transposeA: true, transposeB: false },
  { label: 'b^T: [5,7] x [3,7]^T (z z^T-like)', a: [5, 7], b: [3, 7], transposeA: false, transposeB: true },
  { label: 'both: [7,5]^T x [3,7]^T', a: [7, 5], b: [3, 7], transposeA: true, transposeB: true },
  { label: 'batched [2,5,7] x [2,7,3]', a: [2, 5, 7], b: [2, 7, 3], transposeA: false, transposeB: false },
  { label: 'batched, b^T: [2,5,7] x [2,3,7]^T', a: [2, 5, 7], b: [2, 3, 7], transposeA: false, transposeB: true },
  { label: "a's batch of 1 broadcast: [1,4,6] x [3,6,2] (decouple's shape)", a: [1, 4, 6], b: [3, 6, 2], transposeA: false, transposeB: false },
  { label: "b's batch of 1 broadcast, a^T: [3,6,4]^T x [1,6,2]", a: [3, 6, 4], b: [1, 6, 2], transposeA: true, transposeB: false },
];

type Product = (a: tf.Tensor, b: tf.Tensor, transposeA?: boolean, transposeB?: boolean) => tf.Tensor;

function maxRelativeDiff(actual: tf.Tensor, expected: tf.Tensor): number {
  expect(actual.shape).toEqual(expected.shape);
  const [x, y] = [actual.dataSync(), expected.dataSync()];
  let scale = 1e-30;
  for (const v of y) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  for (let i = 0; i < x.length; i += 1) worst = Math.max(worst, Math.abs(x[i]! - y[i]!));
  return worst / scale;
}

/** The reference: tf.matMul, with a broadcast batch of 1 tiled explicitly (tfjs's gradient does not sum it). */
function reference(a: tf.Tensor, b: tf.Tensor, transposeA = false, transposeB = false): tf.Tensor {
  if (a.rank === 3 && a.shape[0] !== b.shape[0]) {
    const batch = Math.max(a.shape[0]!, b.shape[0]!);
    return tf.matMul(a.shape[0] === 1 ? tf.tile(a, [batch, 1, 1]) : a, b.shape[0] === 1 ? tf.tile(b, [batch, 1, 1]) : b, transposeA, transposeB);
  }
  return tf.matMul(a, b, transposeA, transposeB);
}

for (const backend of ['wasm', 'cpu'] as const) {
  describe(`matMul on the ${backend} backend`, () => {
    beforeAll(backend === 'wasm' ? useWasmBackend : useCpuBackend);
    afterAll(useCpuBackend);

    for (const c of cases) {
      it(`${c.label}: equals tf.matMul's product and gradients to 1e-6`, () => {
        const random = seeded(c.a.length * 10 + c.b.length + (c.transposeA ? 2 : 0) + (c.transposeB ? 1 : 0));
        const values = (shape: number[]) => tf.tensor(Array.from({ length: shape.reduce((x, y) => x * y, 1) }, () => random() * 2 - 1), shape);
        const before = tf.memory().numTensors;
        tf.tidy(() => {
          const [a, b] = [values(c.a), values(c.b)];
          const product = reference(a, b, c.transposeA, c.transposeB);
          // A weighted sum, so every element of the product's gradient differs.
          const weights = values(product.shape);
          const loss = (f: Product) => (x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(f(x, y, c.transposeA, c.transposeB), weights));
          expect(maxRelativeDiff(matMul(a, b, c.transposeA, c.transposeB), product), 'product').toBeLessThan(1e-6);
          // tf.matMul's own gradient (cpu's matMul) cannot sum over a broadcast batch (tfjs throws
          // a shape error): there only the other input's gradient, as decouple needs (its kernel is a constant).
          const broadcast = c.a.length === 3 && c.a[0] !== c.b[0];
          const wrt = backend === 'cpu' && broadcast ? [c.a[0] === 1 ? 'b' : 'a'] : ['a', 'b'];
          for (const input of wrt) {
            const gradient = (f: Product) => tf.grad((x: tf.Tensor) => (input === 'a' ? loss(f)(x, b) : loss(f)(a, x)));
            const x = input === 'a' ? a : b;
            expect(maxRelativeDiff(gradient(matMul)(x), gradient(reference)(x)), `gradient of ${input}`).toBeLessThan(1e-6);
          }
        });
        expect(tf.memory().numTensors, 'tensors left behind').toBe(before);
      });
    }

    if (backend === 'wasm') {
      it('runs as JigCluMatMul with no transposed BatchMatMul, forward and backward', async () => {
        const [a, b] = [tf.ones([6, 4]), tf.ones([5, 4])];
        const profile = await tf.profile(() => tf.tidy(() => tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(matMul(x, y, false, true)))([a, b])));
        tf.dispose([a, b]);
        const names = profile.kernels.map((k) => k.name);
        expect(names.filter((name) => name === 'JigCluMatMul')).toHaveLength(1);
        // The gradient's two products: plain BatchMatMuls of explicitly transposed inputs.
        expect(names.filter((name) => name === 'BatchMatMul')).toHaveLength(2);
        expect(names).toContain('Transpose');
      });

      it('names the shapes when they do not fit', () => {
        const [a, b] = [tf.ones([2, 3]), tf.ones([4, 2])];
        expect(() => matMul(a, b)).toThrow('matMul: the inner sizes differ (3 and 4) for shapes [2,3] and [4,2] (transposeA false, transposeB false)');
        expect(() => matMul(a, tf.ones([1, 3, 2]) as tf.Tensor)).toThrow('matMul: a and b must both be rank 2 or both rank 3, got shapes [2,3] and [1,3,2]');
        tf.dispose([a, b]);
      });
    }
  });
}

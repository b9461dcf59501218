import * as tf from '../../main/engine/backend/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, bench, describe } from 'vitest';
import { wasmDirectory } from '../../main/engine/backend/backend';
import { matMul } from '../../main/engine/nn/matmul';

/**
 * Forward + backward of the products of a cpu-small step's heads and cluster loss on wasm
 * (batch 32: 128 patches, 128 features): tf.matMul, whose gradient multiplies transposed, against
 * nn/matmul.ts (explicit transposes, plain products). vitest prints ops/s and the ratio.
 *
 * Run: npx vitest bench --run test/bench/matmul.bench.ts
 */
setWasmPaths(wasmDirectory());

const tensors: tf.Tensor2D[] = [];

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
  const random = (shape: [number, number]) => tf.randomUniform(shape, -1, 1, 'float32', 1) as tf.Tensor2D;
  tensors.push(random([128, 128]), random([128, 128]), random([128, 128]), random([128, 4]));
});
afterAll(() => tf.dispose(tensors));

type Product = (a: tf.Tensor, b: tf.Tensor, transposeA?: boolean, transposeB?: boolean) => tf.Tensor;

/** The heads (features x W1, h x W2, features x W_location) and z z^T, differentiated. */
function step(product: Product): void {
  tf.tidy(() => {
    const [features, w1, w2, location] = tensors as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
    const grads = tf.grads((x: tf.Tensor, a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => {
      const z = product(tf.relu(product(x, a)), b);
      return tf.add(tf.sum(product(z, z, false, true)), tf.sum(product(x, c)));
    })([features, w1, w2, location]);
    for (const grad of grads) grad.dataSync();
  });
}

describe('wasm: heads and cluster-loss products, forward + backward (cpu-small, batch 32)', () => {
  bench("tf.matMul (tfjs's transposed-product gradient, baseline)", () => step(tf.matMul), { time: 1500 });
  bench('nn/matmul.ts matMul (explicit transposes)', () => step(matMul), { time: 1500 });
});

/**
 * Matrix products with a fast gradient on wasm.
 *
 * wasm's BatchMatMul with transposeA or transposeB is ~8-10x slower than transposing explicitly
 * first and multiplying plainly (a profile of a cpu-small step: [128,128] x [128,128] ~2-4 ms
 * transposed, ~0.25-0.5 ms plain), and tfjs's MatMul gradient always multiplies transposed
 * (da = dy b^T, db = a^T dy). On wasm, matMul therefore transposes explicitly (tf.transpose, whose
 * gradient is a transpose) and runs 'JigCluMatMul', an alias of the backend's BatchMatMul with no
 * transposes, whose registered gradient transposes explicitly too; each gradient stays lazy, as
 * for tfjs's own kernel. On other engines it is tf.matMul.
 */
import * as tf from '../backend/tfjs';
import { registerDelegatingKernel } from './conv';

const FAST_MATMUL = 'JigCluMatMul';

/**
 * a [..., m, k] x b [..., k, n] (either transposed first when asked), as tf.matMul: rank 2, or
 * rank 3 with equal batches or a batch of 1 broadcast over the other's.
 */
export function matMul<T extends tf.Tensor>(a: T, b: T, transposeA = false, transposeB = false): T {
  if (tf.getBackend() !== 'wasm') return tf.matMul(a, b, transposeA, transposeB) as T;
  if (a.rank !== b.rank || a.rank < 2 || a.rank > 3) {
    throw new Error(`matMul: a and b must both be rank 2 or both rank 3, got shapes [${a.shape.join(',')}] and [${b.shape.join(',')}]`);
  }
  const left = transposeA ? swapLastAxes(a) : a;
  const right = transposeB ? swapLastAxes(b) : b;
  const inner = [left.shape[left.rank - 1], right.shape[right.rank - 2]];
  if (inner[0] !== inner[1]) {
    throw new Error(`matMul: the inner sizes differ (${inner[0]} and ${inner[1]}) for shapes [${a.shape.join(',')}] and [${b.shape.join(',')}] (transposeA ${transposeA}, transposeB ${transposeB})`);
  }
  registerDelegatingKernel(FAST_MATMUL, 'BatchMatMul', 'wasm', ['a', 'b'], fastMatMulGrad);
  const attrs = { transposeA: false, transposeB: false };
  return tf.engine().runKernel(FAST_MATMUL, { a: left, b: right }, attrs as unknown as tf.NamedAttrMap) as T;
}

/** t with its last two axes swapped (a matrix, or each matrix of a batch, transposed). */
function swapLastAxes<T extends tf.Tensor>(t: T): T {
  const perm = t.shape.map((_, i) => i);
  perm[t.rank - 2] = t.rank - 1;
  perm[t.rank - 1] = t.rank - 2;
  return tf.transpose(t, perm);
}

/** da = dy b^T, db = a^T dy as plain products of explicit transposes, summed over a broadcast batch. */
function fastMatMulGrad(dyIn: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]): ReturnType<tf.GradFunc> {
  const dy = dyIn as tf.Tensor;
  const [a, b] = saved as [tf.Tensor, tf.Tensor];
  return {
    a: () => sumToShape(tf.matMul(dy, swapLastAxes(b)), a.shape),
    b: () => sumToShape(tf.matMul(swapLastAxes(a), dy), b.shape),
  };
}

/** x summed over the batch axes that were broadcast from `shape` (a batch of 1), as `shape`. */
function sumToShape(x: tf.Tensor, shape: number[]): tf.Tensor {
  const axes = tf.backend_util.getReductionAxes(shape, x.shape);
  return axes.length > 0 ? tf.reshape(tf.sum(x, axes), shape) : x;
}

/**
 * Other ops of a ResNet step with a faster gradient than tfjs's on wasm/cpu.
 *
 * Every other op a ResNet training step needs has its backward kernels on the wasm backend
 * (relu, add, mean, tf.moments, matMul, softmax/logSumExp, maxPool; a whole small ResNet step is
 * differentiated on wasm in test/engine/nn/conv.test.ts). MaxPoolGrad, though, is slow: on wasm
 * ~20 ms for the stem's pool at batch 32 (the forward: ~1 ms), on cpu ~0.35 s; and wasm's breaks
 * ties (the zeros ReLU leaves) differently from cpu's and PyTorch's. maxPool(..., 'fast') keeps
 * the forward (the backend's MaxPool kernel) and computes the gradient with a direct loop,
 * routed like tfjs's cpu kernel and PyTorch (to the first maximum of each window, row by row).
 */
import * as tf from '../backend/tfjs';
import { defaultConvGradMode, registerDelegatingKernel, type ConvGradMode, type ConvPadding } from './conv';

const FAST_MAX_POOL = 'JigCluMaxPool';

/**
 * Max pooling, NHWC, square window and stride; numeric padding is symmetric and never wins
 * the max, as in PyTorch (ceil_mode false). 'fast' (the default on wasm/cpu) routes the
 * gradient like tfjs's cpu kernel (to the first maximum of each window, row by row).
 */
export function maxPool(
  x: tf.Tensor4D,
  size: number,
  stride: number,
  padding: ConvPadding,
  mode: ConvGradMode = defaultConvGradMode(tf.getBackend()),
): tf.Tensor4D {
  if (x.rank !== 4) throw new Error(`maxPool: x must be rank 4 (NHWC), got shape [${x.shape.join(',')}]`);
  for (const [label, value] of [
    ['size', size],
    ['stride', stride],
  ] as const) {
    if (!Number.isInteger(value) || value < 1)
      throw new Error(`maxPool: ${label} must be a positive integer, got ${value}`);
  }
  if (typeof padding === 'number' && (!Number.isInteger(padding) || padding < 0 || 2 * padding > size)) {
    throw new Error(
      `maxPool: padding must be a non-negative integer at most half the window, got ${padding}`,
    );
  }
  if (mode === 'native') return tf.maxPool(x, size, stride, padding);
  if (mode !== 'fast') throw new Error(`maxPool: unknown gradient mode '${String(mode)}'`);
  ensureFastMaxPoolRegistered(tf.getBackend());
  const attrs = { filterSize: [size, size], strides: [stride, stride], pad: padding };
  return tf.engine().runKernel(FAST_MAX_POOL, { x }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor4D;
}

function ensureFastMaxPoolRegistered(backendName: string): void {
  registerDelegatingKernel(FAST_MAX_POOL, 'MaxPool', backendName, ['x'], fastMaxPoolGrad);
}

function fastMaxPoolGrad(
  dyIn: tf.Tensor | tf.Tensor[],
  saved: tf.Tensor[],
  attrs: tf.NamedAttrMap,
): ReturnType<tf.GradFunc> {
  const dy = dyIn as tf.Tensor4D;
  const [x] = saved as [tf.Tensor4D];
  const [size] = attrs.filterSize as [number, number];
  const [stride] = attrs.strides as [number, number];
  const pad = attrs.pad as ConvPadding;
  return { x: () => maxPoolGrad(x, dy, size, stride, pad) };
}

/**
 * The gradient by a direct loop: each window's dy goes to its first maximum, row by row (as
 * tfjs's cpu kernel routes it); padding never wins. Whole-tensor formulations (stride phases,
 * 9 masked taps) were slower than tfjs's loop on wasm, whose transposes of small inner blocks
 * and broadcasting ops are slow; this loop reads x and dy once and writes dx once.
 */
function maxPoolGrad(x: tf.Tensor4D, dy: tf.Tensor4D, k: number, s: number, pad: ConvPadding): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const info = tf.backend_util.computePool2DInfo(x.shape, k, s, 1, pad);
  const { top, left } = info.padInfo;
  const [, oh, ow] = dy.shape;
  const xv = x.dataSync() as Float32Array;
  const dv = dy.dataSync() as Float32Array;
  const dx = new Float32Array(x.size);
  const best = new Float32Array(c);
  const bestAt = new Int32Array(c);
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      const r0 = Math.max(oy * s - top, 0);
      const r1 = Math.min(oy * s - top + k, h);
      for (let ox = 0; ox < ow; ox++) {
        const c0 = Math.max(ox * s - left, 0);
        const c1 = Math.min(ox * s - left + k, w);
        best.fill(-Infinity);
        bestAt.fill(-1);
        for (let r = r0; r < r1; r++) {
          for (let col = c0; col < c1; col++) {
            const at = ((b * h + r) * w + col) * c;
            for (let ch = 0; ch < c; ch++) {
              const v = xv[at + ch]!;
              if (v > best[ch]!) {
                best[ch] = v;
                bestAt[ch] = at + ch;
              }
            }
          }
        }
        const dOff = ((b * oh + oy) * ow + ox) * c;
        for (let ch = 0; ch < c; ch++) {
          const at = bestAt[ch]!;
          if (at >= 0) dx[at] = dx[at]! + dv[dOff + ch]!;
        }
      }
    }
  }
  return tf.tensor4d(dx, x.shape);
}

/**
 * Training-mode BatchNorm as two kernels written as loops over the tensors' memory, on the
 * engines whose tensors live in this process (wasm, cpu; backend/host-memory.ts). As tfjs ops,
 * a BatchNorm forward was ~9 dispatches (moments, rsqrt, scale, shift, multiply, add) and its
 * backward ~10, each a full pass over the activation: ~45 ms of a 228 ms cpu-small step on wasm.
 * Here the forward is three passes (sum, squared deviations, normalise) and the backward two
 * (the two channel sums, dx), with the channel sums in float64. On wasm, when the channels are a
 * multiple of 4, the passes are WebAssembly SIMD loops (batchnorm-simd.wat) over the engine's own
 * heap; elsewhere (cpu, or other channel counts) plain JavaScript loops.
 *
 *   forward:  mean, biased variance over N, H, W; invStd = 1 / sqrt(var + eps);
 *             y = x * scale + shift with scale = gamma * invStd, shift = beta - mean * scale
 *   backward: xhat = (x - mean) * invStd; dgamma = sum(dy * xhat), dbeta = sum(dy);
 *             dx = gamma * invStd / N * (N dy - dbeta - xhat * dgamma)
 */
import { floatView, hostMemoryBackends, instantiateOnHeap, newFloatOutput, wasmHeap, type WasmHeap, type WasmMemory } from '../backend/host-memory';
import * as tf from '../backend/tfjs';
import { plainMemoryModule, sharedMemoryModule } from './batchnorm-simd-module';

export const BN_FORWARD = 'JigCluBatchNormForward';
export const BN_BACKWARD = 'JigCluBatchNormBackward';

interface SimdExports {
  stats(x: number, rows: number, c: number, acc: number): void;
  apply(x: number, y: number, rows: number, c: number, scale: number, shift: number): void;
  gradSums(dy: number, x: number, mean: number, rows: number, c: number, acc: number): void;
  gradInput(dy: number, x: number, dx: number, rows: number, c: number, mean: number, a: number, b: number, k: number): void;
}

const simdInstances = new WeakMap<WasmMemory, SimdExports>();

/** The SIMD module bound to this heap's memory (instantiated once per memory). */
function simdFor(heap: WasmHeap): SimdExports {
  let instance = simdInstances.get(heap.memory);
  if (!instance) {
    const shared = typeof SharedArrayBuffer !== 'undefined' && heap.memory.buffer instanceof SharedArrayBuffer;
    const bytes = Buffer.from(shared ? sharedMemoryModule : plainMemoryModule, 'base64');
    instance = instantiateOnHeap<SimdExports>(bytes, heap);
    simdInstances.set(heap.memory, instance);
  }
  return instance;
}

/** The wasm heap when the SIMD loops apply (wasm engine, channels a multiple of 4), else undefined. */
function simdHeap(backend: object, c: number): WasmHeap | undefined {
  return c % 4 === 0 ? wasmHeap(backend) : undefined;
}

/**
 * Scratch memory on the heap for one kernel call: `f64` float64 then `f32` float32 values.
 * Returns the pointers and a release function; views must be taken after every allocation.
 */
function scratch(heap: WasmHeap, f64: number, f32: number): { at: number; f32At: number; release: () => void } {
  const at = heap.malloc(f64 * 8 + f32 * 4 + 16);
  const aligned = (at + 15) & ~15;
  return { at: aligned, f32At: aligned + f64 * 8, release: () => heap.free(at) };
}

/** Forward: x [.., c], gamma [c], beta [c] -> y, mean [c], biased variance [c], invStd [c]. */
const forwardKernel: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, gamma, beta } = inputs as { x: tf.TensorInfo; gamma: tf.TensorInfo; beta: tf.TensorInfo };
  const epsilon = (attrs as { epsilon: number }).epsilon;
  const c = x.shape[x.shape.length - 1]!;
  const outputs = [newFloatOutput(backend, x.shape), newFloatOutput(backend, [c]), newFloatOutput(backend, [c]), newFloatOutput(backend, [c])];
  const heap = simdHeap(backend, c);
  if (heap) {
    const rows = tf.util.sizeFromShape(x.shape) / c;
    const simd = simdFor(heap);
    const work = scratch(heap, 2 * c, 2 * c);
    simd.stats(heap.offset(x), rows, c, work.at);
    const sums = new Float64Array(heap.memory.buffer, work.at, 2 * c);
    const scale = new Float32Array(heap.memory.buffer, work.f32At, c);
    const shift = new Float32Array(heap.memory.buffer, work.f32At + 4 * c, c);
    const [, meanOut, varianceOut, invStdOut] = outputs.map((info) => floatView(backend, info)) as Float32Array[];
    const g = floatView(backend, gamma);
    const b = floatView(backend, beta);
    for (let k = 0; k < c; k++) {
      const mean = sums[k]! / rows;
      meanOut![k] = mean;
      varianceOut![k] = Math.max(0, sums[c + k]! / rows - mean * mean);
      invStdOut![k] = 1 / Math.sqrt(varianceOut![k]! + epsilon);
      scale[k] = g[k]! * invStdOut![k]!;
      shift[k] = b[k]! - meanOut![k]! * scale[k]!;
    }
    simd.apply(heap.offset(x), heap.offset(outputs[0]!), rows, c, work.f32At, work.f32At + 4 * c);
    work.release();
    return outputs;
  }
  const [y, meanOut, varianceOut, invStdOut] = outputs.map((info) => floatView(backend, info)) as [Float32Array, Float32Array, Float32Array, Float32Array];
  const xv = floatView(backend, x);
  const g = floatView(backend, gamma);
  const b = floatView(backend, beta);
  const size = xv.length;
  const count = size / c;
  const sum = new Float64Array(c);
  for (let i = 0; i < size; i += c) for (let k = 0; k < c; k++) sum[k]! += xv[i + k]!;
  const mean = new Float64Array(c);
  for (let k = 0; k < c; k++) mean[k] = sum[k]! / count;
  const squares = new Float64Array(c);
  for (let i = 0; i < size; i += c) {
    for (let k = 0; k < c; k++) {
      const d = xv[i + k]! - mean[k]!;
      squares[k]! += d * d;
    }
  }
  const scale = new Float32Array(c);
  const shift = new Float32Array(c);
  for (let k = 0; k < c; k++) {
    meanOut[k] = mean[k]!;
    varianceOut[k] = squares[k]! / count;
    invStdOut[k] = 1 / Math.sqrt(varianceOut[k]! + epsilon);
    scale[k] = g[k]! * invStdOut[k]!;
    shift[k] = b[k]! - meanOut[k]! * scale[k]!;
  }
  for (let i = 0; i < size; i += c) for (let k = 0; k < c; k++) y[i + k] = xv[i + k]! * scale[k]! + shift[k]!;
  return outputs;
};

/** Backward: dy, x, gamma, mean, invStd -> dx, dgamma, dbeta. */
const backwardKernel: tf.KernelFunc = ({ inputs, backend }) => {
  const { dy, x, gamma, mean, invStd } = inputs as Record<'dy' | 'x' | 'gamma' | 'mean' | 'invStd', tf.TensorInfo>;
  const c = x.shape[x.shape.length - 1]!;
  const outputs = [newFloatOutput(backend, x.shape), newFloatOutput(backend, [c]), newFloatOutput(backend, [c])];
  const heap = simdHeap(backend, c);
  if (heap) {
    const rows = tf.util.sizeFromShape(x.shape) / c;
    const simd = simdFor(heap);
    const work = scratch(heap, 2 * c, 3 * c);
    simd.gradSums(heap.offset(dy), heap.offset(x), heap.offset(mean), rows, c, work.at);
    const sums = new Float64Array(heap.memory.buffer, work.at, 2 * c);
    const [a, bias, k] = [0, 1, 2].map((i) => new Float32Array(heap.memory.buffer, work.f32At + i * 4 * c, c)) as [Float32Array, Float32Array, Float32Array];
    const [, dGammaOut, dBetaOut] = outputs.map((info) => floatView(backend, info)) as Float32Array[];
    const g = floatView(backend, gamma);
    const s = floatView(backend, invStd);
    for (let ch = 0; ch < c; ch++) {
      const sumDy = sums[ch]!;
      const sumDyXhat = sums[c + ch]! * s[ch]!;
      dGammaOut![ch] = sumDyXhat;
      dBetaOut![ch] = sumDy;
      const factor = (g[ch]! * s[ch]!) / rows;
      // dx = factor (N dy - sum(dy) - xhat sum(dy xhat)), xhat = (x - mean) invStd
      a[ch] = factor * rows;
      bias[ch] = factor * sumDy;
      k[ch] = factor * sumDyXhat * s[ch]!;
    }
    simd.gradInput(heap.offset(dy), heap.offset(x), heap.offset(outputs[0]!), rows, c, heap.offset(mean), work.f32At, work.f32At + 4 * c, work.f32At + 8 * c);
    work.release();
    return outputs;
  }
  const [dx, dGammaOut, dBetaOut] = outputs.map((info) => floatView(backend, info)) as [Float32Array, Float32Array, Float32Array];
  const dv = floatView(backend, dy);
  const xv = floatView(backend, x);
  const g = floatView(backend, gamma);
  const m = floatView(backend, mean);
  const s = floatView(backend, invStd);
  const size = xv.length;
  const count = size / c;
  const sumDy = new Float64Array(c);
  const sumDyXhat = new Float64Array(c);
  for (let i = 0; i < size; i += c) {
    for (let k = 0; k < c; k++) {
      const d = dv[i + k]!;
      sumDy[k]! += d;
      sumDyXhat[k]! += d * (xv[i + k]! - m[k]!) * s[k]!;
    }
  }
  const factor = new Float64Array(c);
  for (let k = 0; k < c; k++) {
    dGammaOut[k] = sumDyXhat[k]!;
    dBetaOut[k] = sumDy[k]!;
    factor[k] = (g[k]! * s[k]!) / count;
  }
  for (let i = 0; i < size; i += c) {
    for (let k = 0; k < c; k++) {
      const xhat = (xv[i + k]! - m[k]!) * s[k]!;
      dx[i + k] = factor[k]! * (count * dv[i + k]! - sumDy[k]! - xhat * sumDyXhat[k]!);
    }
  }
  return outputs;
};

let registered = false;

/** Registers both kernels on every host-memory engine (once). */
export function ensureFusedBatchNormRegistered(): void {
  if (registered) return;
  for (const backendName of hostMemoryBackends) {
    tf.registerKernel({ kernelName: BN_FORWARD, backendName, kernelFunc: forwardKernel });
    tf.registerKernel({ kernelName: BN_BACKWARD, backendName, kernelFunc: backwardKernel });
  }
  registered = true;
}

/**
 * Training-mode BatchNorm over all but the last axis with the two kernels above: y, and (not
 * differentiated) the batch mean and biased variance for the running statistics.
 */
export function fusedBatchNormTraining<T extends tf.Tensor>(x: T, gamma: tf.Tensor1D, beta: tf.Tensor1D, epsilon: number): { y: T; mean: tf.Tensor1D; variance: tf.Tensor1D } {
  ensureFusedBatchNormRegistered();
  let mean!: tf.Tensor1D;
  let variance!: tf.Tensor1D;
  const normalize = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [input, g, b] = args as [T, tf.Tensor1D, tf.Tensor1D];
    const save = args[3] as tf.GradSaveFunc;
    const [y, m, v, invStd] = tf.engine().runKernel(BN_FORWARD, { x: input, gamma: g, beta: b }, { epsilon } as unknown as tf.NamedAttrMap) as tf.Tensor[];
    mean = tf.keep(m as tf.Tensor1D);
    variance = tf.keep(v as tf.Tensor1D);
    save([input, g, m!, invStd!]);
    return {
      value: y as T,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [savedX, savedGamma, savedMean, savedInvStd] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
        return tf.engine().runKernel(BN_BACKWARD, { dy: dy as tf.Tensor, x: savedX, gamma: savedGamma, mean: savedMean, invStd: savedInvStd }, {}) as tf.Tensor[];
      },
    };
  });
  const y = normalize(x, gamma, beta) as T;
  return { y, mean, variance };
}

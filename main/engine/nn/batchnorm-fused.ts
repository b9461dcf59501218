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
 *
 * The ReLU after a BatchNorm, and a ResNet block's residual added before its last ReLU, are
 * part of the same kernels (out = relu(y [+ residual])): the forward writes out in its last pass,
 * the backward masks dy with out > 0 and hands that masked dy to the residual as its gradient.
 * That saves the ReLU's and the add's own passes and their gradients' (ReLU is the only
 * activation ResNet uses here).
 */
import { floatView, hostMemoryBackends, instantiateOnHeap, newFloatOutput, wasmHeap, type WasmHeap, type WasmMemory } from '../backend/host-memory';
import * as tf from '../backend/tfjs';
import { plainMemoryModule, sharedMemoryModule } from './batchnorm-simd-module';

export const BN_FORWARD = 'JigCluBatchNormForward';
export const BN_BACKWARD = 'JigCluBatchNormBackward';

interface SimdExports {
  stats(x: number, rows: number, c: number, acc: number): void;
  apply(x: number, y: number, rows: number, c: number, scale: number, shift: number, residual: number, relu: number): void;
  gradSums(dy: number, x: number, mean: number, rows: number, c: number, acc: number, y: number): void;
  gradInput(dy: number, x: number, dx: number, rows: number, c: number, mean: number, a: number, b: number, k: number, y: number, dres: number): void;
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

/** What follows the normalisation inside the kernels. */
export interface BatchNormEpilogue {
  /** Added before the ReLU (a ResNet block's shortcut), same shape as x. */
  residual?: tf.Tensor;
  /** max(0, .) at the end. */
  relu?: boolean;
}

interface ForwardAttrs {
  epsilon: number;
  relu: boolean;
}

/** Forward: x [.., c], gamma [c], beta [c] (, residual) -> out, mean [c], biased variance [c], invStd [c]. */
const forwardKernel: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, gamma, beta, residual } = inputs as { x: tf.TensorInfo; gamma: tf.TensorInfo; beta: tf.TensorInfo; residual?: tf.TensorInfo };
  const { epsilon, relu } = attrs as unknown as ForwardAttrs;
  const c = x.shape[x.shape.length - 1]!;
  const outputs = [newFloatOutput(backend, x.shape), newFloatOutput(backend, [c]), newFloatOutput(backend, [c]), newFloatOutput(backend, [c])];
  const rows = tf.util.sizeFromShape(x.shape) / c;
  const heap = simdHeap(backend, c);
  const work = heap ? scratch(heap, 2 * c, 2 * c) : undefined;
  const sums = heap && work ? new Float64Array(heap.memory.buffer, work.at, 2 * c) : new Float64Array(2 * c);
  const scale = heap && work ? new Float32Array(heap.memory.buffer, work.f32At, c) : new Float32Array(c);
  const shift = heap && work ? new Float32Array(heap.memory.buffer, work.f32At + 4 * c, c) : new Float32Array(c);
  const [out, meanOut, varianceOut, invStdOut] = outputs.map((info) => floatView(backend, info)) as [Float32Array, Float32Array, Float32Array, Float32Array];
  const xv = floatView(backend, x);
  if (heap && work) {
    simdFor(heap).stats(heap.offset(x), rows, c, work.at);
  } else {
    for (let i = 0; i < xv.length; i += c) {
      for (let k = 0; k < c; k++) {
        const v = xv[i + k]!;
        sums[k]! += v;
        sums[c + k]! += v * v;
      }
    }
  }
  const g = floatView(backend, gamma);
  const b = floatView(backend, beta);
  for (let k = 0; k < c; k++) {
    const mean = sums[k]! / rows;
    meanOut[k] = mean;
    // E[x^2] - mean^2 in float64 from float32 values: no cancellation that matters here.
    varianceOut[k] = Math.max(0, sums[c + k]! / rows - mean * mean);
    invStdOut[k] = 1 / Math.sqrt(varianceOut[k]! + epsilon);
    scale[k] = g[k]! * invStdOut[k]!;
    shift[k] = b[k]! - meanOut[k]! * scale[k]!;
  }
  if (heap && work) {
    simdFor(heap).apply(heap.offset(x), heap.offset(outputs[0]!), rows, c, work.f32At, work.f32At + 4 * c, residual ? heap.offset(residual) : 0, relu ? 1 : 0);
    work.release();
    return outputs;
  }
  const rv = residual ? floatView(backend, residual) : undefined;
  for (let i = 0; i < xv.length; i += c) {
    for (let k = 0; k < c; k++) {
      let v = Math.fround(xv[i + k]! * scale[k]!) + shift[k]!;
      if (rv) v = Math.fround(v) + rv[i + k]!;
      out[i + k] = relu && v < 0 ? 0 : v;
    }
  }
  return outputs;
};

interface BackwardAttrs {
  relu: boolean;
  residual: boolean;
}

/** Backward: dy, x, gamma, mean, invStd (, out with a ReLU) -> dx, dgamma, dbeta (, dresidual). */
const backwardKernel: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, x, gamma, mean, invStd, out } = inputs as Record<'dy' | 'x' | 'gamma' | 'mean' | 'invStd', tf.TensorInfo> & { out?: tf.TensorInfo };
  const { residual } = attrs as unknown as BackwardAttrs;
  const c = x.shape[x.shape.length - 1]!;
  const outputs = [newFloatOutput(backend, x.shape), newFloatOutput(backend, [c]), newFloatOutput(backend, [c])];
  if (residual) outputs.push(newFloatOutput(backend, x.shape));
  const rows = tf.util.sizeFromShape(x.shape) / c;
  const heap = simdHeap(backend, c);
  const work = heap ? scratch(heap, 2 * c, 3 * c) : undefined;
  const sums = heap && work ? new Float64Array(heap.memory.buffer, work.at, 2 * c) : new Float64Array(2 * c);
  const [a, bias, k] = [0, 1, 2].map((i) => (heap && work ? new Float32Array(heap.memory.buffer, work.f32At + i * 4 * c, c) : new Float32Array(c))) as [Float32Array, Float32Array, Float32Array];
  const [dx, dGammaOut, dBetaOut, dResidual] = outputs.map((info) => floatView(backend, info)) as [Float32Array, Float32Array, Float32Array, Float32Array | undefined];
  const dv = floatView(backend, dy);
  const xv = floatView(backend, x);
  const m = floatView(backend, mean);
  const ov = out ? floatView(backend, out) : undefined;
  /** dy where the ReLU let the value through (all of dy without a ReLU). */
  const masked = (i: number): number => (ov && !(ov[i]! > 0) ? 0 : dv[i]!);
  if (heap && work) {
    simdFor(heap).gradSums(heap.offset(dy), heap.offset(x), heap.offset(mean), rows, c, work.at, out ? heap.offset(out) : 0);
  } else {
    for (let i = 0; i < xv.length; i += c) {
      for (let ch = 0; ch < c; ch++) {
        const d = masked(i + ch);
        sums[ch]! += d;
        sums[c + ch]! += d * (xv[i + ch]! - m[ch]!);
      }
    }
  }
  const g = floatView(backend, gamma);
  const s = floatView(backend, invStd);
  for (let ch = 0; ch < c; ch++) {
    const sumDy = sums[ch]!;
    const sumDyXhat = sums[c + ch]! * s[ch]!;
    dGammaOut[ch] = sumDyXhat;
    dBetaOut[ch] = sumDy;
    const factor = (g[ch]! * s[ch]!) / rows;
    // dx = factor (N dy - sum(dy) - xhat sum(dy xhat)), xhat = (x - mean) invStd
    a[ch] = factor * rows;
    bias[ch] = factor * sumDy;
    k[ch] = factor * sumDyXhat * s[ch]!;
  }
  if (heap && work) {
    const at = work.f32At;
    simdFor(heap).gradInput(heap.offset(dy), heap.offset(x), heap.offset(outputs[0]!), rows, c, heap.offset(mean), at, at + 4 * c, at + 8 * c, out ? heap.offset(out) : 0, residual ? heap.offset(outputs[3]!) : 0);
    work.release();
    return outputs;
  }
  for (let i = 0; i < xv.length; i += c) {
    for (let ch = 0; ch < c; ch++) {
      const d = masked(i + ch);
      if (dResidual) dResidual[i + ch] = d;
      dx[i + ch] = Math.fround(a[ch]! * d) - bias[ch]! - Math.fround(k[ch]! * Math.fround(xv[i + ch]! - m[ch]!));
    }
  }
  return outputs;
};

// At import, as sgd-host.ts does: registering is cheap, and the kernels are then there whichever
// host-memory engine is chosen later.
for (const backendName of hostMemoryBackends) {
  tf.registerKernel({ kernelName: BN_FORWARD, backendName, kernelFunc: forwardKernel });
  tf.registerKernel({ kernelName: BN_BACKWARD, backendName, kernelFunc: backwardKernel });
}

/**
 * Training-mode BatchNorm over all but the last axis with the two kernels above, followed by
 * the epilogue (a residual, a ReLU): the output, and (not differentiated) the batch mean and
 * biased variance for the running statistics.
 */
export function fusedBatchNormTraining<T extends tf.Tensor>(x: T, gamma: tf.Tensor1D, beta: tf.Tensor1D, epsilon: number, epilogue: BatchNormEpilogue = {}): { y: T; mean: tf.Tensor1D; variance: tf.Tensor1D } {
  const relu = epilogue.relu ?? false;
  const residual = epilogue.residual;
  // The kernels trust their shapes (they index the tensors' memory directly): check them here.
  const c = x.shape[x.rank - 1];
  if (x.dtype !== 'float32') throw new Error(`batchNormTraining: x must be float32, got ${x.dtype}`);
  if (gamma.size !== c || beta.size !== c) throw new Error(`batchNormTraining: x has ${c} channels but gamma has ${gamma.size} and beta ${beta.size} values`);
  if (residual && !tf.util.arraysEqual(residual.shape, x.shape)) throw new Error(`batchNormTraining: the residual has shape [${residual.shape.join(',')}] but x has [${x.shape.join(',')}]`);
  let mean!: tf.Tensor1D;
  let variance!: tf.Tensor1D;
  const normalize = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args.at(-1) as tf.GradSaveFunc;
    const [input, g, b, shortcut] = args.slice(0, -1) as [T, tf.Tensor1D, tf.Tensor1D, tf.Tensor | undefined];
    const forwardInputs: tf.NamedTensorMap = { x: input, gamma: g, beta: b };
    if (shortcut) forwardInputs.residual = shortcut;
    const [out, m, v, invStd] = tf.engine().runKernel(BN_FORWARD, forwardInputs, { epsilon, relu } as unknown as tf.NamedAttrMap) as tf.Tensor[];
    mean = tf.keep(m as tf.Tensor1D);
    variance = tf.keep(v as tf.Tensor1D);
    save(relu ? [input, g, m!, invStd!, out!] : [input, g, m!, invStd!]);
    return {
      value: out as T,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [savedX, savedGamma, savedMean, savedInvStd, savedOut] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor | undefined];
        const backwardInputs: tf.NamedTensorMap = { dy: dy as tf.Tensor, x: savedX, gamma: savedGamma, mean: savedMean, invStd: savedInvStd };
        if (savedOut) backwardInputs.out = savedOut;
        return tf.engine().runKernel(BN_BACKWARD, backwardInputs, { relu, residual: residual !== undefined } as unknown as tf.NamedAttrMap) as tf.Tensor[];
      },
    };
  });
  const y = (residual ? normalize(x, gamma, beta, residual) : normalize(x, gamma, beta)) as T;
  return { y, mean, variance };
}

/**
 * The SGD update as ONE kernel per parameter on the engines whose tensors live in host memory
 * (wasm, cpu), instead of six element-wise ops (mul, add, mul, add, mul, sub). A profile of a
 * cpu-small step on wasm showed ~400 of its ~1,800 kernel dispatches were the optimizer over 66
 * parameters; each costs its own dispatch and a full pass over the tensor. This kernel reads
 * weight, gradient and momentum buffer once and writes the new buffer and weight once, with the
 * arithmetic of Sgd's op path (PyTorch's): d = g + wd * w; buf = mu * buf + d (buf = d on the
 * first step); w = w - lr * buf, each operation rounded to float32 in the same order as those
 * ops, so both paths give the same bits.
 */
import { floatView, hostMemoryBackends, isHostMemoryBackend, newFloatOutput } from './host-memory';
import * as tf from './tfjs';

const SGD_KERNEL = 'JigCluSgdMomentum';

/** The kernel: inputs weight, grad and (after the first step) buffer; outputs [buffer, weight]. */
function sgdMomentumKernel({ inputs, backend, attrs }: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap }): tf.TensorInfo[] {
  const { weight, grad, buffer } = inputs as { weight: tf.TensorInfo; grad: tf.TensorInfo; buffer?: tf.TensorInfo };
  const { momentum, weightDecay, lr } = attrs as { momentum: number; weightDecay: number; lr: number };
  const size = tf.util.sizeFromShape(weight.shape);
  // (The momentum buffer is made by this kernel from the weight's shape.)
  if (tf.util.sizeFromShape(grad.shape) !== size) throw new Error(`SGD: the gradient has shape [${grad.shape.join(',')}] but the weight has [${weight.shape.join(',')}]`);
  // Every output before any view: a wasm allocation may grow the heap and detach older views.
  const bufferOut = newFloatOutput(backend, weight.shape);
  const weightOut = newFloatOutput(backend, weight.shape);
  const w = floatView(backend, weight);
  const g = floatView(backend, grad);
  const b = buffer ? floatView(backend, buffer) : undefined;
  const nextBuffer = floatView(backend, bufferOut);
  const nextWeight = floatView(backend, weightOut);
  // The ops' float32 scalars, and a float32 rounding after each operation as the ops store.
  const fround = Math.fround;
  const mu = fround(momentum);
  const decay = fround(weightDecay);
  const rate = fround(lr);
  // Stryker disable next-line ConditionalExpression,BlockStatement: false, or an empty block, takes the general loop below, which gives the same bits
  if (b && decay) {
    // Every step but a parameter's first (with weight decay): the same as the loop below, with
    // its tests out of the loop (twice as fast in V8).
    // Stryker disable next-line EqualityOperator: i <= size writes one float past each output, which a cpu typed array ignores and wasm puts in heap padding no result shows
    for (let i = 0; i < size; i += 1) {
      const wi = w[i]!;
      const next = fround(fround(b[i]! * mu) + fround(g[i]! + fround(wi * decay)));
      nextBuffer[i] = next;
      nextWeight[i] = fround(wi - fround(next * rate));
    }
    return [bufferOut, weightOut];
  }
  // Stryker disable next-line EqualityOperator: as above
  for (let i = 0; i < size; i += 1) {
    const d = decay ? fround(g[i]! + fround(w[i]! * decay)) : g[i]!;
    const next = b ? fround(fround(b[i]! * mu) + d) : d;
    nextBuffer[i] = next;
    nextWeight[i] = fround(w[i]! - fround(next * rate));
  }
  return [bufferOut, weightOut];
}

// At import: registering is cheap, and the kernel is then there whichever engine is chosen later.
for (const backendName of hostMemoryBackends) {
  tf.registerKernel({ kernelName: SGD_KERNEL, backendName, kernelFunc: sgdMomentumKernel as unknown as tf.KernelFunc });
}

/** True when the current backend runs the host-memory SGD kernel (wasm, cpu). */
export function hostSgdReady(): boolean {
  return isHostMemoryBackend(tf.getBackend());
}

/**
 * One SGD step of one parameter as one kernel: returns [new buffer, new weight] (new tensors;
 * the inputs are not written). `buffer` absent: the first step (the buffer starts as d).
 */
export function hostSgdStep(weight: tf.Tensor, grad: tf.Tensor, buffer: tf.Tensor | undefined, momentum: number, weightDecay: number, lr: number): [tf.Tensor, tf.Tensor] {
  const inputs: tf.NamedTensorMap = buffer ? { weight, grad, buffer } : { weight, grad };
  const attrs = { momentum, weightDecay, lr };
  return tf.engine().runKernel(SGD_KERNEL, inputs, attrs as unknown as tf.NamedAttrMap) as unknown as [tf.Tensor, tf.Tensor];
}

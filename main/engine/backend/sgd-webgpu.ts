/**
 * The SGD update as two WebGPU kernels per parameter instead of six elementwise ops. A profile of
 * a cpu-small step on WebGPU (SwiftShader) showed ~1,700 kernel dispatches, ~400 of them the
 * optimizer's multiplies, adds and subtracts over 66 parameters; each dispatch costs its own
 * encoding and submission, whatever the tensor's size. Same arithmetic as Sgd (PyTorch's):
 * buf = momentum * buf + (g + wd * w), w = w - lr * buf.
 */
import type { WebGPUBackend, webgpu_util as WebGpuUtil } from '@tensorflow/tfjs-backend-webgpu';
import * as tf from './tfjs';

type Util = typeof WebGpuUtil;
let util: Util | undefined;

/** Loads the backend's helpers once (the package is only imported where WebGPU is used). */
export async function loadWebGpuSgd(): Promise<void> {
  util ??= (await import('@tensorflow/tfjs-backend-webgpu')).webgpu_util;
}

/** An elementwise program over same-shaped float inputs, with float uniforms. */
function elementwise(shape: number[], key: string, inputs: string[], uniforms: string[], expression: string) {
  const dispatchLayout = util!.flatDispatchLayout(shape);
  const workgroupSize: [number, number, number] = [64, 1, 1];
  return {
    variableNames: inputs,
    outputShape: shape,
    shaderKey: key,
    dispatchLayout,
    dispatch: util!.computeDispatch(dispatchLayout, shape, workgroupSize),
    workgroupSize,
    size: true,
    uniforms: uniforms.map((name) => `${name} : f32,`).join(' '),
    getUserCode: () => `
      fn main(index : i32) {
        if (index < uniforms.size) {
          ${inputs.map((name) => `let ${name.toLowerCase()} = get${name}ByOutputIndex(index);`).join('\n          ')}
          setOutputAtIndex(index, ${expression});
        }
      }`,
  };
}

function run(program: ReturnType<typeof elementwise>, inputs: tf.Tensor[], values: number[]): tf.Tensor {
  const backend = tf.backend() as unknown as WebGPUBackend;
  const info = backend.runWebGPUProgram(program as never, inputs, 'float32', values.map((value) => ({ type: 'float32', data: [value] })));
  return tf.engine().makeTensorFromTensorInfo(info);
}

/** True when the fused update can run: the webgpu backend is current and its helpers are loaded. */
export function webGpuSgdReady(): boolean {
  return util !== undefined && tf.getBackend() === 'webgpu';
}

/** The new momentum buffer: momentum * buffer + grad + weightDecay * weight (buffer absent: the first step). */
export function fusedMomentum(weight: tf.Tensor, grad: tf.Tensor, buffer: tf.Tensor | undefined, momentum: number, weightDecay: number): tf.Tensor {
  if (!buffer) return run(elementwise(weight.shape, 'jigclu_sgd_first', ['W', 'G'], ['decay'], 'g + uniforms.decay * w'), [weight, grad], [weightDecay]);
  return run(elementwise(weight.shape, 'jigclu_sgd_momentum', ['W', 'G', 'B'], ['momentum', 'decay'], 'uniforms.momentum * b + g + uniforms.decay * w'), [weight, grad, buffer], [momentum, weightDecay]);
}

/** The new weight: weight - lr * buffer. */
export function fusedStep(weight: tf.Tensor, buffer: tf.Tensor, lr: number): tf.Tensor {
  return run(elementwise(weight.shape, 'jigclu_sgd_step', ['W', 'B'], ['lr'], 'w - uniforms.lr * b'), [weight, buffer], [lr]);
}

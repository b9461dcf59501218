/**
 * Direct access to the memory of tensors on the engines whose tensors live in this process's
 * memory: wasm (the WebAssembly heap) and cpu (JavaScript typed arrays). Kernels written as
 * plain loops over that memory (nn/fused.ts: BatchNorm, the SGD update) read their inputs and
 * write their outputs in place, with no copy in or out; one such kernel replaces a chain of
 * element-wise ops, each of which costs a dispatch and a full pass over the tensor.
 */
import type * as tf from './tfjs';

/** The engines whose tensors these kernels can read and write. */
export const hostMemoryBackends = ['wasm', 'cpu'] as const;
export type HostMemoryBackend = (typeof hostMemoryBackends)[number];

/** True when `backendName`'s tensors are in host memory (and the kernels of nn/fused.ts run on it). */
export function isHostMemoryBackend(backendName: string): backendName is HostMemoryBackend {
  return (hostMemoryBackends as readonly string[]).includes(backendName);
}

interface WasmBackendLike {
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}

interface CpuBackendLike {
  data: { get(dataId: tf.DataId): { values: tf.backend_util.BackendValues } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: tf.backend_util.BackendValues): tf.TensorInfo;
}

/** The float32 values of a tensor given to a kernel, as a view (no copy): write only to outputs. */
export function floatView(backend: tf.KernelBackend, info: tf.TensorInfo): Float32Array {
  if (info.dtype !== 'float32') throw new Error(`host-memory kernels take float32 tensors, got ${info.dtype}`);
  if ('typedArrayFromHeap' in backend) return (backend as unknown as WasmBackendLike).typedArrayFromHeap(info) as Float32Array;
  const values = (backend as unknown as CpuBackendLike).data.get(info.dataId).values;
  if (!(values instanceof Float32Array)) throw new Error('this engine does not keep float32 tensors in host memory');
  return values;
}

/**
 * A new float32 output of `shape`. Allocate every output of a kernel before taking any view:
 * an allocation may grow the WebAssembly memory, which detaches the views taken before it.
 */
export function newFloatOutput(backend: tf.KernelBackend, shape: number[]): tf.TensorInfo {
  // Tell the engines apart by typedArrayFromHeap: the cpu backend has a makeOutput too, with
  // other arguments (values, shape, dtype).
  if ('typedArrayFromHeap' in backend) return (backend as unknown as WasmBackendLike).makeOutput(shape, 'float32');
  const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
  return (backend as unknown as CpuBackendLike).makeTensorInfo(shape, 'float32', values);
}

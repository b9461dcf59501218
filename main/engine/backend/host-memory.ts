/**
 * Direct access to the memory of tensors on the engines whose tensors live in this process's
 * memory: wasm (the WebAssembly heap) and cpu (JavaScript typed arrays). Kernels written as
 * plain loops over that memory (nn/fused.ts: BatchNorm, the SGD update) read their inputs and
 * write their outputs in place, with no copy in or out; one such kernel replaces a chain of
 * element-wise ops, each of which costs a dispatch and a full pass over the tensor.
 */
import * as tf from './tfjs';

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

/** The float32 values of a tensor given to a kernel, as a view (no copy; on cpu a plain array is copied): write only to outputs. */
export function floatView(backend: object, info: tf.TensorInfo): Float32Array {
  if (info.dtype !== 'float32') throw new Error(`host-memory kernels take float32 tensors, got ${info.dtype}`);
  if ('typedArrayFromHeap' in backend) return (backend as unknown as WasmBackendLike).typedArrayFromHeap(info) as Float32Array;
  const values = (backend as unknown as CpuBackendLike).data.get(info.dataId).values;
  // Not `instanceof`: a typed array made in another realm (a test runner's) is one all the same.
  if (ArrayBuffer.isView(values) && (values as Float32Array).BYTES_PER_ELEMENT === 4) return values as Float32Array;
  // The cpu engine keeps some tensors as plain arrays: read (never write) a copy.
  if (Array.isArray(values)) return Float32Array.from(values as unknown as number[]);
  throw new Error('this engine does not keep float32 tensors in host memory');
}

/**
 * A new float32 output of `shape`. Allocate every output of a kernel before taking any view:
 * an allocation may grow the WebAssembly memory, which detaches the views taken before it.
 */
export function newFloatOutput(backend: object, shape: number[]): tf.TensorInfo {
  // (The cpu engine has a makeOutput too, with other arguments: tell them apart by the heap.)
  if ('typedArrayFromHeap' in backend) return (backend as unknown as WasmBackendLike).makeOutput(shape, 'float32');
  const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
  return (backend as unknown as CpuBackendLike).makeTensorInfo(shape, 'float32', values);
}

/** A WebAssembly memory (main/ compiles without the DOM library that declares the API). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
}
declare const WebAssembly: {
  Memory: abstract new (...args: never[]) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: Record<string, Record<string, unknown>>) => { exports: Record<string, unknown> };
};

interface EmscriptenModuleLike {
  wasmMemory?: WasmMemory;
  asm?: { memory?: WasmMemory };
  _malloc(bytes: number): number;
  _free(pointer: number): void;
}

/** The wasm engine's heap: its memory, malloc/free, and where a tensor lives in it. */
export interface WasmHeap {
  memory: WasmMemory;
  malloc(bytes: number): number;
  free(pointer: number): void;
  offset(info: tf.TensorInfo): number;
}

/**
 * The heap of the wasm engine behind `backend` (the threaded build exposes its shared memory as
 * wasmMemory, the single-threaded one exports it), or undefined on any other engine.
 */
export function wasmHeap(backend: object): WasmHeap | undefined {
  const wasm = (backend as unknown as { wasm?: EmscriptenModuleLike }).wasm;
  const memory = wasm?.wasmMemory ?? wasm?.asm?.memory;
  if (!wasm || !(memory instanceof WebAssembly.Memory)) return undefined;
  const backendWithMap = backend as unknown as { dataIdMap: { get(dataId: tf.DataId): { memoryOffset: number } } };
  return {
    memory,
    malloc: (bytes) => wasm._malloc(bytes) >>> 0,
    free: (pointer) => wasm._free(pointer),
    offset: (info) => backendWithMap.dataIdMap.get(info.dataId).memoryOffset,
  };
}

/**
 * Instantiates a module whose only import is `env.memory` on the heap's memory (synchronously:
 * the modules are a few hundred bytes), so its loops read and write the engine's tensors in place.
 */
export function instantiateOnHeap<T>(bytes: Uint8Array, heap: WasmHeap): T {
  return new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory: heap.memory } }).exports as T;
}

/**
 * tfjs keeps every tensor a gradient needs by cloning it (engine.saveTensorsForBackwardMode),
 * and the wasm backend's Identity kernel clones by copying the whole tensor: ~225 copies of
 * activations per cpu-small training step. The cpu backend's Identity shares the data and counts
 * one more reference (tfjs tensors are never written in place; the wasm backend's own Reshape
 * shares data the same way). This puts that Identity on wasm; strings keep the package's kernel.
 * Call it after @tensorflow/tfjs-backend-wasm is loaded (it registers its kernels on import).
 */
export function shareWasmIdentity(): void {
  const current = tf.getKernel('Identity', 'wasm');
  if (!current || current.kernelFunc === sharingIdentity.kernelFunc) return;
  const copying = current.kernelFunc;
  const kernelFunc: tf.KernelFunc = (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    if (x.dtype === 'string') return copying(args);
    (args.backend as { incRef(dataId: tf.DataId): void }).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
  sharingIdentity = { kernelFunc };
  tf.unregisterKernel('Identity', 'wasm');
  tf.registerKernel({ kernelName: 'Identity', backendName: 'wasm', kernelFunc });
}

let sharingIdentity: { kernelFunc?: tf.KernelFunc } = {};

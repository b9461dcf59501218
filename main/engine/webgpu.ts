/**
 * The webgpu engine in a Node process: Dawn's WebGPU (the optional `webgpu` package, over
 * Vulkan, Metal or D3D12) under tfjs-backend-webgpu. Owns the one GPU device of the process,
 * asks it for the adapter's larger buffer limits, and watches it: a lost device or a GPU
 * validation error is kept and turned into a clear error at the next step boundary (tfjs
 * itself registers no handlers and would read zeros back).
 */
import type * as tfCore from '@tensorflow/tfjs-core';
import { adapterName, type EngineCandidate, type GpuAdapterReport } from '../common/engine';
import { loadWebGpuSgd } from './sgd-webgpu';

type TfCore = typeof tfCore;

/** The native API Dawn uses by default on each platform (JIGCLU_WEBGPU_BACKEND overrides it). */
const defaultApi: Record<string, string> = { linux: 'vulkan', darwin: 'metal', win32: 'd3d12' };
const apiNames: Record<string, string> = { vulkan: 'Vulkan', metal: 'Metal', d3d12: 'D3D12', d3d11: 'D3D11', opengl: 'OpenGL', opengles: 'OpenGL ES', null: 'null' };

/** The limits tfjs's kernels care about: asked for at the adapter's maximum, not WebGPU's defaults. */
const raisedLimits = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
] as const;

interface GpuState {
  device: GPUDevice;
  adapter: GpuAdapterReport;
  /** Set when the device was lost (driver reset, GPU hang, out of memory). */
  lost?: string;
  /** The first uncaptured GPU error (validation, out of memory) since the last check. */
  error?: string;
}

let state: GpuState | undefined;

/** What went wrong loading the engine, classified for the report. */
export class WebGpuUnavailable extends Error {
  constructor(
    message: string,
    readonly remedy?: string,
    readonly adapter?: GpuAdapterReport,
  ) {
    super(message);
  }
}

/** What to install when Dawn finds no adapter, per platform. */
export function noAdapterRemedy(platform: string): string {
  if (platform === 'linux') {
    return 'Install the Vulkan loader and your GPU\'s Vulkan driver (Debian/Ubuntu: `sudo apt install libvulkan1 mesa-vulkan-drivers` for AMD and Intel; the NVIDIA driver brings its own Vulkan ICD, and in a container NVIDIA_DRIVER_CAPABILITIES must include graphics).';
  }
  if (platform === 'win32') return 'Update the GPU driver (WebGPU runs on Direct3D 12).';
  if (platform === 'darwin') return 'WebGPU runs on Metal, which every supported Mac has: update macOS.';
  return 'No WebGPU build exists for this system.';
}

function firstLine(error: unknown): string {
  return String((error as Error)?.message ?? error).split('\n')[0] ?? 'unknown error';
}

/**
 * Loads Dawn, picks the adapter (high-performance) and creates the device with raised limits.
 * Throws WebGpuUnavailable with the reason and what to do. Idempotent per process.
 */
export async function openWebGpu(): Promise<{ device: GPUDevice; adapter: GpuAdapterReport }> {
  if (state && !state.lost) return state;
  const api = (process.env.JIGCLU_WEBGPU_BACKEND ?? defaultApi[process.platform] ?? 'vulkan').toLowerCase();
  let dawn: { create(options: string[]): GPU; globals: Record<string, unknown> };
  try {
    dawn = (await import(/* @vite-ignore */ 'webgpu')) as typeof dawn;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      if (/dawn\.node/.test(String((error as Error).message))) throw new WebGpuUnavailable(`The webgpu package has no Dawn build for ${process.platform} ${process.arch}.`);
      throw new WebGpuUnavailable('The webgpu package (Dawn) is not installed.', 'Run `npm install webgpu` (an optional dependency; nothing is downloaded at install).');
    }
    throw new WebGpuUnavailable(`Dawn (the webgpu package) failed to load: ${firstLine(error)}`, process.platform === 'linux' && process.arch === 'arm64' ? 'Its Linux arm64 build needs glibc 2.38 or newer.' : undefined);
  }
  // tfjs-backend-webgpu reads the GPUBufferUsage/GPUMapMode constants and navigator.gpu as globals.
  Object.assign(globalThis, dawn.globals);
  const gpu = dawn.create([`backend=${api}`]);
  const holder = globalThis as { navigator?: object };
  if (!holder.navigator) holder.navigator = {};
  Object.defineProperty(holder.navigator, 'gpu', { value: gpu, configurable: true });
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) {
    throw new WebGpuUnavailable(`No WebGPU adapter over ${apiNames[api] ?? api}: no GPU driver for it was found.`, noAdapterRemedy(process.platform));
  }
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  const report: GpuAdapterReport = {
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    device: info.device ?? '',
    description: info.description ?? '',
    api: apiNames[api] ?? api,
    // SwiftShader (Chromium's CPU Vulkan) reports itself as a fallback adapter; check the name too.
    software: info.isFallbackAdapter === true || /swiftshader|llvmpipe|lavapipe|software/i.test(`${info.vendor} ${info.architecture} ${info.device} ${info.description}`),
    limits: { maxBufferSize: adapter.limits.maxBufferSize, maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize },
  };
  const requiredLimits: Record<string, number> = {};
  for (const name of raisedLimits) requiredLimits[name] = adapter.limits[name];
  const requiredFeatures: GPUFeatureName[] = adapter.features.has('timestamp-query') ? ['timestamp-query'] : [];
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  } catch (error) {
    throw new WebGpuUnavailable(`The WebGPU adapter ${report.device || report.description} refused a device: ${firstLine(error)}`, 'Update the GPU driver.', report);
  }
  const current: GpuState = { device, adapter: report };
  state = current;
  void device.lost.then((lost) => {
    // 'destroyed' is our own release at exit, not a failure.
    if (lost.reason !== 'destroyed') current.lost = lost.message || 'unknown reason';
  });
  device.addEventListener('uncapturederror', (event) => {
    current.error ??= (event as GPUUncapturedErrorEvent).error.message;
  });
  return current;
}

/**
 * Makes tfjs's 'webgpu' backend use our device (with raised limits and error watching) instead
 * of the one the package would make from navigator.gpu with the defaults.
 */
export async function registerWebGpuBackend(tf: TfCore): Promise<GpuAdapterReport> {
  // Importing the package with navigator.gpu set registers its own factory (default limits, no
  // error watching): ours replaces it.
  const { device, adapter } = await openWebGpu();
  const { WebGPUBackend } = await import('@tensorflow/tfjs-backend-webgpu');
  const info = { vendor: adapter.vendor, architecture: adapter.architecture, device: adapter.device, description: adapter.description } as GPUAdapterInfo;
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  tf.registerBackend('webgpu', () => new WebGPUBackend(device, info), 0);
  await loadWebGpuSgd();
  return adapter;
}

/**
 * Throws a clear error when the GPU device was lost or reported an error since the last check;
 * called between training steps. The caller's checkpoint on disk is kept.
 */
export function assertWebGpuHealthy(context: string): void {
  if (!state) return;
  if (state.lost) {
    throw new Error(`The GPU device was lost ${context} (${state.lost}). The last checkpoint is kept: resume the run, with a smaller batch if the GPU ran out of memory, or on another engine (--engine wasm).`);
  }
  if (state.error) {
    const message = state.error;
    state.error = undefined;
    throw new Error(`The GPU reported an error ${context}: ${message.split('\n')[0]}. The last checkpoint is kept: lower the batch size or use another engine.`);
  }
}

/** The adapter of the open device, if any. */
export function openAdapter(): GpuAdapterReport | undefined {
  return state?.adapter;
}

/**
 * Releases the GPU device: Dawn's binding polls (a busy core) while a device is alive, and a
 * process with one open does not exit by itself. Removes tfjs's backend first.
 */
export function releaseWebGpu(tf?: TfCore): void {
  if (!state) return;
  try {
    if (tf?.findBackend('webgpu') || tf?.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  } catch {
    // The backend may be half-initialised; the device goes regardless.
  }
  state.device.destroy();
  state = undefined;
}

/** Test hook: marks the open device as lost, as Dawn does when the driver resets (undefined: not lost). */
export function simulateDeviceLoss(message: string | undefined): void {
  if (state) state.lost = message;
}

/**
 * Probes the webgpu engine: Dawn, an adapter, a device and a test op read back asynchronously
 * (tfjs's synchronous reads do not exist for WebGPU in Node). A software adapter works but is
 * only used when asked for: it is slower than the CPU engines.
 */
export async function probeWebGpu(tf: TfCore, where: { electron?: string } = { electron: process.versions.electron }): Promise<EngineCandidate> {
  if (where.electron) {
    // Inside Electron's Node (the desktop app's trainer runs as one) Dawn cannot map buffers
    // ("External buffers are not allowed": Electron's memory cage), so no result can be read.
    return {
      name: 'webgpu',
      available: false,
      reason: `WebGPU is not available inside the desktop app (Electron ${where.electron} cannot map Dawn's GPU buffers into its memory cage); the command line and the browser mode train on WebGPU.`,
      remedy: 'Train on the GPU with `npx jigclu pretrain <folder> --engine webgpu` or in browser mode (`npm run serve`), which run on Node.',
    };
  }
  let adapter: GpuAdapterReport | undefined;
  try {
    adapter = await registerWebGpuBackend(tf);
    if (!(await tf.setBackend('webgpu'))) throw new Error('the webgpu backend did not initialise');
    const sum = tf.tidy(() => tf.add(tf.fill([4096], 1), tf.fill([4096], 2)));
    const values = await sum.data();
    sum.dispose();
    if (values[0] !== 3 || values[4095] !== 3) throw new Error(`a test op gave ${values[0]}, ${values[4095]} instead of 3`);
    const described = `${adapterName(adapter)} (vendor ${adapter.vendor || '?'}, architecture ${adapter.architecture || '?'}, ${adapter.description || 'no description'}) via ${adapter.api}; buffers up to ${mib(adapter.limits.maxBufferSize)}, bindings up to ${mib(adapter.limits.maxStorageBufferBindingSize)}`;
    if (adapter.software) {
      return {
        name: 'webgpu',
        available: true,
        onlyWhenAsked: true,
        adapter,
        reason: `Only a software adapter: ${described}. It runs on the CPU and is slower than the CPU engines, so it is used only when asked for (--engine webgpu).`,
        remedy: noAdapterRemedy(process.platform),
      };
    }
    return { name: 'webgpu', available: true, adapter, reason: `WebGPU on ${described}: ran a test op.` };
  } catch (error) {
    const unavailable = error instanceof WebGpuUnavailable ? error : undefined;
    return {
      name: 'webgpu',
      available: false,
      reason: unavailable ? unavailable.message : `WebGPU failed on ${adapter ? adapterName(adapter) : 'its adapter'}: ${firstLine(error)}`,
      ...(unavailable?.remedy ? { remedy: unavailable.remedy } : {}),
      ...((unavailable?.adapter ?? adapter) ? { adapter: unavailable?.adapter ?? adapter } : {}),
    };
  }
}

function mib(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(bytes % 2 ** 30 === 0 ? 0 : 1)} GiB` : `${Math.round(bytes / 2 ** 20)} MiB`;
}

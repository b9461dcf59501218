/**
 * One WebGPU device for tfjs, wherever navigator.gpu comes from: Dawn's Node binding in the
 * trainer process (webgpu.ts), or Chromium's in the desktop app's hidden compute window
 * (main/gpu-host). Asks for the adapter's larger buffer limits and watches the device: a lost
 * device or a GPU validation error is kept and turned into a clear error at the next step
 * boundary (tfjs itself registers no handlers and would read zeros back). No Node API here: the
 * compute window's page bundles this module.
 */
import type * as tfCore from '@tensorflow/tfjs-core';
import { adapterName, type GpuAdapterReport } from '../../common/engine';
import { loadWebGpuSgd } from './sgd-webgpu';

type TfCore = typeof tfCore;

/** The native API under WebGPU by default on each platform. */
export const defaultApi: Record<string, string> = { linux: 'vulkan', darwin: 'metal', win32: 'd3d12' };
export const apiNames: Record<string, string> = { vulkan: 'Vulkan', metal: 'Metal', d3d12: 'D3D12', d3d11: 'D3D11', opengl: 'OpenGL', opengles: 'OpenGL ES', null: 'null' };

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

/** An open device with what watching it found. */
export interface WatchedDevice {
  device: GPUDevice;
  adapter: GpuAdapterReport;
  /** Set when the device was lost (driver reset, GPU hang, out of memory). */
  lost?: string;
  /** The first uncaptured GPU error (validation, out of memory) since the last check. */
  error?: string;
}

/** What went wrong opening WebGPU, with what to do about it. */
export class WebGpuUnavailable extends Error {
  constructor(
    message: string,
    readonly remedy?: string,
    readonly adapter?: GpuAdapterReport,
  ) {
    super(message);
  }
}

/** What to install when no adapter is found, per platform. */
export function noAdapterRemedy(platform: string): string {
  if (platform === 'linux') {
    return 'Install the Vulkan loader and your GPU\'s Vulkan driver (Debian/Ubuntu: `sudo apt install libvulkan1 mesa-vulkan-drivers` for AMD and Intel; the NVIDIA driver brings its own Vulkan ICD, and in a container NVIDIA_DRIVER_CAPABILITIES must include graphics).';
  }
  if (platform === 'win32') return 'Update the GPU driver (WebGPU runs on Direct3D 12).';
  if (platform === 'darwin') return 'WebGPU runs on Metal, which every supported Mac has: update macOS.';
  return 'No WebGPU build exists for this system.';
}

export function firstLine(error: unknown): string {
  return String((error as Error)?.message ?? error).split('\n')[0] ?? 'unknown error';
}

/** The adapter as the app reports it; `api` is the native API's key (vulkan, metal, d3d12). */
export function adapterReport(adapter: GPUAdapter, api: string): GpuAdapterReport {
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  return {
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    device: info.device ?? '',
    description: info.description ?? '',
    api: apiNames[api] ?? api,
    // SwiftShader (Chromium's CPU Vulkan) reports itself as a fallback adapter; check the name too.
    software: info.isFallbackAdapter === true || /swiftshader|llvmpipe|lavapipe|software/i.test(`${info.vendor} ${info.architecture} ${info.device} ${info.description}`),
    limits: { maxBufferSize: adapter.limits.maxBufferSize, maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize },
  };
}

/**
 * Picks the high-performance adapter of `gpu` (navigator.gpu) and creates the device with raised
 * limits, watched for loss and uncaptured errors. Throws WebGpuUnavailable with the reason and
 * `remedy` when there is no adapter or it refuses a device.
 */
export async function openWatchedDevice(gpu: GPU, options: { api: string; remedy: string }): Promise<WatchedDevice> {
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) {
    throw new WebGpuUnavailable(`No WebGPU adapter over ${apiNames[options.api] ?? options.api}: no GPU driver for it was found.`, options.remedy);
  }
  const report = adapterReport(adapter, options.api);
  const requiredLimits: Record<string, number> = {};
  for (const name of raisedLimits) requiredLimits[name] = adapter.limits[name];
  const requiredFeatures: GPUFeatureName[] = adapter.features.has('timestamp-query') ? ['timestamp-query'] : [];
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  } catch (error) {
    throw new WebGpuUnavailable(`The WebGPU adapter ${adapterName(report)} refused a device: ${firstLine(error)}`, 'Update the GPU driver.', report);
  }
  const watched: WatchedDevice = { device, adapter: report };
  void device.lost.then((lost) => {
    // 'destroyed' is our own release at exit, not a failure.
    if (lost.reason !== 'destroyed') watched.lost = lost.message || 'unknown reason';
  });
  device.addEventListener('uncapturederror', (event) => {
    watched.error ??= (event as GPUUncapturedErrorEvent).error.message;
  });
  return watched;
}

/**
 * What is wrong with the device since the last check, as a message that says the last
 * checkpoint is kept and what to do (undefined: healthy). Clears a reported error.
 */
export function deviceProblem(watched: WatchedDevice, context: string): string | undefined {
  if (watched.lost) {
    return `The GPU device was lost ${context} (${watched.lost}). The last checkpoint is kept: resume the run, with a smaller batch if the GPU ran out of memory, or on another engine (--engine wasm).`;
  }
  if (watched.error) {
    const message = watched.error;
    watched.error = undefined;
    return `The GPU reported an error ${context}: ${message.split('\n')[0]}. The last checkpoint is kept: lower the batch size or use another engine.`;
  }
  return undefined;
}

/**
 * Makes tfjs's 'webgpu' backend use `watched`'s device (raised limits, error watching) instead
 * of the one the package would make from navigator.gpu with the defaults, and loads our fused
 * SGD kernels.
 */
export async function registerTfjsWebGpu(tf: TfCore, watched: WatchedDevice): Promise<void> {
  const { WebGPUBackend } = await import('@tensorflow/tfjs-backend-webgpu');
  const { adapter } = watched;
  const info = { vendor: adapter.vendor, architecture: adapter.architecture, device: adapter.device, description: adapter.description } as GPUAdapterInfo;
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  tf.registerBackend('webgpu', () => new WebGPUBackend(watched.device, info), 0);
  await loadWebGpuSgd();
}

/** Switches tfjs to the registered webgpu backend and checks a test op, read back asynchronously. */
export async function checkTfjsWebGpu(tf: TfCore): Promise<void> {
  if (!(await tf.setBackend('webgpu'))) throw new Error('the webgpu backend did not initialise');
  const sum = tf.tidy(() => tf.add(tf.fill([4096], 1), tf.fill([4096], 2)));
  const values = await sum.data();
  sum.dispose();
  if (values[0] !== 3 || values[4095] !== 3) throw new Error(`a test op gave ${values[0]}, ${values[4095]} instead of 3`);
}

/** A byte count as MiB or GiB. */
export function mib(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(bytes % 2 ** 30 === 0 ? 0 : 1)} GiB` : `${Math.round(bytes / 2 ** 20)} MiB`;
}

/** One line on the adapter: its name, vendor, architecture, description, API and buffer limits. */
export function describeAdapter(adapter: GpuAdapterReport): string {
  return `${adapterName(adapter)} (vendor ${adapter.vendor || '?'}, architecture ${adapter.architecture || '?'}, ${adapter.description || 'no description'}) via ${adapter.api}; buffers up to ${mib(adapter.limits.maxBufferSize)}, bindings up to ${mib(adapter.limits.maxStorageBufferBindingSize)}`;
}

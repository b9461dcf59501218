/**
 * The webgpu engine in a Node process: Dawn's WebGPU (the optional `webgpu` package, over
 * Vulkan, Metal or D3D12) under tfjs-backend-webgpu. Owns the one GPU device of the process,
 * asks it for the adapter's larger buffer limits, and watches it: a lost device or a GPU
 * validation error is kept and turned into a clear error at the next step boundary (tfjs
 * itself registers no handlers and would read zeros back).
 */
import type * as tfCore from '@tensorflow/tfjs-core';
import { adapterName, type EngineCandidate, type GpuAdapterReport } from '../../common/engine';
import { GpuHostError, type GpuHostConnector } from '../../gpu-host/client';
import { appGpuHost } from './gpu-host-connection';
import {
  checkTfjsWebGpu,
  defaultApi,
  describeAdapter,
  deviceProblem,
  firstLine,
  noAdapterRemedy,
  openWatchedDevice,
  registerTfjsWebGpu,
  WebGpuUnavailable,
  type WatchedDevice,
} from './webgpu-device';

export { noAdapterRemedy, WebGpuUnavailable } from './webgpu-device';

type TfCore = typeof tfCore;

let state: WatchedDevice | undefined;

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
  state = await openWatchedDevice(gpu, { api, remedy: noAdapterRemedy(process.platform) });
  return state;
}

/**
 * Makes tfjs's 'webgpu' backend use our device (with raised limits and error watching) instead
 * of the one the package would make from navigator.gpu with the defaults.
 */
export async function registerWebGpuBackend(tf: TfCore): Promise<GpuAdapterReport> {
  // Importing the package with navigator.gpu set registers its own factory (default limits, no
  // error watching): ours replaces it.
  const watched = await openWebGpu();
  await registerTfjsWebGpu(tf, watched);
  return watched.adapter;
}

/**
 * Throws a clear error when the GPU device was lost or reported an error since the last check;
 * called between training steps. The caller's checkpoint on disk is kept.
 */
export function assertWebGpuHealthy(context: string): void {
  const problem = state ? deviceProblem(state, context) : undefined;
  if (problem) throw new Error(problem);
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

export type { GpuHostConnector } from '../../gpu-host/client';

/** The candidate for a working adapter: a software one only when asked for. `where` says where WebGPU runs. */
function adapterCandidate(adapter: GpuAdapterReport, where: string): EngineCandidate {
  if (adapter.software) {
    return {
      name: 'webgpu',
      available: true,
      onlyWhenAsked: true,
      adapter,
      reason: `Only a software adapter${where}: ${describeAdapter(adapter)}. It runs on the CPU and is slower than the CPU engines, so it is used only when asked for (--engine webgpu, or the engine setting).`,
      remedy: noAdapterRemedy(process.platform),
    };
  }
  return { name: 'webgpu', available: true, adapter, reason: `WebGPU${where} on ${describeAdapter(adapter)}: ran a test op.` };
}

/**
 * Probes the webgpu engine: Dawn, an adapter, a device and a test op read back asynchronously
 * (tfjs's synchronous reads do not exist for WebGPU in Node). A software adapter works but is
 * only used when asked for: it is slower than the CPU engines. Inside the desktop app (Electron),
 * where Dawn cannot map GPU buffers, WebGPU is Chromium's, in the app's compute window: `gpuHost`
 * reaches it.
 */
export async function probeWebGpu(tf: TfCore, where: { electron?: string; gpuHost?: GpuHostConnector } = { electron: process.versions.electron, gpuHost: appGpuHost() }): Promise<EngineCandidate> {
  if (where.electron) {
    if (where.gpuHost) return probeRemoteWebGpu(where.gpuHost, where.electron);
    // Inside Electron's Node Dawn cannot map buffers ("External buffers are not allowed":
    // Electron's memory cage), so no result could be read; the compute window is the way.
    return {
      name: 'webgpu',
      available: false,
      reason: `Inside the desktop app (Electron ${where.electron}) WebGPU runs in the app's compute window, which this process cannot reach: it was not started by the app.`,
      remedy: 'Start training from the app, or use `npx jigclu pretrain <folder> --engine webgpu` or browser mode (`npm run serve`), which run WebGPU on Node.',
    };
  }
  let adapter: GpuAdapterReport | undefined;
  try {
    adapter = await registerWebGpuBackend(tf);
    await checkTfjsWebGpu(tf);
    return adapterCandidate(adapter, '');
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

/**
 * Probes WebGPU in the desktop app's compute window: Chromium's adapter, a device with raised
 * limits and a test op, run there (main/gpu-host/host.ts answers `open`).
 */
export async function probeRemoteWebGpu(connect: GpuHostConnector, electron: string): Promise<EngineCandidate> {
  const where = ` in the desktop app's compute window (Chromium's WebGPU, Electron ${electron})`;
  try {
    const client = await connect();
    const { adapter } = await client.request({ type: 'open', platform: process.platform }, 60_000);
    return adapterCandidate(adapter, where);
  } catch (error) {
    const failed = error instanceof GpuHostError ? error : undefined;
    return {
      name: 'webgpu',
      available: false,
      reason: `WebGPU${where} is not usable: ${firstLine(error)}`,
      ...(failed?.remedy ? { remedy: failed.remedy } : {}),
      ...(failed?.adapter ? { adapter: failed.adapter } : {}),
    };
  }
}

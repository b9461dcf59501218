import type { GpuGuidance } from './gpu-guidance';

/**
 * The TensorFlow.js engines the app can train on, best first. The app uses the best one that
 * loads and runs a tiny op on this machine, unless a setting forces another. `webgpu` (Dawn's
 * WebGPU in the trainer process, over Vulkan, Metal or D3D12) is used automatically only with
 * a hardware adapter; a software adapter (SwiftShader) is used only when asked for.
 */
export const engineNames = ['tfjs-node-gpu', 'webgpu', 'tfjs-node', 'wasm', 'cpu'] as const;

export type EngineName = (typeof engineNames)[number];

/**
 * Threads of the WebAssembly engine: a count, or 'auto' for one per physical core. The
 * threaded build's pool takes at most 8; one thread is the single-threaded build.
 */
export type ThreadSetting = number | 'auto';

/** The WebGPU adapter the webgpu engine found: what it is, how it is reached, what bounds a batch. */
export interface GpuAdapterReport {
  /** As the adapter reports them (GPUAdapterInfo); any may be empty. */
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** The native API under WebGPU: Vulkan, Metal, D3D12. */
  api: string;
  /** A software (CPU) implementation such as SwiftShader: never chosen automatically. */
  software: boolean;
  /** The adapter's limits that bound a batch, in bytes. */
  limits: { maxBufferSize: number; maxStorageBufferBindingSize: number };
}

/** What probing one engine found. */
export interface EngineCandidate {
  name: EngineName;
  /** True when the engine loaded and ran a tiny op. */
  available: boolean;
  /** Why it is or is not usable, in words a person understands. */
  reason: string;
  /** What to do to make it usable, when it is not. */
  remedy?: string;
  /** For tfjs-node-gpu: why the GPU is (not) used, classified from the load error, and what to install. */
  guidance?: GpuGuidance;
  /** For webgpu: the adapter found (also when it is a software one, or its device failed). */
  adapter?: GpuAdapterReport;
  /** True when the engine works but is not picked automatically (webgpu on a software adapter). */
  onlyWhenAsked?: boolean;
}

/** The engine in use and why the better ones are not. */
export interface EngineReport {
  /** The engine the app will use. */
  chosen: EngineName;
  /** 'auto', or the engine a setting or flag asked for. */
  requested: EngineName | 'auto';
  /** Set when the requested engine could not be used and another was chosen instead. */
  fallbackReason?: string;
  /** Every engine, best first, with what probing it found. */
  candidates: EngineCandidate[];
  /** How long probing took, in milliseconds. */
  probeMs: number;
  /** Why the GPU is not the one in use (absent when it is), and what to install. */
  gpu?: GpuGuidance;
  /**
   * Threads the chosen engine computes on: wasm, XNNPACK's pool (one per physical core by
   * default, at most 8); cpu, 1. Absent for the TensorFlow engines, which size their own pool.
   */
  threads?: number;
}

/** Human names for engines, for the status bar and About panel. */
export const engineLabels: Record<EngineName, string> = {
  'tfjs-node-gpu': 'TensorFlow (CUDA GPU)',
  webgpu: 'WebGPU (GPU)',
  'tfjs-node': 'TensorFlow (native CPU)',
  wasm: 'WebAssembly (CPU)',
  cpu: 'JavaScript (CPU)',
};

/** "2 threads", "1 thread", or '' when the engine sizes its own pool (the TensorFlow engines). */
export function threadsLabel(threads: number | undefined): string {
  return threads === undefined ? '' : `${threads} thread${threads === 1 ? '' : 's'}`;
}

/**
 * The adapter's name as a person reads it: of the device and description strings, the one
 * written for people (Dawn gives some as lower-case identifiers such as
 * `swiftshader-device-subzero-`), else the vendor.
 */
export function adapterName(adapter: GpuAdapterReport): string {
  const readable = (s: string): boolean => /[A-Z ]/.test(s);
  const pick = [adapter.device, adapter.description].find((s) => s && readable(s)) ?? (adapter.device || adapter.description || adapter.vendor || 'unknown adapter');
  return pick.trim();
}

/**
 * The engine in use as a person reads it: "WebGPU, NVIDIA GeForce RTX 4090 via Vulkan" for
 * webgpu (with "software adapter" where it is one), the engine's label otherwise.
 */
export function engineDisplayName(report: Pick<EngineReport, 'chosen' | 'candidates'>): string {
  if (report.chosen !== 'webgpu') return engineLabels[report.chosen];
  const adapter = report.candidates.find((c) => c.name === 'webgpu')?.adapter;
  if (!adapter) return engineLabels.webgpu;
  return `WebGPU, ${adapterName(adapter)} via ${adapter.api}${adapter.software ? ' (software adapter, no GPU)' : ''}`;
}

import type { GpuGuidance } from './gpu-guidance';

/**
 * The TensorFlow.js engines the app can train on, best first. The app uses the best one that
 * loads and runs a tiny op on this machine, unless a setting forces another.
 */
export const engineNames = ['tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'] as const;

export type EngineName = (typeof engineNames)[number];

/**
 * Threads of the WebAssembly engine: a count, or 'auto' for one per physical core. The
 * threaded build's pool takes at most 8; one thread is the single-threaded build.
 */
export type ThreadSetting = number | 'auto';

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
  /** Why the CUDA GPU engine is not the one in use (absent when it is), and what to install. */
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
  'tfjs-node': 'TensorFlow (native CPU)',
  wasm: 'WebAssembly (CPU)',
  cpu: 'JavaScript (CPU)',
};

/** "2 threads", "1 thread", or '' when the engine sizes its own pool (the TensorFlow engines). */
export function threadsLabel(threads: number | undefined): string {
  return threads === undefined ? '' : `${threads} thread${threads === 1 ? '' : 's'}`;
}

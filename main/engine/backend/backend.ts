import fs from 'node:fs';
import type * as tfCore from '@tensorflow/tfjs-core';
import {
  engineNames,
  type EngineCandidate,
  type EngineName,
  type EngineReport,
  type ThreadSetting,
} from '../../common/engine';
import { classifyGpuFailure, forcedCpuGuidance, type GpuGuidance } from '../../common/gpu-guidance';
import { resolveThreads, useWasmThreads, wasmDirectory, wasmStartFailure, wasmThreadsInUse } from './wasm-threads';
import { probeWebGpu, releaseWebGpu } from './webgpu';

export { wasmDirectory };

/** How to get each native engine working, shown when it is missing. */
const remedies: Partial<Record<EngineName, string>> = {
  'tfjs-node-gpu':
    'On Linux x64 with an NVIDIA GPU, CUDA 11.2 and cuDNN 8.1: run `npm install @tensorflow/tfjs-node-gpu` (it downloads libtensorflow with GPU support).',
  'tfjs-node':
    'Run `npm install @tensorflow/tfjs-node` (it downloads libtensorflow for your CPU; Linux, macOS x64 and Windows x64).',
};

const nativePackages = {
  'tfjs-node-gpu': '@tensorflow/tfjs-node-gpu',
  'tfjs-node': '@tensorflow/tfjs-node',
} as const;

type TfCore = typeof tfCore;

/** Runs a tiny op on the current backend and checks the answer. */
function tinyOp(tf: TfCore): void {
  const result = tf.tidy(() => tf.add(tf.tensor1d([1, 2]), tf.tensor1d([3, 4])).dataSync());
  if (result[0] !== 4 || result[1] !== 6) throw new Error(`a tiny op gave ${Array.from(result).join(',')}`);
}

function isMissingPackage(error: unknown, pkg: string): boolean {
  const e = error as NodeJS.ErrnoException;
  return (
    (e.code === 'ERR_MODULE_NOT_FOUND' || e.code === 'MODULE_NOT_FOUND') &&
    typeof e.message === 'string' &&
    e.message.includes(pkg)
  );
}

function firstLine(error: unknown): string {
  return String((error as Error)?.message ?? error).split('\n')[0] ?? 'unknown error';
}

async function probeNative(name: 'tfjs-node-gpu' | 'tfjs-node', tf: TfCore): Promise<EngineCandidate> {
  const pkg = nativePackages[name];
  try {
    // A package present in node_modules is no proof: its native binding may be missing or
    // fail to load (no CUDA, wrong cuDNN), so load it and run an op.
    await import(/* @vite-ignore */ pkg);
    await tf.setBackend('tensorflow');
    tinyOp(tf);
    return { name, available: true, reason: `${pkg} loaded and ran a test op.`, ...(name === 'tfjs-node-gpu' ? { guidance: gpuGuidance(null) } : {}) };
  } catch (error) {
    // For the GPU engine, the load error also says what is missing: CUDA, cuDNN, the driver.
    const guidance = name === 'tfjs-node-gpu' ? { guidance: gpuGuidance(error) } : {};
    const remedy = guidance.guidance?.install ?? remedies[name];
    if (isMissingPackage(error, pkg)) {
      return {
        name,
        available: false,
        reason: `${pkg} is not installed (it is an optional dependency and its install needs to download libtensorflow).`,
        remedy,
        ...guidance,
      };
    }
    return {
      name,
      available: false,
      reason: `${pkg} is installed but failed to load: ${firstLine(error)}`,
      remedy,
      ...guidance,
    };
  }
}

/** Whether an NVIDIA kernel driver is loaded (Linux); undefined elsewhere. */
function nvidiaDriverPresent(): boolean | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    return fs.existsSync('/proc/driver/nvidia/version');
  } catch {
    return undefined;
  }
}

/** Classifies the GPU engine's load error (null: it loaded) into a reason and what to install. */
function gpuGuidance(error: unknown): GpuGuidance {
  const e = error as NodeJS.ErrnoException | null;
  return classifyGpuFailure({
    error: e ? { message: String(e.message ?? e), code: typeof e.code === 'string' ? e.code : undefined } : null,
    platform: process.platform,
    arch: process.arch,
    nvidiaDriver: nvidiaDriverPresent(),
  });
}

/** Loads the wasm engine with `threads` threads (wasm-threads.ts) and runs a tiny op on it. */
async function startWasm(tf: TfCore, threads: number): Promise<void> {
  await useWasmThreads(threads);
  if (!(await tf.setBackend('wasm'))) throw new Error(wasmStartFailure() ?? 'the wasm backend did not initialise');
  tinyOp(tf);
}

async function probeWasm(tf: TfCore, threads: number): Promise<EngineCandidate> {
  const inUse = (): string => (wasmThreadsInUse() === 1 ? 'one thread' : `${wasmThreadsInUse()} threads (XNNPACK's pool)`);
  try {
    await startWasm(tf, threads);
    return { name: 'wasm', available: true, reason: `WebAssembly backend loaded and ran a test op on ${inUse()}.` };
  } catch (error) {
    if (threads === 1) return { name: 'wasm', available: false, reason: `WebAssembly backend failed: ${firstLine(error)}` };
    // The threaded build needs worker threads and shared memory: without them, one thread still works.
    try {
      await startWasm(tf, 1);
      return { name: 'wasm', available: true, reason: `WebAssembly backend on one thread: the threaded build failed (${firstLine(error)}).` };
    } catch (again) {
      return { name: 'wasm', available: false, reason: `WebAssembly backend failed: ${firstLine(again)}` };
    }
  }
}

async function probeCpu(tf: TfCore): Promise<EngineCandidate> {
  try {
    await import('@tensorflow/tfjs-backend-cpu');
    await tf.setBackend('cpu');
    tinyOp(tf);
    return { name: 'cpu', available: true, reason: 'Pure JavaScript backend: always available, slowest.' };
  } catch (error) {
    return { name: 'cpu', available: false, reason: `JavaScript backend failed: ${firstLine(error)}` };
  }
}

/**
 * Tries every engine, best first, and picks the one to use: the requested one when it works,
 * otherwise the best that works. Loads native code, so the app runs it in a child process
 * (see probe-process.ts) rather than in the UI host.
 */
export async function probeEngines(requested: EngineName | 'auto' = 'auto', options: EngineOptions = {}): Promise<EngineReport> {
  const started = performance.now();
  const tf = await import('@tensorflow/tfjs-core');
  const candidates: EngineCandidate[] = [];
  const gpu = await probeNative('tfjs-node-gpu', tf);
  candidates.push(gpu);
  candidates.push(await probeWebGpu(tf));
  // Both native packages register the same 'tensorflow' backend: load the CPU one only when
  // the GPU one did not load.
  candidates.push(
    gpu.available
      ? { name: 'tfjs-node', available: false, reason: 'Not loaded: tfjs-node-gpu is in use and provides the same backend.' }
      : await probeNative('tfjs-node', tf),
  );
  candidates.push(await probeWasm(tf, resolveThreads(options.threads)));
  candidates.push(await probeCpu(tf));
  const report = chooseEngine(candidates, requested, performance.now() - started);
  return { ...report, threads: engineThreads(report.chosen) };
}

/** How the engines are started. */
export interface EngineOptions {
  /** Threads of the wasm engine: a count, or 'auto' (one per physical core, at most 8). */
  threads?: ThreadSetting;
}

/** Threads an engine computes a step on; undefined for TensorFlow's own pool (it sizes it itself). */
function engineThreads(name: EngineName): number | undefined {
  if (name === 'wasm') return wasmThreadsInUse();
  if (name === 'cpu') return 1;
  return undefined;
}

/** Picks the engine from probe results: the requested one if it works, else the best working. */
export function chooseEngine(
  candidates: EngineCandidate[],
  requested: EngineName | 'auto',
  probeMs: number,
): EngineReport {
  // A software WebGPU adapter works but is slower than the CPU engines: only when asked for.
  const best = engineNames.find((name) => candidates.some((c) => c.name === name && c.available && !c.onlyWhenAsked)) ?? 'cpu';
  const gpuCandidate = candidates.find((c) => c.name === 'tfjs-node-gpu');
  // Why the GPU is not the engine in use: the settings force a CPU engine, or what probing it found.
  const gpuFor = (chosen: EngineName): { gpu?: GpuGuidance } => {
    if (chosen === 'tfjs-node-gpu') return {};
    if (chosen === 'webgpu') {
      const cuda = gpuCandidate?.guidance;
      const onGpu = { issue: 'webgpu' as const, reason: `Training runs on the GPU through WebGPU${cuda && cuda.issue !== 'ok' ? `; the CUDA engine is not used: ${cuda.reason}` : '.'}` };
      return { gpu: onGpu };
    }
    const webgpu = candidates.find((c) => c.name === 'webgpu');
    if (requested !== 'auto' && requested !== 'tfjs-node-gpu' && requested !== 'webgpu') {
      const forced = forcedCpuGuidance(requested);
      const probed = gpuCandidate?.guidance;
      // Forced off, and it would not work anyway: say both, with what to install.
      if (probed && probed.issue !== 'ok') return { gpu: { ...forced, reason: `${forced.reason} Without that: ${probed.reason}`, install: probed.install } };
      return { gpu: forced };
    }
    return gpuCandidate?.guidance ? { gpu: withWebGpu(gpuCandidate.guidance, webgpu) } : {};
  };
  if (requested === 'auto') return { chosen: best, requested, candidates, probeMs, ...gpuFor(best) };
  const wanted = candidates.find((c) => c.name === requested);
  if (wanted?.available) return { chosen: requested, requested, candidates, probeMs, ...gpuFor(requested) };
  return {
    ...gpuFor(best),
    chosen: best,
    requested,
    fallbackReason: `The engine setting asks for ${requested}, which is not usable here (${wanted?.reason ?? 'unknown engine'}); using ${best} instead.`,
    candidates,
    probeMs,
  };
}

/**
 * The GPU guidance when neither GPU engine is used: the CUDA engine's reason, and why WebGPU
 * found no hardware adapter, with what to install for it (it needs no CUDA).
 */
function withWebGpu(cuda: GpuGuidance, webgpu: EngineCandidate | undefined): GpuGuidance {
  if (!webgpu || cuda.issue === 'ok') return cuda;
  return {
    ...cuda,
    reason: `${cuda.reason} WebGPU (which needs no CUDA): ${webgpu.reason}`,
    install: webgpu.remedy ? `${webgpu.remedy} Or: ${cuda.install ?? ''}`.trim() : cuda.install,
  };
}

/** The tfjs backend name each engine registers. */
export const backendNames: Record<EngineName, string> = {
  'tfjs-node-gpu': 'tensorflow',
  webgpu: 'webgpu',
  'tfjs-node': 'tensorflow',
  wasm: 'wasm',
  cpu: 'cpu',
};

/**
 * The engine of this process's own tensors: the chosen one, except inside the desktop app with
 * webgpu chosen, where WebGPU is the compute window's (remote-trainer.ts) and this process keeps
 * the best CPU engine that works.
 */
export function localEngine(report: Pick<EngineReport, 'chosen' | 'candidates'>, electron = process.versions.electron): EngineName {
  if (report.chosen !== 'webgpu' || !electron) return report.chosen;
  return engineNames.find((name) => name !== 'webgpu' && report.candidates.some((c) => c.name === name && c.available && !c.onlyWhenAsked)) ?? 'cpu';
}

/**
 * Probes the engines and makes the chosen one tfjs's backend for this process (the trainer
 * process calls it once at start-up). Returns the report, with why better engines were not used.
 */
export async function selectEngine(requested: EngineName | 'auto' = 'auto', options: EngineOptions = {}): Promise<EngineReport> {
  const report = await probeEngines(requested, options);
  const tf = await import('@tensorflow/tfjs-core');
  const local = localEngine(report);
  // An idle GPU device keeps a core busy (Dawn polls) and the process alive.
  if (local !== 'webgpu') releaseWebGpu(tf);
  if (!(await tf.setBackend(backendNames[local]))) {
    throw new Error(`Could not switch tfjs to the ${local} engine after probing it.`);
  }
  await tf.ready();
  return report;
}

/**
 * Runs `work` on a CPU engine when the current one is webgpu, then switches back. For the
 * matrix jobs behind clusters and maps (k-means, PCA, UMAP, near-duplicates): they read a
 * result back every iteration, synchronously, over a few megabytes of features, which the CPU
 * engines do well and WebGPU in Node cannot do (no synchronous reads). On other engines it just
 * runs `work`.
 */
export async function onCpuEngine<T>(work: () => T | Promise<T>): Promise<T> {
  const tf = await import('@tensorflow/tfjs-core');
  const current = tf.getBackend();
  if (current !== 'webgpu') return work();
  const cpu = ['tensorflow', 'wasm', 'cpu'].find((name) => tf.findBackend(name) !== null) ?? 'cpu';
  if (cpu === 'cpu') await import('@tensorflow/tfjs-backend-cpu');
  if (!(await tf.setBackend(cpu))) throw new Error(`Could not switch to the ${cpu} engine for this job.`);
  try {
    return await work();
  } finally {
    await tf.setBackend(current);
  }
}

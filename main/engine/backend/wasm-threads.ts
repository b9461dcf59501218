/**
 * The WebAssembly engine on every core: loads @tensorflow/tfjs-backend-wasm's threaded SIMD build
 * (XNNPACK with a pthread pool) in Node, which the package itself does not do.
 *
 * Why the package cannot: its Node bundle turns multithreading off in Node
 * (WASM_HAS_MULTITHREAD_SUPPORT is false when IS_NODE), and forcing it on fails because it hands
 * Node's Worker a blob: URL for the pthread worker and for the main script; the package's own
 * wasm-out/…worker.js is a CommonJS module exporting the worker's source as a string, not a
 * script a Worker can run, so pointing the glue at it leaves every worker silent and the
 * initialisation never settles. And the C++ side (backend.cc) caps the pool at
 * emscripten_num_logical_cores() / 2, which is 1 on a 2-core machine.
 *
 * So this module drives the package's own Emscripten glue (wasm-out/…threaded-simd.js) and
 * binary without patching them: each pthread worker is a tiny ES module (a data: URL) that
 * defines the globals the glue's worker expects (require, __filename) and evaluates the
 * package's worker source; the main script the workers import is the glue file itself; and
 * `instantiateWasm` (Emscripten's documented hook) answers emscripten_num_logical_cores with
 * twice the thread count asked for, keeps only the workers the pool uses, and shortens
 * pthreadpool's spin-wait in the bytes it instantiates (see spinWaitIterations). The package's
 * BackendWasm and kernels are reused as they are, under the usual 'wasm' backend name.
 *
 * The build caps XNNPACK's pool at 8 threads (max_num_threads in backend.cc, and 8 workers
 * made up front), so more than 8 are never used. One thread uses the package's ordinary
 * single-threaded SIMD build, exactly the engine of before.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs-core';
import type * as WasmPackageModule from '@tensorflow/tfjs-backend-wasm';
import type { ThreadSetting } from '../../common/engine';
import { shareWasmIdentity } from './host-memory';

const requireHere = createRequire(import.meta.url);

/** The most threads the threaded build's XNNPACK pool takes (backend.cc's max_num_threads). */
export const maxWasmThreads = 8;

/** The folder holding the wasm backend's .wasm files (JIGCLU_WASM_DIR in the GPU bench bundle, which has no node_modules). */
export function wasmDirectory(): string {
  if (process.env.JIGCLU_WASM_DIR) return path.join(process.env.JIGCLU_WASM_DIR, path.sep);
  return path.join(packageDirectory(), 'dist') + path.sep;
}

/** The package folder (inside an Electron asar, the unpacked copy: workers read these files). */
function packageDirectory(): string {
  const dir = path.dirname(requireHere.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  const unpacked = dir.replace(`app.asar${path.sep}`, `app.asar.unpacked${path.sep}`);
  return unpacked !== dir && fs.existsSync(unpacked) ? unpacked : dir;
}

/** The files of the threaded build this loader needs; throws naming one that is missing. */
export function threadedBuildFiles(): { glue: string; worker: string; wasm: string } {
  const dir = packageDirectory();
  const files = {
    glue: path.join(dir, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.js'),
    worker: path.join(dir, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.worker.js'),
    wasm: path.join(dir, 'dist', 'tfjs-backend-wasm-threaded-simd.wasm'),
  };
  for (const file of Object.values(files)) {
    if (!fs.existsSync(file)) throw new Error(`${file} is missing: reinstall @tensorflow/tfjs-backend-wasm (npm install), or use --threads 1.`);
  }
  return files;
}

/**
 * Physical cores of this machine (hyper-threads share a core's SIMD units, so XNNPACK gains
 * little from them), never more than the CPUs this process may run on. Linux reads
 * /proc/cpuinfo, macOS asks sysctl; elsewhere, or when those say nothing, the logical count.
 */
export function physicalCores(): number {
  const usable = os.availableParallelism();
  let physical: number | undefined;
  try {
    if (process.platform === 'linux') {
      const cores = new Set<string>();
      let socket = '0';
      for (const line of fs.readFileSync('/proc/cpuinfo', 'utf8').split('\n')) {
        const [key, value] = line.split(':').map((part) => part.trim());
        if (key === 'physical id') socket = value ?? '0';
        if (key === 'core id') cores.add(`${socket}:${value}`);
      }
      if (cores.size > 0) physical = cores.size;
    } else if (process.platform === 'darwin') {
      physical = Number(execFileSync('sysctl', ['-n', 'hw.physicalcpu'], { encoding: 'utf8' }).trim()) || undefined;
    }
  } catch {
    physical = undefined;
  }
  return Math.max(1, Math.min(physical ?? usable, usable));
}

/** The thread count a setting gives on this machine: 1 to maxWasmThreads. */
export function resolveThreads(setting: ThreadSetting = 'auto'): number {
  const wanted = setting === 'auto' ? physicalCores() : setting;
  if (!Number.isInteger(wanted) || wanted < 1) throw new Error(`threads must be a whole number of at least 1 (or auto), not ${setting}.`);
  return Math.min(wanted, maxWasmThreads);
}

/**
 * The source of one pthread worker: an ES module (Node runs a data: URL worker as one) that
 * gives the package's classic-script worker the CommonJS globals it reads, then runs it. The
 * package ships that source inside a template string, so its "\n" escapes arrive as real line
 * breaks and are escaped back first (as the package's own blob path does).
 */
function workerSource(workerModule: string): string {
  const at = JSON.stringify(workerModule);
  return [
    "import { createRequire } from 'node:module';",
    `const require = createRequire(${at});`,
    `Object.assign(globalThis, { require, __filename: ${at} });`,
    `const { wasmWorkerContents } = require(${at});`,
    "(0, eval)(wasmWorkerContents.replace(/\\n/g, '\\\\n'));",
  ].join('\n');
}

/** What the threaded glue's Module looks like to this loader (the parts it touches). */
interface EmscriptenModule {
  cwrap(name: string, returnType: string | null, argTypes: string[]): (...args: number[]) => number;
  PThread: {
    unusedWorkers: { terminate(): void; onerror?: (error: Error) => void }[];
    runningWorkers: { unref(): void }[];
    terminateAllThreads(): void;
  };
  tfjs?: Record<string, unknown>;
}

type Factory = (config: Record<string, unknown>) => Promise<EmscriptenModule>;
type Imports = { env: Record<string, unknown> };
/** Opaque to this loader: the glue's instantiation callback takes them as they come. */
type WasmInstance = object;
type WasmModule = object;
/** The one WebAssembly call used here (main/ compiles without the DOM library that declares the API). */
declare const WebAssembly: { instantiate(bytes: Uint8Array, imports: Imports): Promise<{ instance: WasmInstance; module: WasmModule }> };

/**
 * How long pthreadpool's threads spin before they sleep, in loop iterations (its own default,
 * PTHREADPOOL_SPIN_WAIT_ITERATIONS, is 1,000,000: milliseconds of spinning). tfjs issues its ops
 * from JavaScript with gaps between them, so with the default the pool's workers spin through
 * nearly the whole step: one epoch of cpu-small on cifar10-dev took 46-55 CPU-seconds on 2
 * threads against 29-38 on 1, and on a busy machine 2 threads were slower than 1. At 30,000
 * (well under a millisecond) they took 35-39 CPU-seconds and were no slower than 1 thread there.
 */
export const spinWaitIterations = 30_000;

/** The spin loops in the build: the count 1,000,000 as `i32.const`, then an atomic load within a few bytes. */
const spinConstant = [0x41, 0xc0, 0x84, 0x3d];
/** pthreadpool has three: the workers' wait for a command, and two waits for the workers. */
export const spinSitesInBuild = 3;

/**
 * Rewrites pthreadpool's spin count in the threaded build's bytes, in place (the same length: a
 * 3-byte LEB128, padded). Changes nothing and returns 0 unless exactly the expected sites are
 * found (a future build with other code is left as it is); else returns how many it changed.
 */
export function patchSpinWait(bytes: Uint8Array, iterations: number = spinWaitIterations): number {
  if (!Number.isInteger(iterations) || iterations < 1 || iterations >= 2 ** 20) throw new Error(`spin iterations must be 1 to 2^20 - 1, not ${iterations}`);
  const sites: number[] = [];
  for (let i = 0; i + 24 < bytes.length; i += 1) {
    if (!spinConstant.every((byte, k) => bytes[i + k] === byte)) continue;
    for (let j = i + 4; j < i + 24; j += 1) {
      if (bytes[j] === 0xfe && bytes[j + 1] === 0x10) {
        sites.push(i);
        break;
      }
    }
  }
  if (sites.length !== spinSitesInBuild) return 0;
  for (const at of sites) {
    bytes[at + 1] = 0x80 | (iterations & 0x7f);
    bytes[at + 2] = 0x80 | ((iterations >> 7) & 0x7f);
    bytes[at + 3] = (iterations >> 14) & 0x3f;
  }
  return sites.length;
}

/** Instantiates the threaded build with `threads` (2 to 8) threads in XNNPACK's pool. */
async function instantiateThreaded(threads: number): Promise<EmscriptenModule> {
  const files = threadedBuildFiles();
  const factory = requireHere(files.glue) as Factory;
  const workerUrl = new URL(`data:text/javascript,${encodeURIComponent(workerSource(files.worker))}`);
  let fail: (error: Error) => void = () => undefined;
  const failed = new Promise<never>((_, reject) => (fail = reject));
  const config: Record<string, unknown> & { PThread?: EmscriptenModule['PThread'] } = {
    locateFile: (file: string) => (file.endsWith('.worker.js') ? workerUrl : file.endsWith('.wasm') ? files.wasm : path.join(path.dirname(files.glue), file)),
    // The script each worker evaluates for the module factory (importScripts reads a path with fs).
    mainScriptUrlOrBlob: files.glue,
    instantiateWasm(imports: Imports, receiveInstance: (instance: WasmInstance, module: WasmModule) => void) {
      // backend.cc sizes the pool as min(asked, logical cores / 2, 8): report 2 x threads.
      imports.env.emscripten_num_logical_cores = () => threads * 2;
      // The glue made 8 workers; the pool takes threads - 1 (the calling thread is one too).
      for (const idle of config.PThread!.unusedWorkers.splice(threads - 1)) idle.terminate();
      const bytes = fs.readFileSync(files.wasm);
      patchSpinWait(bytes);
      WebAssembly.instantiate(bytes, imports).then(
        (result) => {
          receiveInstance(result.instance, result.module);
          // The glue's own handler rethrows a worker's error, which would end the process: fail the start instead.
          for (const worker of config.PThread!.unusedWorkers) worker.onerror = (error) => fail(new Error(`a pthread worker failed: ${error.message}`));
        },
        (error: unknown) => fail(new Error(`the threaded WebAssembly build did not instantiate: ${String(error)}`)),
      );
      return {};
    },
    onAbort: (reason: unknown) => fail(new Error(`the threaded WebAssembly build aborted: ${String(reason)}`)),
  };
  const timer = setTimeout(() => fail(new Error(`the threaded WebAssembly build did not start within ${startTimeoutMs / 1000} s`)), startTimeoutMs);
  try {
    return await Promise.race([factory(config), failed]);
  } catch (error) {
    config.PThread?.terminateAllThreads();
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** How long the pool's workers may take to load (each compiles the glue and instantiates the module). */
const startTimeoutMs = 60_000;

type WasmPackage = typeof WasmPackageModule;

/** The package, its own backend factory (the single-threaded build) and the count installed. */
let state: { wasm: WasmPackage; packageFactory: () => tf.KernelBackend | Promise<tf.KernelBackend>; threads: number } | undefined;

async function packageState(): Promise<NonNullable<typeof state>> {
  if (!state) {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    wasm.setWasmPaths(wasmDirectory());
    shareWasmIdentity();
    const packageFactory = tf.findBackendFactory('wasm');
    if (!packageFactory) throw new Error('@tensorflow/tfjs-backend-wasm did not register its backend.');
    state = { wasm, packageFactory, threads: 1 };
  }
  return state;
}

/** The threaded backend: the package's BackendWasm over the threaded module. */
async function threadedBackend(wasm: WasmPackage, threads: number): Promise<tf.KernelBackend> {
  const module = await instantiateThreaded(threads);
  // The bridge the package's own init() adds.
  module.tfjs = {
    init: module.cwrap('init', null, []),
    initWithThreadsCount: module.cwrap('init_with_threads_count', null, ['number']),
    getThreadsCount: module.cwrap('get_threads_count', 'number', []),
    registerTensor: module.cwrap('register_tensor', null, ['number', 'number', 'number']),
    disposeData: module.cwrap('dispose_data', null, ['number']),
    dispose: module.cwrap('dispose', null, []),
  };
  wasm.setThreadsCount(threads);
  const backend = new wasm.BackendWasm(module as unknown as ConstructorParameters<WasmPackage['BackendWasm']>[0]);
  // Running workers are referenced; the pool must not keep the process alive once work is done.
  for (const worker of module.PThread.runningWorkers) worker.unref();
  return backend;
}

/**
 * Makes tfjs's 'wasm' backend use `threads` threads (1: the package's single-threaded SIMD
 * build; more are capped at maxWasmThreads). Call it before `tf.setBackend('wasm')`. A wasm
 * backend already made with another count is disposed, with its tensors; the next
 * `tf.setBackend('wasm')` makes the new one.
 */
export async function useWasmThreads(threads: number): Promise<void> {
  const current = await packageState();
  const count = Math.min(Math.max(1, Math.floor(threads)), maxWasmThreads);
  if (count === current.threads) return;
  tf.removeBackend('wasm');
  tf.registerBackend(
    'wasm',
    count === 1
      ? current.packageFactory
      : async () => {
          try {
            return await threadedBackend(current.wasm, count);
          } catch (error) {
            // tf.setBackend only answers false: keep the reason for whoever reports it.
            startFailure = (error as Error).message;
            throw error;
          }
        },
    2,
  );
  current.threads = count;
  startFailure = undefined;
}

let startFailure: string | undefined;

/** Why the threaded build last failed to start, if it did. */
export function wasmStartFailure(): string | undefined {
  return startFailure;
}

/** Threads XNNPACK's pool uses in the live wasm backend (1 for the single-threaded build). */
export function wasmThreadsInUse(): number {
  return !state || state.threads === 1 ? 1 : state.wasm.getThreadsCount();
}

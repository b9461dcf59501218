import * as tf from '../../main/engine/backend/tfjs';
import '@tensorflow/tfjs-backend-cpu';
import { wasmDirectory } from '../../main/engine/backend/backend';
import { shareWasmIdentity } from '../../main/engine/backend/host-memory';

/** Runs the engine tests on tfjs's cpu backend (the reference for numerics here). */
export async function useCpuBackend(): Promise<void> {
  await tf.setBackend('cpu');
  await tf.ready();
}

/**
 * Runs the following tests on tfjs's wasm backend: several times faster than cpu for training,
 * for tests whose assertions hold on any engine (the app's own choice on a machine without
 * tfjs-node). Imported here, not at the top: importing the wasm backend registers it, and
 * tfjs would then pick it over cpu in files that never set a backend.
 */
export async function useWasmBackend(): Promise<void> {
  const { setWasmPaths } = await import('@tensorflow/tfjs-backend-wasm');
  setWasmPaths(wasmDirectory());
  // As the app does (wasm-threads.ts): the Identity that shares data instead of copying it.
  shareWasmIdentity();
  if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend did not initialise');
  await tf.ready();
}

export { seeded } from './random';

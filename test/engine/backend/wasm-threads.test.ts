import fs from 'node:fs';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { resolvePretrainConfig } from '../../../main/common/pretrain-config';
import { makeJigsawBatch } from '../../../main/data/jigsaw';
import { toFloatImage } from '../../../main/data/augment';
import { Rng } from '../../../main/data/rng';
import { conv2d } from '../../../main/engine/nn/conv';
import { selectEngine } from '../../../main/engine/backend/backend';
import { JigCluTrainer } from '../../../main/engine/jigclu/trainer';
import * as tf from '../../../main/engine/backend/tfjs';
import { maxWasmThreads, patchSpinWait, physicalCores, resolveThreads, spinSitesInBuild, threadedBuildFiles, useWasmThreads, wasmThreadsInUse } from '../../../main/engine/backend/wasm-threads';
import { seeded, useCpuBackend } from '../../helpers/engine';

/**
 * The threaded WebAssembly engine (wasm-threads.ts): the package's threaded SIMD build really
 * starts in Node with the thread count asked for (this fails when a new tfjs-backend-wasm
 * changes the glue the loader drives), and its results equal the single-threaded build's to
 * 1e-5: conv2d, the dilated conv of our filter gradient, matMul and a whole JigClu step.
 */

async function onWasm(threads: number): Promise<void> {
  await useCpuBackend();
  await useWasmThreads(threads);
  expect(await tf.setBackend('wasm'), `wasm with ${threads} threads initialised`).toBe(true);
  await tf.ready();
}

afterAll(useCpuBackend);

function random(shape: number[], seed: number): tf.Tensor {
  const next = seeded(seed);
  return tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => next() * 2 - 1), shape);
}

/** Results of the ops under test, read back to plain arrays (the backend is replaced between runs). */
function opResults(): Float32Array[] {
  return tf.tidy(() => {
    const x = random([4, 16, 16, 24], 1);
    const w = random([3, 3, 24, 32], 2);
    const dy = random([4, 16, 16, 32], 3);
    const a = random([96, 200], 4);
    const b = random([200, 72], 5);
    const outputs = [
      tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same'),
      tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 2, 'valid'),
      // The filter gradient of our conv (conv.ts) is this dilated conv on transposed tensors.
      tf.conv2d(tf.transpose(x, [3, 1, 2, 0]) as tf.Tensor4D, tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D, 1, 'same', 'NHWC', 2),
      tf.grad((input: tf.Tensor) => conv2d(input as tf.Tensor4D, w as tf.Tensor4D, 1, 'same', 'fast').sum())(x),
      tf.matMul(a, b),
    ];
    return outputs.map((t) => t.dataSync() as Float32Array);
  });
}

const config = resolvePretrainConfig('cpu-small', { width: 0.125, batch: 8, seed: 3 });

function batch() {
  const random = seeded(9);
  const images = Array.from({ length: config.batch }, () => toFloatImage(new Uint8Array(48 * 48 * 3).map(() => Math.floor(random() * 256)), 48, 48));
  return makeJigsawBatch(images, { grid: config.grid, crop: config.crop, cross: config.cross }, new Rng(4));
}

/** Two training steps from the seeded initialisation: the losses and every parameter after. */
async function stepResults(): Promise<{ losses: number[]; weights: Float32Array[] }> {
  const trainer = new JigCluTrainer(config, 'fast');
  const losses: number[] = [];
  for (let step = 0; step < 2; step += 1) losses.push((await trainer.step(batch(), 1e9)).total);
  const weights = trainer.model.allParameters().map(([, v]) => v.dataSync() as Float32Array);
  trainer.dispose();
  return { losses, weights };
}

function maxDifference(a: Float32Array[], b: Float32Array[]): number {
  expect(a.map((x) => x.length)).toEqual(b.map((x) => x.length));
  let worst = 0;
  a.forEach((values, i) => values.forEach((value, j) => (worst = Math.max(worst, Math.abs(value - b[i]![j]!)))));
  return worst;
}

describe('threaded WebAssembly engine', () => {
  it('starts the threaded build with the thread count asked for', async () => {
    await onWasm(2);
    expect(wasmThreadsInUse()).toBe(2);
    expect(Array.from(tf.tidy(() => tf.add(tf.tensor1d([1, 2]), tf.tensor1d([3, 4])).dataSync()))).toEqual([4, 6]);
    await onWasm(1);
    expect(wasmThreadsInUse()).toBe(1);
  }, 60_000);

  it('computes conv2d, the dilated filter-gradient conv and matMul as one thread does (1e-5)', async () => {
    await onWasm(1);
    const single = opResults();
    await onWasm(2);
    const threaded = opResults();
    expect(maxDifference(single, threaded)).toBeLessThan(1e-5);
  }, 60_000);

  it('trains a JigClu step as one thread does (losses and weights to 1e-5)', async () => {
    await onWasm(1);
    const single = await stepResults();
    await onWasm(2);
    const threaded = await stepResults();
    single.losses.forEach((loss, i) => expect(Math.abs(loss - threaded.losses[i]!)).toBeLessThan(1e-5));
    expect(maxDifference(single.weights, threaded.weights)).toBeLessThan(1e-5);
  }, 120_000);

  it('keeps tensors and bytes flat over many threaded steps', async () => {
    await onWasm(2);
    const trainer = new JigCluTrainer(config, 'fast');
    const counts: { tensors: number; bytes: number }[] = [];
    for (let step = 1; step <= 8; step += 1) {
      await trainer.step(batch(), 1e9);
      if (step === 2 || step === 8) counts.push({ tensors: tf.memory().numTensors, bytes: tf.memory().numBytes });
    }
    trainer.dispose();
    expect(counts[1]).toEqual(counts[0]);
  }, 120_000);

  it('says how many threads the chosen engine uses', async () => {
    await useCpuBackend();
    const report = await selectEngine('wasm', { threads: 2 });
    expect(report.chosen).toBe('wasm');
    expect(report.threads).toBe(2);
    expect(report.candidates.find((c) => c.name === 'wasm')?.reason).toContain('2 threads');
    const single = await selectEngine('wasm', { threads: 1 });
    expect(single.threads).toBe(1);
  }, 60_000);

  it('falls back to one thread, saying why, when the threaded build cannot start', async () => {
    await useCpuBackend();
    const real = fs.existsSync;
    const spy = vi.spyOn(fs, 'existsSync').mockImplementation((file) => !String(file).includes('threaded-simd.worker') && real(file));
    try {
      const report = await selectEngine('wasm', { threads: 2 });
      expect(report).toMatchObject({ chosen: 'wasm', threads: 1 });
      expect(report.candidates.find((c) => c.name === 'wasm')?.reason).toMatch(/one thread: the threaded build failed \(.*threaded-simd\.worker\.js is missing/);
    } finally {
      spy.mockRestore();
    }
  }, 60_000);

  it("finds pthreadpool's spin loops in the installed build, and the shortened build is valid WebAssembly", () => {
    const bytes = fs.readFileSync(threadedBuildFiles().wasm);
    expect(patchSpinWait(bytes, 1234), 'spin loops found (0: a new tfjs-backend-wasm build; see spinWaitIterations)').toBe(spinSitesInBuild);
    expect(WebAssembly.validate(bytes)).toBe(true);
    // The count is now 1234 at each site, so a second pass finds nothing to change.
    expect(patchSpinWait(bytes, 1234)).toBe(0);
  });

  it('defaults to one thread per physical core, at most the build cap, and refuses nonsense', () => {
    expect(physicalCores()).toBeGreaterThanOrEqual(1);
    expect(resolveThreads('auto')).toBe(Math.min(physicalCores(), maxWasmThreads));
    expect(resolveThreads(3)).toBe(3);
    expect(resolveThreads(64)).toBe(maxWasmThreads);
    expect(() => resolveThreads(0)).toThrow(/at least 1/);
    expect(() => resolveThreads(1.5)).toThrow(/whole number/);
  });
});

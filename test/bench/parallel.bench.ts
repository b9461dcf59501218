import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { afterAll, bench, describe } from 'vitest';
import { resolvePretrainConfig } from '../../main/common/pretrain-config';
import { referenceAugmentation, toFloatImage } from '../../main/data/augment';
import { makeJigsawBatch, type JigsawBatch } from '../../main/data/jigsaw';
import { Rng } from '../../main/data/rng';
import { wasmDirectory } from '../../main/engine/backend';
import { ParallelTrainer } from '../../main/engine/parallel-trainer';
import * as tf from '../../main/engine/tfjs';
import { JigCluTrainer } from '../../main/engine/trainer';
import { builtEntry } from '../engine/built';

/**
 * Data-parallel training (issue: engine, "use both cores"): one cpu-small step at batch 32 on
 * two replica threads (whole-batch loss, per-half BatchNorm) against the single-threaded
 * JigCluTrainer, both on the wasm engine, in the same run so vitest prints the ratio.
 * Needs the built replica script (`npx electron-vite build`).
 */
setWasmPaths(wasmDirectory());

const batchSize = 32;
const config = resolvePretrainConfig('cpu-small', { batch: batchSize });

function makeBatch(): JigsawBatch {
  const rng = new Rng(1);
  const side = config.crop * 2;
  const images = Array.from({ length: batchSize }, () => toFloatImage(new Uint8Array(side * side * 3).map(() => rng.int(256)), side, side));
  return makeJigsawBatch(images, { grid: config.grid, crop: config.crop, cross: config.cross, augmentation: referenceAugmentation }, rng);
}

const batch = makeBatch();
let single: JigCluTrainer | undefined;
let parallel: ParallelTrainer | undefined;
const times: Record<string, number[]> = { single: [], parallel: [] };

async function singleTrainer(): Promise<JigCluTrainer> {
  if (!single) {
    await tf.setBackend('wasm');
    await tf.ready();
    single = new JigCluTrainer(config, 'fast');
    await single.step(batch, 1e9); // warm-up
  }
  return single;
}

async function parallelTrainer(): Promise<ParallelTrainer> {
  if (!parallel) {
    parallel = await ParallelTrainer.create(config, 'fast', { replicaScript: builtEntry('replica-thread'), backend: 'wasm' });
    await parallel.step(batch, 1e9); // warm-up
    await parallel.step(batch, 1e9);
  }
  return parallel;
}

describe(`cpu-small training step, batch ${batchSize}, wasm`, () => {
  const options = { time: 6000, iterations: 5, warmupIterations: 0 };
  bench(
    'single thread (JigCluTrainer)',
    async () => {
      const trainer = await singleTrainer();
      const started = performance.now();
      await trainer.step(batch, 1e9);
      times.single!.push(performance.now() - started);
    },
    options,
  );
  bench(
    'two replica threads (ParallelTrainer)',
    async () => {
      const trainer = await parallelTrainer();
      const started = performance.now();
      await trainer.step(batch, 1e9);
      times.parallel!.push(performance.now() - started);
    },
    options,
  );
});

afterAll(async () => {
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
  const lines = Object.entries(times).map(([name, values]) => `${name}: median step ${median(values).toFixed(0)} ms = ${((1000 * batchSize) / median(values)).toFixed(1)} images/s over ${values.length} steps`);
  console.log(`\n${lines.join('\n')}\nspeed-up of two replicas: ${(median(times.single!) / median(times.parallel!)).toFixed(2)}x`);
  single?.dispose();
  await parallel?.dispose();
});

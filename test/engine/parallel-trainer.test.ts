import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolvePretrainConfig } from '../../main/common/pretrain-config';
import { toFloatImage, type FloatImage } from '../../main/data/augment';
import { makeJigsawBatch, type JigsawBatch } from '../../main/data/jigsaw';
import { Rng } from '../../main/data/rng';
import { locationLoss, supCluLoss } from '../../main/engine/losses';
import { ParallelTrainer } from '../../main/engine/parallel-trainer';
import type { BatchNormUpdate } from '../../main/engine/resnet';
import * as tf from '../../main/engine/tfjs';
import { JigCluTrainer } from '../../main/engine/trainer';
import { builtEntry } from './built';
import { seeded, useCpuBackend } from './helpers';

beforeAll(useCpuBackend);

/** A tiny but real configuration: ResNet-18 at width 1/16, 32-px patches, batch 4 (2 per replica). */
const config = resolvePretrainConfig('cpu-small', { width: 0.0625, batch: 4, epochs: 3, seed: 11 });
/** The replicas run on the wasm engine, the one they are for; the reference here on cpu. */
const options = () => ({ replicaScript: builtEntry('replica-thread'), backend: 'wasm' as const });

function images(count: number, seed: number): FloatImage[] {
  const random = seeded(seed);
  return Array.from({ length: count }, () => {
    const bytes = new Uint8Array(48 * 48 * 3).map(() => Math.floor(random() * 256));
    return toFloatImage(bytes, 48, 48);
  });
}

const pool = images(8, 5);
const epochSteps = pool.length / config.batch;

function batchAt(epoch: number, b: number): JigsawBatch {
  const order = new Rng(1000 + epoch).permutation(pool.length);
  const chosen = Array.from(order.subarray(b * config.batch, (b + 1) * config.batch), (i) => pool[i]!);
  return makeJigsawBatch(chosen, { grid: config.grid, crop: config.crop, cross: config.cross }, new Rng(epoch * 100 + b));
}

/**
 * What the two replicas compute, on one thread: the backbone on each half with its own
 * BatchNorm statistics, one loss over the whole batch, tfjs's own gradient of it, one SGD
 * step, and running statistics from the average of the halves' batch statistics.
 */
function referenceStep(trainer: JigCluTrainer, batch: JigsawBatch, lr: number): number {
  const model = trainer.model;
  const trainable = model.trainable();
  const nameOf = new Map(trainable.map(([name, variable]) => [variable.name, name]));
  const halves: BatchNormUpdate[][] = [[], []];
  const averaged: BatchNormUpdate[] = [];
  const total = tf.tidy(() => {
    const montages = tf.tensor4d(batch.montages, [batch.n, batch.size, batch.size, 3]);
    const half = batch.n / 2;
    const clusterLabels = tf.tensor1d(batch.clusterLabels, 'int32');
    const locationLabels = tf.tensor1d(batch.locationLabels, 'int32');
    const { value, grads } = tf.variableGrads(() => {
      const parts = [0, 1].map((r) => model.patchFeatures(tf.slice(montages, [r * half, 0, 0, 0], [half, -1, -1, -1]), true, trainer.convGrad, halves[r]));
      const all = tf.concat(parts) as tf.Tensor2D;
      const cluster = supCluLoss(model.clusterEmbeddings(all), clusterLabels, config.temperature);
      const location = locationLoss(model.locationLogits(all), locationLabels);
      return tf.add(tf.mul(cluster, config.alpha), tf.mul(location, config.beta)) as tf.Scalar;
    }, trainable.map(([, variable]) => variable));
    const byName: Record<string, tf.Tensor> = {};
    for (const [variableName, grad] of Object.entries(grads)) byName[nameOf.get(variableName)!] = grad;
    trainer.optimizer.step(trainable, byName, lr);
    halves[0]!.forEach((first, i) => {
      const second = halves[1]![i]!;
      averaged.push({ prefix: first.prefix, count: first.count, mean: tf.keep(tf.mul(tf.add(first.mean, second.mean), 0.5)), variance: tf.keep(tf.mul(tf.add(first.variance, second.variance), 0.5)) });
    });
    return value.dataSync()[0]!;
  });
  for (const update of [...halves[0]!, ...halves[1]!]) {
    update.mean.dispose();
    update.variance.dispose();
  }
  model.backbone.applyBatchNormUpdates(averaged);
  return total;
}

function localWeights(trainer: JigCluTrainer): Record<string, Float32Array> {
  return Object.fromEntries(trainer.model.allParameters().map(([name, v]) => [name, (v.dataSync() as Float32Array).slice()]));
}

function maxAbs(values: Float32Array): number {
  let max = 0;
  for (const value of values) max = Math.max(max, Math.abs(value));
  return max;
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  let max = 0;
  for (let i = 0; i < a.length; i += 1) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

const cleanup: (() => unknown)[] = [];
afterAll(async () => {
  for (const dispose of cleanup) await dispose();
});

async function parallel(): Promise<ParallelTrainer> {
  const trainer = await ParallelTrainer.create(config, 'fast', options());
  cleanup.push(() => trainer.dispose());
  return trainer;
}

describe('ParallelTrainer (two replica threads, whole-batch loss)', () => {
  it('matches a single-thread reference of the same computation: loss and updated weights', async () => {
    const reference = new JigCluTrainer(config, 'fast');
    cleanup.push(() => reference.dispose());
    const trainer = await parallel();
    const initial = localWeights(reference);
    const replicaInitial = await trainer.weights(0);
    for (const [name, values] of Object.entries(initial)) expect(maxDiff(values, replicaInitial[name]!), name).toBe(0);

    for (let step = 0; step < 2; step += 1) {
      const batch = batchAt(0, step);
      const before = localWeights(reference);
      const expectedLoss = referenceStep(reference, batch, trainer.currentLr());
      const result = await trainer.step(batch, 1000);
      expect(Math.abs(result.total - expectedLoss) / Math.abs(expectedLoss)).toBeLessThan(1e-4);
      expect(result.headGradMaxDiff).toBe(0);
      const expected = localWeights(reference);
      const actual = await trainer.weights(0);
      for (const [name, values] of Object.entries(expected)) {
        const scale = Math.max(maxAbs(values), 1e-6);
        expect(maxDiff(actual[name]!, values) / scale, name).toBeLessThan(1e-4);
        // The step itself (the update, momentum included) agrees too, not only the weights.
        const update = values.map((v, i) => v - before[name]![i]!);
        const actualUpdate = actual[name]!.map((v, i) => v - before[name]![i]!);
        if (maxAbs(update) > 0) expect(maxDiff(actualUpdate, update) / maxAbs(update), `${name} update`).toBeLessThan(1e-2);
      }
    }
  }, 120_000);

  it('keeps both replicas bit-identical, momentum buffers included', async () => {
    const trainer = await parallel();
    for (let i = 0; i < 5; i += 1) {
      const result = await trainer.step(batchAt(trainer.position.epoch, trainer.position.stepInEpoch), epochSteps);
      expect(result.headGradMaxDiff).toBe(0);
    }
    const [a, b] = await Promise.all([trainer.weights(0), trainer.weights(1)]);
    expect(Object.keys(b)).toEqual(Object.keys(a));
    for (const [name, values] of Object.entries(a)) expect(maxDiff(values, b[name]!), name).toBe(0);
  }, 120_000);

  it('resumes exactly: 4 steps straight = 2 steps, serialize, deserialize, 2 steps (to 1e-5)', async () => {
    const straight = await parallel();
    for (let i = 0; i < 4; i += 1) await straight.step(batchAt(straight.position.epoch, straight.position.stepInEpoch), epochSteps);

    const first = await parallel();
    for (let i = 0; i < 2; i += 1) await first.step(batchAt(first.position.epoch, first.position.stepInEpoch), epochSteps);
    const checkpoint = await first.serialize({ kind: 'test' });
    // The same checkpoint format as the single-thread trainer.
    expect(JigCluTrainer.readMetadata(checkpoint).position).toEqual(first.position);
    const resumed = await ParallelTrainer.deserialize(checkpoint, { convGrad: 'fast' }, options());
    cleanup.push(() => resumed.dispose());
    expect(resumed.position).toEqual(first.position);
    for (let i = 0; i < 2; i += 1) await resumed.step(batchAt(resumed.position.epoch, resumed.position.stepInEpoch), epochSteps);

    expect(resumed.position).toEqual(straight.position);
    const a = await straight.weights(0);
    const b = await resumed.weights(0);
    expect(Object.keys(b)).toEqual(Object.keys(a));
    for (const [name, values] of Object.entries(a)) expect(maxDiff(values, b[name]!), name).toBeLessThan(1e-5);
    const [c, d] = await Promise.all([resumed.weights(0), resumed.weights(1)]);
    for (const [name, values] of Object.entries(c)) expect(maxDiff(values, d[name]!), name).toBe(0);
  }, 120_000);

  it('leaks no tensors in the replicas over many steps', async () => {
    const trainer = await parallel();
    const counts: number[][] = [];
    for (let step = 1; step <= 30; step += 1) {
      await trainer.step(batchAt(trainer.position.epoch, trainer.position.stepInEpoch), epochSteps);
      if (step === 5 || step === 30) counts.push(await trainer.replicaTensorCounts());
    }
    expect(counts[1]).toEqual(counts[0]);
  }, 120_000);

  it('refuses an odd batch size', async () => {
    await expect(ParallelTrainer.create({ ...config, batch: 5 }, 'fast', options())).rejects.toThrow(/even batch/);
  });
});

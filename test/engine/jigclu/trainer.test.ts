import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolvePretrainConfig, learningRateAt } from '../../../main/common/pretrain-config';
import { makeJigsawBatch } from '../../../main/data/jigsaw';
import { toFloatImage, type FloatImage } from '../../../main/data/augment';
import { Rng } from '../../../main/data/rng';
import { decodeSafetensors } from '../../../main/engine/weights/safetensors';
import { JigCluTrainer } from '../../../main/engine/jigclu/trainer';
import * as tf from '../../../main/engine/backend/tfjs';
import { seeded, useCpuBackend } from '../../helpers/engine';

beforeAll(useCpuBackend);

/** A tiny but real configuration: ResNet-18 at width 1/16, 32-px patches, batch 4. */
const config = resolvePretrainConfig('cpu-small', { width: 0.0625, batch: 4, epochs: 3, seed: 11 });

function images(count: number, seed: number): FloatImage[] {
  const random = seeded(seed);
  return Array.from({ length: count }, () => {
    const bytes = new Uint8Array(48 * 48 * 3).map(() => Math.floor(random() * 256));
    return toFloatImage(bytes, 48, 48);
  });
}

const pool = images(8, 5);

/** Batch b of epoch e, deterministic, like the real batch source. */
function batchAt(epoch: number, b: number) {
  const order = new Rng(1000 + epoch).permutation(pool.length);
  const chosen = Array.from(order.subarray(b * config.batch, (b + 1) * config.batch), (i) => pool[i]!);
  return makeJigsawBatch(chosen, { grid: config.grid, crop: config.crop, cross: config.cross }, new Rng(epoch * 100 + b));
}

const epochSteps = pool.length / config.batch;

function weights(trainer: JigCluTrainer): Map<string, Float32Array> {
  return new Map(trainer.model.allParameters().map(([name, v]) => [name, v.dataSync() as Float32Array]));
}

const trainers: JigCluTrainer[] = [];
afterAll(() => trainers.forEach((t) => t.dispose()));

describe('JigClu trainer', () => {
  it('uses the reference schedule: lr 0.03 at any batch size, cosine per epoch', () => {
    expect(learningRateAt({ lr: 0.03, epochs: 200 }, 0)).toBeCloseTo(0.03, 10);
    expect(learningRateAt({ lr: 0.03, epochs: 200 }, 100)).toBeCloseTo(0.015, 10);
    expect(learningRateAt({ lr: 0.03, epochs: 20 }, 20)).toBeCloseTo(0, 10);
    const small = new JigCluTrainer(resolvePretrainConfig('cpu-small', { width: 0.0625 }), 'fast');
    trainers.push(small);
    expect(small.config.batch).toBe(32);
    expect(small.currentLr()).toBe(0.03); // not 0.03 x 32 / 256
  });

  it('continues a checkpoint written before the reference was followed as it was: lr baseLr x batch / 256, adaptive pooling', async () => {
    const legacy = new JigCluTrainer({ ...config, lr: 0.5, decoupling: 'interpolate' }, 'fast');
    trainers.push(legacy);
    // What such a checkpoint's metadata held: baseLr, no lr and no decoupling.
    const { lr: _lr, decoupling: _decoupling, ...rest } = config;
    const checkpoint = await legacy.serialize({ config: JSON.stringify({ ...rest, baseLr: 0.08 }) });
    expect(JigCluTrainer.readMetadata(checkpoint).config).toMatchObject({ lr: (0.08 * config.batch) / 256, decoupling: 'pool' });
    const resumed = JigCluTrainer.deserialize(checkpoint, { convGrad: 'fast' });
    trainers.push(resumed);
    expect(resumed.currentLr()).toBe((0.08 * config.batch) / 256);
    expect(resumed.model.config.decoupling).toBe('pool');
    // And its checkpoints now store the explicit rate.
    expect(JSON.parse(decodeSafetensors(await resumed.serialize()).metadata.config!)).toMatchObject({ lr: (0.08 * config.batch) / 256, decoupling: 'pool' });
  });

  it('keeps tf.memory().numTensors flat over many steps', async () => {
    const trainer = new JigCluTrainer(config, 'fast');
    trainers.push(trainer);
    const counts: number[] = [];
    for (let step = 1; step <= 50; step += 1) {
      await trainer.step(batchAt(trainer.position.epoch, trainer.position.stepInEpoch), epochSteps);
      if (step === 5 || step === 50) counts.push(tf.memory().numTensors);
    }
    expect(counts[1]).toBe(counts[0]);
  }, 120_000);

  it('lowers the loss on a fixed batch', async () => {
    const trainer = new JigCluTrainer({ ...config, lr: (2 * config.batch) / 256 }, 'fast');
    trainers.push(trainer);
    const batch = batchAt(0, 0);
    const first = await trainer.step(batch, 1000);
    let last = first;
    for (let i = 0; i < 15; i += 1) last = await trainer.step(batch, 1000);
    expect(last.total).toBeLessThan(first.total);
  }, 120_000);

  it('resumes exactly: 4 steps straight = 2 steps, checkpoint, resume, 2 steps (to 1e-5)', async () => {
    const straight = new JigCluTrainer(config, 'fast');
    trainers.push(straight);
    for (let i = 0; i < 4; i += 1) await straight.step(batchAt(straight.position.epoch, straight.position.stepInEpoch), epochSteps);

    const first = new JigCluTrainer(config, 'fast');
    trainers.push(first);
    for (let i = 0; i < 2; i += 1) await first.step(batchAt(first.position.epoch, first.position.stepInEpoch), epochSteps);
    const checkpoint = await first.serialize();
    const resumed = JigCluTrainer.deserialize(checkpoint, { convGrad: 'fast' });
    trainers.push(resumed);
    expect(resumed.position).toEqual(first.position);
    for (let i = 0; i < 2; i += 1) await resumed.step(batchAt(resumed.position.epoch, resumed.position.stepInEpoch), epochSteps);

    expect(resumed.position).toEqual(straight.position);
    const a = weights(straight);
    const b = weights(resumed);
    expect([...b.keys()]).toEqual([...a.keys()]);
    for (const [name, values] of a) {
      const other = b.get(name)!;
      let maxDiff = 0;
      for (let i = 0; i < values.length; i += 1) maxDiff = Math.max(maxDiff, Math.abs(values[i]! - other[i]!));
      expect(maxDiff, name).toBeLessThan(1e-5);
    }
    // The momentum buffers came back too: a trainer that lost them would drift.
    expect(resumed.optimizer.buffers.size).toBe(straight.optimizer.buffers.size);
  }, 120_000);

  it('names parameters like torchvision and counts ResNet-18 weights right at width 1', () => {
    const full = new JigCluTrainer(resolvePretrainConfig('resnet18'), 'native');
    trainers.push(full);
    const names = full.model.backbone.params.trainable().map(([name]) => name);
    expect(names).toContain('conv1.weight');
    expect(names).toContain('layer4.1.bn2.bias');
    expect(names).toContain('layer2.0.downsample.0.weight');
    // torchvision resnet18 without fc: 11,176,512 parameters.
    expect(full.model.backbone.params.count()).toBe(11_176_512);
    expect(full.model.backbone.outChannels).toBe(512);
  });
});

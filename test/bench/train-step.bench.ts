import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { afterAll, bench, describe } from 'vitest';
import { resolvePretrainConfig, type PresetName } from '../../main/common/pretrain-config';
import { referenceAugmentation, toFloatImage } from '../../main/data/augment';
import { makeJigsawBatch, type JigsawBatch } from '../../main/data/jigsaw';
import { Rng } from '../../main/data/rng';
import { wasmDirectory } from '../../main/engine/backend/backend';
import type { ConvGradMode } from '../../main/engine/nn/conv';
import * as tf from '../../main/engine/backend/tfjs';
import { JigCluTrainer } from '../../main/engine/jigclu/trainer';
import { Sgd } from '../../main/engine/nn/sgd';

/**
 * Training-step speed (issue: engine). For each preset on the wasm engine (the best one here):
 * images/s of a full step with our conv gradient; for cpu-small also tfjs's own gradient on the
 * cpu backend (the wasm backend has no native Conv2DBackpropFilter) and ours on cpu, measured
 * in the same run so vitest prints the ratios; then the share of each phase of a step. The paper and resnet18
 * presets run at batch 8 here (a CPU cannot hold their full batches in reasonable time).
 */
setWasmPaths(wasmDirectory());

const presetsUnderTest: [PresetName, number][] = [
  ['cpu-small', 32],
  ['resnet18', 8],
  ['paper', 8],
];

function sourceImages(count: number, side: number, rng: Rng) {
  return Array.from({ length: count }, () => toFloatImage(new Uint8Array(side * side * 3).map(() => rng.int(256)), side, side));
}

interface Setup {
  trainer: JigCluTrainer;
  batch: JigsawBatch;
}

const setups = new Map<string, Setup>();
const phaseLines: string[] = [];

async function prepare(key: string, preset: PresetName, batchSize: number, backend: string, convGrad: ConvGradMode): Promise<Setup> {
  await tf.setBackend(backend);
  await tf.ready();
  let setup = setups.get(key);
  if (!setup) {
    const config = resolvePretrainConfig(preset, { batch: batchSize });
    const rng = new Rng(1);
    const images = sourceImages(batchSize, config.crop * 2, rng);
    const started = performance.now();
    const batch = makeJigsawBatch(images, { grid: config.grid, crop: config.crop, cross: config.cross, augmentation: referenceAugmentation }, rng);
    const dataMs = performance.now() - started;
    const trainer = new JigCluTrainer(config, convGrad);
    await trainer.step(batch, 1e9); // warm-up
    setup = { trainer, batch };
    setups.set(key, setup);
    if (convGrad === 'fast') phaseLines.push(phases(key, setup, dataMs));
  }
  return setup;
}

/** Times forward alone, forward + backward, and the optimizer alone, for one batch. */
function phases(key: string, { trainer, batch }: Setup, dataMs: number): string {
  const time = (fn: () => void): number => {
    const started = performance.now();
    fn();
    return performance.now() - started;
  };
  const inputs = () => [
    tf.tensor4d(batch.montages, [batch.n, batch.size, batch.size, 3]),
    tf.tensor1d(batch.clusterLabels, 'int32'),
    tf.tensor1d(batch.locationLabels, 'int32'),
  ] as const;
  const forward = time(() =>
    tf.tidy(() => {
      const [x, c, l] = inputs();
      trainer.model.losses(x, c, l, trainer.convGrad).total.dataSync();
    }),
  );
  const trainable = trainer.model.trainable();
  let grads: Record<string, tf.Tensor> = {};
  const forwardBackward = time(() => {
    grads = tf.tidy(() => {
      const [x, c, l] = inputs();
      const result = tf.variableGrads(() => trainer.model.losses(x, c, l, trainer.convGrad).total, trainable.map(([, v]) => v));
      for (const grad of Object.values(result.grads)) grad.dataSync();
      return result.grads;
    });
  });
  const byName: Record<string, tf.Tensor> = {};
  const nameOf = new Map(trainable.map(([name, v]) => [v.name, name]));
  for (const [variable, grad] of Object.entries(grads)) byName[nameOf.get(variable)!] = grad;
  const optimizer = time(() => {
    trainer.optimizer.step(trainable, byName, 1e-6);
    trainable[0]![1].dataSync();
  });
  // The SGD kernel against the same update as tfjs element-wise ops (the path without it): the
  // best of 5 each, alternating, after a step that makes the ops' momentum buffers.
  const opsOptimizer = new Sgd(trainer.optimizer.momentum, trainer.optimizer.weightDecay, false);
  opsOptimizer.step(trainable, byName, 1e-6);
  const sgd = { kernel: Infinity, ops: Infinity };
  for (let i = 0; i < 5; i += 1) {
    for (const [path, optimizerOf] of [['kernel', trainer.optimizer], ['ops', opsOptimizer]] as const) {
      sgd[path] = Math.min(sgd[path], time(() => {
        optimizerOf.step(trainable, byName, 1e-6);
        trainable[0]![1].dataSync();
      }));
    }
  }
  opsOptimizer.dispose();
  for (const grad of Object.values(grads)) grad.dispose();
  const total = dataMs + forwardBackward + optimizer;
  const pct = (ms: number) => `${((100 * ms) / total).toFixed(0)}%`;
  return `${key}: step ${total.toFixed(0)} ms for ${batch.n} images (${((1000 * batch.n) / total).toFixed(1)} images/s if data were made in line) — data ${dataMs.toFixed(0)} ms (${pct(dataMs)}; made in a worker thread during training), forward ${forward.toFixed(0)} ms (${pct(forward)}), backward ${(forwardBackward - forward).toFixed(0)} ms (${pct(forwardBackward - forward)}), optimizer ${optimizer.toFixed(0)} ms (${pct(optimizer)}; best of 5: the SGD kernel ${sgd.kernel.toFixed(1)} ms, the same update as tfjs ops ${sgd.ops.toFixed(1)} ms)`;
}

for (const [preset, batchSize] of presetsUnderTest) {
  describe(`${preset} training step, batch ${batchSize}`, () => {
    const options = { time: preset === 'cpu-small' ? 4000 : 2000, iterations: 3, warmupIterations: 0 };
    bench(
      'wasm, our conv gradient',
      async () => {
        const { trainer, batch } = await prepare(`${preset}/wasm/fast`, preset, batchSize, 'wasm', 'fast');
        await trainer.step(batch, 1e9);
      },
      options,
    );
    // tfjs's own conv gradient only for cpu-small: on ResNet-50 at 224 px one cpu step with it
    // takes minutes.
    if (preset === 'cpu-small') {
      bench(
        "cpu, tfjs's conv gradient (baseline)",
        async () => {
          const { trainer, batch } = await prepare(`${preset}/cpu/native`, preset, batchSize, 'cpu', 'native');
          await trainer.step(batch, 1e9);
        },
        options,
      );
      bench(
        'cpu, our conv gradient',
        async () => {
          const { trainer, batch } = await prepare(`${preset}/cpu/fast`, preset, batchSize, 'cpu', 'fast');
          await trainer.step(batch, 1e9);
        },
        options,
      );
    }
  });
}

afterAll(() => {
  console.log('\nPhases of one step (our conv gradient):\n' + phaseLines.join('\n'));
  console.log('Images/s = batch size x the hz vitest prints above.');
  for (const { trainer } of setups.values()) trainer.dispose();
});

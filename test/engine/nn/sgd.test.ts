import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolvePretrainConfig } from '../../../main/common/pretrain-config';
import type { JigsawBatch } from '../../../main/data/jigsaw';
import { Sgd } from '../../../main/engine/nn/sgd';
import * as tf from '../../../main/engine/backend/tfjs';
import { JigCluTrainer } from '../../../main/engine/jigclu/trainer';
import { seeded, useCpuBackend, useWasmBackend } from '../../helpers/engine';


/**
 * The optimiser and the BatchNorm running statistics of a training step, each against a loop
 * written from PyTorch's documented formulas (torch.optim.SGD with dampening 0 and no Nesterov;
 * nn.BatchNorm2d with momentum 0.1 and the unbiased batch variance), so a flipped weight-decay
 * sign, a dampening term or running statistics that never move fail here.
 */

/**
 * The same in float32, rounded after each operation in the order of Sgd's tfjs ops: the SGD
 * kernel of wasm and cpu (sgd-host.ts) must give exactly these bits.
 */
function naiveSgd32(weights: number[], buffer: number[] | undefined, grad: number[], lr: number, momentum: number, weightDecay: number): { weights: number[]; buffer: number[] } {
  const f = Math.fround;
  const d = grad.map((g, i) => (weightDecay ? f(g + f(weights[i]! * f(weightDecay))) : g));
  const next = buffer ? buffer.map((b, i) => f(f(b * f(momentum)) + d[i]!)) : d;
  return { weights: weights.map((w, i) => f(w - f(next[i]! * f(lr)))), buffer: next };
}

/** torch.optim.SGD's step, loop by loop: d = g + wd w; buf = d (first step) or mu buf + d; w -= lr buf. */
function naiveSgd(weights: number[], buffer: number[] | undefined, grad: number[], lr: number, momentum: number, weightDecay: number): { weights: number[]; buffer: number[] } {
  const d = grad.map((g, i) => g + weightDecay * weights[i]!);
  const next = buffer ? buffer.map((b, i) => momentum * b + d[i]!) : d;
  return { weights: weights.map((w, i) => w - lr * next[i]!), buffer: next };
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i += 1) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`SGD on the ${backend} backend`, () => {
    beforeAll(backend === 'cpu' ? useCpuBackend : useWasmBackend);

    for (const kernels of [true, false]) {
      it(`${kernels ? 'kernel' : 'tfjs ops'}: equals PyTorch's formula (momentum, weight decay, no dampening) over 4 steps with changing lr, to 1e-6`, () => {
        const random = seeded(7);
        const values = (n: number) => Array.from({ length: n }, () => random() * 2 - 1);
        const shapes: Record<string, number[]> = { a: [3, 4], b: [5] };
        const optimizer = new Sgd(0.9, 0.05, kernels);
        const variables = Object.entries(shapes).map(([name, shape]) => [name, tf.variable(tf.tensor(values(shape.reduce((x, y) => x * y, 1)), shape))] as [string, tf.Variable]);
        const expected = new Map(variables.map(([name, v]) => [name, { weights: Array.from(v.dataSync()), buffer: undefined as number[] | undefined }]));
        try {
          for (const [step, lr] of [0.1, 0.1, 0.05, 0.02].entries()) {
            const grads: Record<string, tf.Tensor> = {};
            for (const [name, v] of variables) grads[name] = tf.tensor(values(v.size), v.shape);
            for (const [name] of variables) {
              const state = expected.get(name)!;
              expected.set(name, naiveSgd(state.weights, state.buffer, Array.from(grads[name]!.dataSync()), lr, 0.9, 0.05));
            }
            optimizer.step(variables, grads, lr);
            for (const grad of Object.values(grads)) grad.dispose();
            for (const [name, v] of variables) {
              expect(maxDiff(v.dataSync(), expected.get(name)!.weights), `${name} after step ${step + 1}`).toBeLessThan(1e-6);
              expect(maxDiff(optimizer.buffers.get(name)!.dataSync(), expected.get(name)!.buffer!), `${name} buffer after step ${step + 1}`).toBeLessThan(1e-6);
            }
          }
        } finally {
          optimizer.dispose();
          for (const [, v] of variables) v.dispose();
        }
      });

      it(`${kernels ? 'kernel' : 'tfjs ops'}: keeps its momentum buffers out of training and frees them on dispose`, () => {
        const optimizer = new Sgd(0.9, 0, kernels);
        const w = tf.variable(tf.tensor1d([1, 2]));
        const grad = tf.tensor1d([0.5, -0.5]);
        try {
          optimizer.step([['w', w]], { w: grad }, 0.1);
          expect(optimizer.buffers.get('w')!.trainable).toBe(false);
          const before = tf.memory().numTensors;
          optimizer.dispose();
          expect(tf.memory().numTensors).toBe(before - 1);
          expect(optimizer.buffers.size).toBe(0);
        } finally {
          w.dispose();
          grad.dispose();
        }
      });

      it(`${kernels ? 'kernel' : 'tfjs ops'}: leaves a parameter without a gradient untouched and gives it no buffer`, () => {
        const optimizer = new Sgd(0.9, 0.1, kernels);
        const w = tf.variable(tf.tensor1d([1, 2]));
        try {
          optimizer.step([['w', w]], {}, 0.1);
          expect(Array.from(w.dataSync())).toEqual([1, 2]);
          expect(optimizer.buffers.size).toBe(0);
        } finally {
          optimizer.dispose();
          w.dispose();
        }
      });
    }

    it('kernel: gives the bits of the float32 formula in the ops\' order, as the tfjs ops do, over 3 steps (with and without weight decay)', () => {
      const random = seeded(11);
      const values = (n: number) => Array.from({ length: n }, () => random() * 2 - 1);
      for (const weightDecay of [0.05, 0]) {
        const start = values(257);
        const [kernelOptimizer, opOptimizer] = [new Sgd(0.9, weightDecay, true), new Sgd(0.9, weightDecay, false)];
        const [kernelWeight, opWeight] = [tf.variable(tf.tensor1d(start)), tf.variable(tf.tensor1d(start))];
        let expected = { weights: start.map(Math.fround), buffer: undefined as number[] | undefined };
        try {
          for (const lr of [0.1, 0.03, 0.07]) {
            const grad = tf.tensor1d(values(257));
            const gradValues = Array.from(grad.dataSync());
            expected = naiveSgd32(expected.weights, expected.buffer, gradValues, lr, 0.9, weightDecay);
            const before = tf.memory().numTensors;
            kernelOptimizer.step([['w', kernelWeight]], { w: grad }, lr);
            opOptimizer.step([['w', opWeight]], { w: grad }, lr);
            grad.dispose();
            expect(Array.from(kernelWeight.dataSync()), `weights, lr ${lr}, weight decay ${weightDecay}`).toEqual(expected.weights);
            expect(Array.from(kernelOptimizer.buffers.get('w')!.dataSync()), `buffer, lr ${lr}`).toEqual(expected.buffer);
            expect(Array.from(opWeight.dataSync()), `tfjs ops' weights, lr ${lr}`).toEqual(expected.weights);
            expect(Array.from(opOptimizer.buffers.get('w')!.dataSync()), `tfjs ops' buffer, lr ${lr}`).toEqual(expected.buffer);
            // Only the buffers made on the first step stay (one per optimizer), the gradient is gone.
            expect(tf.memory().numTensors).toBe(before - 1 + (lr === 0.1 ? 2 : 0));
          }
        } finally {
          kernelOptimizer.dispose();
          opOptimizer.dispose();
          kernelWeight.dispose();
          opWeight.dispose();
        }
      }
    });

    it('kernel: one JigCluSgdMomentum per parameter and no element-wise op; tfjs ops: the six ops', async () => {
      const kernelNames = async (kernels: boolean) => {
        const optimizer = new Sgd(0.9, 0.1, kernels);
        const w = tf.variable(tf.tensor1d([1, 2]));
        const grad = tf.tensor1d([0.5, -0.5]);
        try {
          optimizer.step([['w', w]], { w: grad }, 0.1);
          const profile = await tf.profile(() => optimizer.step([['w', w]], { w: grad }, 0.1));
          return profile.kernels.map((k) => k.name);
        } finally {
          optimizer.dispose();
          w.dispose();
          grad.dispose();
        }
      };
      expect(await kernelNames(true)).toEqual(['JigCluSgdMomentum']);
      expect((await kernelNames(false)).filter((name) => ['Multiply', 'Add', 'Sub'].includes(name))).toHaveLength(6);
    });

    it('kernel: names a gradient of the wrong size', () => {
      const optimizer = new Sgd(0.9, 0.1);
      const w = tf.variable(tf.tensor2d([1, 2, 3, 4], [2, 2]));
      const grad = tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2]);
      try {
        expect(() => optimizer.step([['w', w]], { w: grad }, 0.1)).toThrow('SGD: the gradient has shape [3,2] but the weight has [2,2]');
      } finally {
        optimizer.dispose();
        w.dispose();
        grad.dispose();
      }
    });
  });
}

describe('a training step', () => {
  beforeAll(useCpuBackend);
  const trainers: JigCluTrainer[] = [];
  afterAll(() => trainers.forEach((t) => t.dispose()));

  /** A random jigsaw batch of 2 montages of 64 px (m = 2, 32-px patches). */
  function randomBatch(seed: number): JigsawBatch {
    const random = seeded(seed);
    const n = 2;
    const size = 64;
    const montages = Float32Array.from({ length: n * size * size * 3 }, () => random() * 2 - 1);
    const clusterLabels = Int32Array.from({ length: n * 4 }, (_, k) => Math.floor(k / 4));
    const locationLabels = Int32Array.from({ length: n * 4 }, (_, k) => k % 4);
    return { n, grid: 2, crop: 32, size, montages, clusterLabels, locationLabels, permutation: Int32Array.from({ length: n * 4 }, (_, k) => k) };
  }

  it("moves bn1's running statistics by PyTorch's rule from the batch (momentum 0.1, unbiased variance)", async () => {
    const config = resolvePretrainConfig('cpu-small', { width: 0.0625, batch: 2, seed: 3 });
    const trainer = new JigCluTrainer(config, 'fast');
    trainers.push(trainer);
    const batch = randomBatch(4);
    const params = trainer.model.backbone.params;
    const before = { mean: Array.from(params.get('bn1.running_mean').dataSync()), variance: Array.from(params.get('bn1.running_var').dataSync()) };
    // The input of bn1 with the weights the step starts from: conv1 (7x7, stride 2, padding 3).
    const stem = tf.tidy(() => tf.conv2d(tf.tensor4d(batch.montages, [batch.n, batch.size, batch.size, 3]), params.get('conv1.weight') as tf.Tensor4D, 2, [[0, 0], [3, 3], [3, 3], [0, 0]]));
    const [, h, w, c] = stem.shape;
    const values = stem.dataSync();
    stem.dispose();
    const count = batch.n * h * w;
    const mean = new Array<number>(c).fill(0);
    const squares = new Array<number>(c).fill(0);
    for (let i = 0; i < values.length; i += 1) mean[i % c]! += values[i]! / count;
    for (let i = 0; i < values.length; i += 1) squares[i % c]! += (values[i]! - mean[i % c]!) ** 2;
    const unbiased = squares.map((s) => s / (count - 1));

    await trainer.step(batch, 100);

    const expectedMean = before.mean.map((m, i) => 0.9 * m + 0.1 * mean[i]!);
    const expectedVar = before.variance.map((v, i) => 0.9 * v + 0.1 * unbiased[i]!);
    expect(maxDiff(params.get('bn1.running_mean').dataSync(), expectedMean)).toBeLessThan(1e-4);
    expect(maxDiff(params.get('bn1.running_var').dataSync(), expectedVar)).toBeLessThan(1e-4 * Math.max(1, ...expectedVar));
    // And every other BatchNorm of the backbone moved off its initial 0 / 1 as well.
    for (const name of params.buffers) {
      const initial = name.endsWith('running_mean') ? 0 : 1;
      expect(maxDiff(params.get(name).dataSync(), new Array<number>(params.get(name).size).fill(initial)), name).toBeGreaterThan(1e-6);
    }
  });

  it("gives the step's weights PyTorch's SGD update of that step's gradients (momentum and weight decay of the config)", async () => {
    const config = resolvePretrainConfig('cpu-small', { width: 0.0625, batch: 2, seed: 5 });
    const trainer = new JigCluTrainer(config, 'fast');
    trainers.push(trainer);
    expect(trainer.optimizer.momentum).toBe(config.momentum);
    expect(trainer.optimizer.weightDecay).toBe(config.weightDecay);
    const name = 'location_head.weight';
    const weight = trainer.model.heads.get(name);
    for (const seed of [6, 7]) {
      const batch = randomBatch(seed);
      const w0 = Array.from(weight.dataSync());
      const buffer0 = trainer.optimizer.buffers.get(name) ? Array.from(trainer.optimizer.buffers.get(name)!.dataSync()) : undefined;
      // The gradient of this step's loss for the head, as the trainer will see it (BN in training mode).
      const grad = tf.tidy(() => {
        const montages = tf.tensor4d(batch.montages, [batch.n, batch.size, batch.size, 3]);
        const { grads } = tf.variableGrads(() => trainer.model.losses(montages, tf.tensor1d(batch.clusterLabels, 'int32'), tf.tensor1d(batch.locationLabels, 'int32'), trainer.convGrad).total, [weight]);
        return Array.from(grads[weight.name]!.dataSync());
      });
      const lr = trainer.currentLr();
      await trainer.step(batch, 100);
      const expected = naiveSgd(w0, buffer0, grad, lr, config.momentum, config.weightDecay);
      expect(maxDiff(weight.dataSync(), expected.weights), `step with batch ${seed}`).toBeLessThan(1e-5);
    }
  });
});

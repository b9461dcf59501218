import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '../../../main/engine/backend/tfjs';
import { batchNormTraining, ResNet, type BatchNormUpdate, type ForwardOptions } from '../../../main/engine/nn/resnet';
import { seeded, useCpuBackend } from '../../helpers/engine';

/**
 * BatchNorm on its own against naive float64 loops (issue 16, mutation testing of the training
 * core): the training forward with the batch statistics, its gradients (finite differences of
 * the naive forward), the inference forward with the running statistics, the running-statistics
 * update with PyTorch's semantics (momentum 0.1, unbiased batch variance) and the parameters a
 * BatchNorm starts with. Tiny tensors on tfjs's cpu backend: it runs in about a second, so
 * `npm run test:mutation -- batchnorm` can run it once per mutant. (golden-steps.test.ts checks
 * the same against PyTorch inside whole training steps.)
 */

beforeAll(useCpuBackend);

const eps = 1e-5;
const [n, h, w, c] = [2, 3, 2, 4];
const count = n * h * w;
const random = seeded(16);
// Channel means and spreads that differ, so a wrong axis or a missing centring shows.
const x = Array.from({ length: n * h * w * c }, (_, i) => (i % c) - 1.5 + (0.5 + (i % c)) * (random() * 2 - 1));
const gamma = [0.5, 1.5, -0.7, 2];
const beta = [0.3, -0.2, 1, 0];
const dy = Array.from({ length: x.length }, () => random() * 2 - 1);

/** Per-channel mean and biased variance of an NHWC array, in float64. */
function moments(values: number[]): { mean: number[]; variance: number[] } {
  const mean = Array.from({ length: c }, (_, ch) => values.filter((_, i) => i % c === ch).reduce((a, b) => a + b, 0) / count);
  const variance = Array.from({ length: c }, (_, ch) => values.filter((_, i) => i % c === ch).reduce((a, v) => a + (v - mean[ch]!) ** 2, 0) / count);
  return { mean, variance };
}

/** y = gamma (x - mean) / sqrt(var + eps) + beta, per channel. */
function normalise(values: number[], mean: number[], variance: number[], g: number[], b: number[]): number[] {
  return values.map((v, i) => (g[i % c]! * (v - mean[i % c]!)) / Math.sqrt(variance[i % c]! + eps) + b[i % c]!);
}

/** The training forward, written out: normalised with the batch's own statistics. */
function naiveTraining(values: number[], g: number[], b: number[]): number[] {
  const { mean, variance } = moments(values);
  return normalise(values, mean, variance, g, b);
}

/** sum(y * dy) of the naive training forward. */
const naiveLoss = (values: number[], g: number[], b: number[]) => naiveTraining(values, g, b).reduce((sum, y, i) => sum + y * dy[i]!, 0);

/** Central differences of `naiveLoss` along each entry of the `which`-th argument, in float64. */
function numericGradient(which: 0 | 1 | 2): number[] {
  const args = [x, gamma, beta];
  const step = 1e-6;
  return args[which]!.map((_, j) => {
    const shifted = (delta: number) => {
      const copy = args.map((a) => [...a]);
      copy[which]![j]! += delta;
      return naiveLoss(copy[0]!, copy[1]!, copy[2]!);
    };
    return (shifted(step) - shifted(-step)) / (2 * step);
  });
}

function expectClose(label: string, got: ArrayLike<number>, want: ArrayLike<number>, tolerance: number): void {
  expect(got.length, label).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < got.length; i += 1) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
  expect(worst, `${label}: largest difference`).toBeLessThan(tolerance);
}

// Both forms: the fused kernels (batchnorm-fused.ts; their JavaScript loops on this engine) and the tfjs ops.
describe.each(['fused', 'ops'] as const)('batchNormTraining (%s)', (form) => {
  it('normalises each channel with the batch mean and biased variance, and returns them', () => {
    tf.tidy(() => {
      const { y, mean, variance } = batchNormTraining(tf.tensor4d(x, [n, h, w, c]), tf.tensor1d(gamma), tf.tensor1d(beta), { form });
      const want = moments(x);
      expectClose('y', y.dataSync(), naiveTraining(x, gamma, beta), 1e-5);
      expectClose('mean', mean.dataSync(), want.mean, 1e-6);
      expectClose('variance', variance.dataSync(), want.variance, 1e-5);
      mean.dispose();
      variance.dispose();
    });
  });

  it('has the gradients of x, gamma and beta of the naive forward (finite differences)', () => {
    tf.tidy(() => {
      const upstream = tf.tensor4d(dy, [n, h, w, c]);
      const loss = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
        const { y, mean, variance } = batchNormTraining(a as tf.Tensor4D, g as tf.Tensor1D, b as tf.Tensor1D, { form });
        mean.dispose();
        variance.dispose();
        return tf.sum(tf.mul(y, upstream));
      };
      const [dx, dgamma, dbeta] = tf.grads(loss)([tf.tensor4d(x, [n, h, w, c]), tf.tensor1d(gamma), tf.tensor1d(beta)]);
      expectClose('dx', dx!.dataSync(), numericGradient(0), 1e-4);
      expectClose('dgamma', dgamma!.dataSync(), numericGradient(1), 1e-4);
      expectClose('dbeta', dbeta!.dataSync(), numericGradient(2), 1e-4);
    });
  });
});

describe("a ResNet's BatchNorm", () => {
  /** A tiny ResNet-18: width 0.0625 gives bn1 and layer1's BatchNorms 4 channels, as x has. */
  function tinyNet(): ResNet {
    return new ResNet({ arch: 'resnet18', width: 0.0625 }, 1);
  }
  const training: ForwardOptions = { training: true, convGrad: 'fast' };
  const channels = 4; // round(64 x 0.0625)

  /** Calls the network's private batchNorm on x for the layer `prefix`. */
  const batchNorm = (net: ResNet, input: tf.Tensor4D, prefix: string, options: ForwardOptions): tf.Tensor4D => net['batchNorm'](input, prefix, options);

  it('starts as PyTorch does: weight 1, bias 0, running mean 0, running variance 1; only weight and bias trained', () => {
    const net = tinyNet();
    for (const prefix of ['bn1', 'layer1.0.bn2', 'layer2.0.downsample.1']) {
      const size = net.params.get(`${prefix}.weight`).size;
      expect(Array.from(net.params.get(`${prefix}.weight`).dataSync())).toEqual(Array(size).fill(1));
      expect(Array.from(net.params.get(`${prefix}.bias`).dataSync())).toEqual(Array(size).fill(0));
      expect(Array.from(net.params.get(`${prefix}.running_mean`).dataSync())).toEqual(Array(size).fill(0));
      expect(Array.from(net.params.get(`${prefix}.running_var`).dataSync())).toEqual(Array(size).fill(1));
      const trained = net.params.trainable().map(([name]) => name);
      expect(trained).toContain(`${prefix}.weight`);
      expect(trained).toContain(`${prefix}.bias`);
      expect(trained).not.toContain(`${prefix}.running_mean`);
      expect(trained).not.toContain(`${prefix}.running_var`);
      expect(net.params.buffers.has(`${prefix}.running_var`)).toBe(true);
    }
    net.params.dispose();
  });

  describe('with set parameters', () => {
    let net: ResNet;
    const runningMean = [0.5, -1, 2, 0];
    // A variance near eps: eps must be added as PyTorch adds it.
    const runningVar = [4, 0.25, 1e-5, 2];
    beforeAll(() => {
      expect(channels).toBe(c);
      net = tinyNet();
      net.params.get('bn1.weight').assign(tf.tensor1d(gamma));
      net.params.get('bn1.bias').assign(tf.tensor1d(beta));
      net.params.get('bn1.running_mean').assign(tf.tensor1d(runningMean));
      net.params.get('bn1.running_var').assign(tf.tensor1d(runningVar));
    });

    it('normalises with the running statistics in inference', () => {
      tf.tidy(() => {
        const y = batchNorm(net, tf.tensor4d(x, [n, h, w, c]), 'bn1', { training: false, convGrad: 'fast' });
        expectClose('inference y', y.dataSync(), normalise(x, runningMean, runningVar, gamma, beta), 1e-4);
      });
    });

    it('normalises with the batch statistics in training and hands them over with the element count', () => {
      const updates: BatchNormUpdate[] = [];
      tf.tidy(() => {
        const y = batchNorm(net, tf.tensor4d(x, [n, h, w, c]), 'bn1', { ...training, batchNormUpdates: updates });
        expectClose('training y', y.dataSync(), naiveTraining(x, gamma, beta), 1e-5);
      });
      expect(updates).toHaveLength(1);
      const [update] = updates;
      expect(update!.prefix).toBe('bn1');
      expect(update!.count).toBe(count);
      const want = moments(x);
      expectClose('batch mean', update!.mean.dataSync(), want.mean, 1e-6);
      expectClose('batch variance', update!.variance.dataSync(), want.variance, 1e-5);
      update!.mean.dispose();
      update!.variance.dispose();
    });

    it('keeps no tensor when nobody asks for the batch statistics', () => {
      const before = tf.memory().numTensors;
      tf.tidy(() => void batchNorm(net, tf.tensor4d(x, [n, h, w, c]), 'bn1', training));
      expect(tf.memory().numTensors).toBe(before);
    });
  });

  it('updates the running statistics as PyTorch: momentum 0.1, the unbiased batch variance, and disposes the batch statistics', () => {
    const net = tinyNet();
    const oldMean = [0.5, -1, 2, 0];
    const oldVar = [4, 0.25, 1, 2];
    net.params.get('bn1.running_mean').assign(tf.tensor1d(oldMean));
    net.params.get('bn1.running_var').assign(tf.tensor1d(oldVar));
    net.params.get('layer1.0.bn1.running_var').assign(tf.tensor1d([3, 3, 3, 3]));
    const batchMean = [1, 2, -3, 0.25];
    const batchVar = [2, 0.5, 3, 1];
    const updates: BatchNormUpdate[] = [
      { prefix: 'bn1', mean: tf.tensor1d(batchMean), variance: tf.tensor1d(batchVar), count: 5 },
      // One element per channel: count / (count - 1) would divide by 0; the variance is used as is.
      { prefix: 'layer1.0.bn1', mean: tf.tensor1d([1, 1, 1, 1]), variance: tf.tensor1d([0.5, 0.5, 0.5, 0.5]), count: 1 },
    ];
    const before = tf.memory().numTensors;
    net.applyBatchNormUpdates(updates);
    expect(tf.memory().numTensors).toBe(before - 4);
    for (const update of updates) {
      expect(update.mean.isDisposed).toBe(true);
      expect(update.variance.isDisposed).toBe(true);
    }
    expectClose('running mean', net.params.get('bn1.running_mean').dataSync(), oldMean.map((m, i) => 0.9 * m + 0.1 * batchMean[i]!), 1e-6);
    expectClose('running variance', net.params.get('bn1.running_var').dataSync(), oldVar.map((v, i) => 0.9 * v + 0.1 * batchVar[i]! * (5 / 4)), 1e-6);
    expectClose('running mean of a 1-element batch', net.params.get('layer1.0.bn1.running_mean').dataSync(), [0.1, 0.1, 0.1, 0.1], 1e-6);
    expectClose('running variance of a 1-element batch', net.params.get('layer1.0.bn1.running_var').dataSync(), [2.75, 2.75, 2.75, 2.75], 1e-6);
    net.params.dispose();
  });
});

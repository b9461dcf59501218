import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '../../../main/engine/backend/tfjs';
import { batchNormTraining, ResNet } from '../../../main/engine/nn/resnet';
import { useCpuBackend } from '../../helpers/engine';

beforeAll(useCpuBackend);

function maxRelativeDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]! / Math.max(1e-12, tf.max(tf.abs(b)).dataSync()[0]!));
}

describe('BatchNorm with the closed-form gradient', () => {
  it('matches tfjs moments + batchNorm in value and in the gradients of x, gamma and beta (1e-4)', () => {
    tf.tidy(() => {
      const x = tf.randomNormal([3, 5, 4, 6], 0.5, 2, 'float32', 1) as tf.Tensor4D;
      const gamma = tf.randomNormal([6], 1, 0.3, 'float32', 2) as tf.Tensor1D;
      const beta = tf.randomNormal([6], 0, 0.3, 'float32', 3) as tf.Tensor1D;
      const dy = tf.randomNormal([3, 5, 4, 6], 0, 1, 'float32', 4);
      const ours = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
        const { y, mean, variance } = batchNormTraining(a as tf.Tensor4D, g as tf.Tensor1D, b as tf.Tensor1D);
        mean.dispose();
        variance.dispose();
        return tf.sum(tf.mul(y, dy));
      };
      const native = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
        const { mean, variance } = tf.moments(a, [0, 1, 2]);
        return tf.sum(tf.mul(tf.batchNorm4d(a as tf.Tensor4D, mean as tf.Tensor1D, variance as tf.Tensor1D, b as tf.Tensor1D, g as tf.Tensor1D, 1e-5), dy));
      };
      expect(maxRelativeDiff(ours(x, gamma, beta), native(x, gamma, beta))).toBeLessThan(1e-5);
      const gradsOurs = tf.grads(ours)([x, gamma, beta]);
      const gradsNative = tf.grads(native)([x, gamma, beta]);
      gradsOurs.forEach((grad, i) => expect(maxRelativeDiff(grad, gradsNative[i]!), `input ${i}`).toBeLessThan(1e-4));
    });
  });

  it('returns the batch statistics for the running averages', () => {
    tf.tidy(() => {
      const x = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 1, 2]);
      const { mean, variance } = batchNormTraining(x, tf.ones([2]), tf.zeros([2]));
      expect(Array.from(mean.dataSync())).toEqual([4, 5]);
      expect(Array.from(variance.dataSync())).toEqual([5, 5]); // biased: mean of squared deviations
      mean.dispose();
      variance.dispose();
    });
  });
});

describe('ResNet', () => {
  it('has torchvision ResNet-50 parameter count and output width', () => {
    const net = new ResNet({ arch: 'resnet50', width: 1 }, 0);
    // torchvision resnet50 without fc: 25,557,032 - (2048*1000 + 1000) = 23,508,032.
    expect(net.params.count()).toBe(23_508_032);
    expect(net.outChannels).toBe(2048);
    expect(net.params.variables.has('layer3.5.conv3.weight')).toBe(true);
    expect(net.params.variables.has('layer1.0.downsample.1.running_var')).toBe(true);
    net.params.dispose();
  });

  it('reduces a 64 px montage to a 2 x 2 feature map, one cell per patch, in both modes', () => {
    const net = new ResNet({ arch: 'resnet18', width: 0.125 }, 1);
    tf.tidy(() => {
      const x = tf.randomNormal([2, 64, 64, 3]) as tf.Tensor4D;
      expect(net.forward(x, { training: true, convGrad: 'fast' }).shape).toEqual([2, 2, 2, 64]);
      expect(net.forward(x, { training: false, convGrad: 'fast' }).shape).toEqual([2, 2, 2, 64]);
    });
    net.params.dispose();
  });
});

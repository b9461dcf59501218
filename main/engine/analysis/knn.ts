import * as tf from '../backend/tfjs';
import type { ConvGradMode } from '../nn/conv';
import { globalAveragePool, type ResNet } from '../nn/resnet';

/**
 * Backbone features of whole images for evaluation: inference-mode BatchNorm, global average
 * pooling of the last feature map, L2-normalised (cosine similarity = dot product).
 * `images` is NHWC, ImageNet-normalised, `count` images of `size` x `size`.
 */
export async function extractFeatures(backbone: ResNet, images: Float32Array, count: number, size: number, batch = 64, convGrad: ConvGradMode = 'native'): Promise<Float32Array> {
  const d = backbone.outChannels;
  const out = new Float32Array(count * d);
  const perImage = size * size * 3;
  // Stryker disable next-line EqualityOperator: equivalent: with <= a count that is a multiple of the batch gets one more pass over 0 images, which adds nothing
  for (let start = 0; start < count; start += batch) {
    const n = Math.min(batch, count - start);
    const features = tf.tidy(() => {
      const x = tf.tensor4d(images.subarray(start * perImage, (start + n) * perImage), [n, size, size, 3]);
      // Stryker disable next-line ObjectLiteral: equivalent: without options the forward is the same (training undefined is inference; the gradient mode changes gradients only)
      const pooled = globalAveragePool(backbone.forward(x, { training: false, convGrad }));
      return tf.div(pooled, tf.maximum(tf.norm(pooled, 2, 1, true), 1e-12));
    });
    out.set((await features.data()) as Float32Array, start * d);
    features.dispose();
  }
  return out;
}

export interface KnnOptions {
  /** Neighbours that vote (200, as InstDisc and the SSL libraries' monitors). */
  k?: number;
  /** Temperature of the vote weights exp(similarity / t) (0.1). */
  temperature?: number;
}

/**
 * Weighted kNN classification accuracy (InstDisc / solo-learn monitor): for each test
 * feature, the k most cosine-similar train features vote for their class with weight
 * exp(sim / t); the class with the largest vote wins. Features are L2-normalised rows of
 * width `dim`. Returns accuracy in [0, 1].
 */
export async function knnAccuracy(
  train: { features: Float32Array; labels: Int32Array },
  test: { features: Float32Array; labels: Int32Array },
  dim: number,
  numClasses: number,
  options: KnnOptions = {},
): Promise<number> {
  const predictions = await knnPredict(train, test.features, dim, numClasses, options);
  let correct = 0;
  for (let i = 0; i < predictions.length; i += 1) if (predictions[i] === test.labels[i]) correct += 1;
  return predictions.length ? correct / predictions.length : 0;
}

/** The kNN-predicted class of each query row. */
export async function knnPredict(
  train: { features: Float32Array; labels: Int32Array },
  queries: Float32Array,
  dim: number,
  numClasses: number,
  options: KnnOptions = {},
): Promise<Int32Array> {
  const trainCount = train.labels.length;
  const queryCount = queries.length / dim;
  const k = Math.min(options.k ?? 200, trainCount);
  const t = options.temperature ?? 0.1;
  const out = new Int32Array(queryCount);
  const bank = tf.tensor2d(train.features, [trainCount, dim]);
  const bankLabels = tf.tensor1d(train.labels, 'int32');
  try {
    const chunk = 256;
    // Stryker disable next-line EqualityOperator: equivalent: with <= a multiple of 256 queries gets one more chunk of 0 queries, which adds nothing
    for (let start = 0; start < queryCount; start += chunk) {
      const n = Math.min(chunk, queryCount - start);
      const predicted = tf.tidy(() => {
        const q = tf.tensor2d(queries.subarray(start * dim, (start + n) * dim), [n, dim]);
        const similarity = tf.matMul(q, bank, false, true);
        const { values, indices } = tf.topk(similarity, k);
        const neighbourLabels = tf.gather(bankLabels, indices.flatten()).reshape([n, k]);
        const weights = tf.exp(tf.div(values, t));
        const votes = tf.sum(tf.mul(tf.oneHot(neighbourLabels, numClasses), weights.expandDims(2)), 1);
        return tf.argMax(votes, 1);
      });
      out.set((await predicted.data()) as Int32Array, start);
      predicted.dispose();
    }
  } finally {
    bank.dispose();
    bankLabels.dispose();
  }
  return out;
}

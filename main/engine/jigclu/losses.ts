import * as tf from '../backend/tfjs';
import { matMul } from '../nn/matmul';

/** The reference's base temperature: the cluster loss is scaled by t / 0.07. */
export const baseTemperature = 0.07;

/**
 * The SupClu (supervised contrastive) cluster loss exactly as the reference computes it
 * (SupConLoss with one view): positives are patches of the same source image.
 *   logits = z z^T / t, minus each row's max (the max includes the diagonal, detached)
 *   log_prob = logits - log(sum over k != i of exp(logits_ik))
 *   loss_i = -(t / 0.07) * mean over positives j != i of log_prob_ij;  loss = mean over i.
 * z: [N, d] L2-normalised embeddings; labels: [N] source image of each patch.
 */
export function supCluLoss(z: tf.Tensor2D, labels: tf.Tensor1D, temperature: number): tf.Scalar {
  return tf.tidy(() => {
    const n = z.shape[0];
    const logitsRaw = tf.div(matMul(z, z, false, true), temperature);
    // The max is a constant shift for stability (detached in the reference): stopGradient.
    const rowMax = tf.max(logitsRaw, 1, true);
    const logits = tf.sub(logitsRaw, stopGradient(rowMax));
    const notSelf = tf.sub(tf.onesLike(logits), tf.eye(n));
    const labelColumn = tf.reshape(labels, [n, 1]);
    const labelRow = tf.reshape(labels, [1, n]);
    const positives = tf.mul(tf.cast(tf.equal(labelColumn, labelRow), 'float32'), notSelf);
    const expLogits = tf.mul(tf.exp(logits), notSelf);
    // Stryker disable next-line BooleanLiteral: equivalent: without keepDims row i is normalised by row j's sum, and since being positives is symmetric (same source image) and every member of a group has as many positives, summing over the pairs gives the same loss and gradients (the detached row maxima cancel pair by pair)
    const logProb = tf.sub(logits, tf.log(tf.sum(expLogits, 1, true)));
    const meanLogProbPositive = tf.div(tf.sum(tf.mul(positives, logProb), 1), tf.sum(positives, 1));
    return tf.mean(tf.mul(meanLogProbPositive, -(temperature / baseTemperature))) as tf.Scalar;
  });
}

/** Cross entropy of location logits [N, m*m] against location labels [N]. */
export function locationLoss(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const logProbabilities = tf.logSoftmax(logits);
    const oneHot = tf.oneHot(tf.cast(labels, 'int32'), logits.shape[1]);
    return tf.neg(tf.mean(tf.sum(tf.mul(oneHot, logProbabilities), 1))) as tf.Scalar;
  });
}

/** Identity in the forward pass, zero gradient in the backward pass (PyTorch's .detach()). */
export function stopGradient<T extends tf.Tensor>(x: T): T {
  const detach = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const input = args[0] as tf.Tensor;
    return { value: tf.clone(input), gradFunc: (dy: tf.Tensor | tf.Tensor[]) => tf.zerosLike(dy as tf.Tensor) };
  });
  return detach(x) as T;
}

import * as tf from '../backend/tfjs';
import { Rng } from '../../data/rng';
import { Sgd } from '../nn/sgd';
import { l2NormalizedRows } from '../analysis/feature-matrix';

/**
 * Few-label classification on top of a backbone (issue 7, "one-click fine-tuning"):
 * - `stratifiedSplit` / `kFolds`: a per-class train / validation split, or a k-fold plan when
 *   there are too few labels for a held-out set to mean anything;
 * - `linearProbe`: softmax regression on frozen, L2-normalised backbone features (seconds);
 * - `predictFromFeatures`, `confusionMatrix`, `perClassAccuracy`.
 * Fine-tuning the whole backbone (LP-FT: from the linear probe's head) and predicting from
 * images are in finetune-backbone.ts. Both trainers stop early on validation accuracy and hand
 * back the best epoch's weights.
 * Epochs are numbered from 1 in every result and callback.
 */

// ---------------------------------------------------------------------------------------------
// Splits

export interface SplitOptions {
  /** Share of each class held out for validation (0.2). */
  validationFraction?: number;
  seed: number;
  /** Classes with fewer images than this are never held out: all their images train (2). */
  minPerClassForHoldout?: number;
  /** Below this many labelled images in all, plan k folds instead of one split (20). */
  kFoldBelowTotal?: number;
  /** When a class has fewer images than this, plan k folds instead of one split (3). */
  kFoldBelowPerClass?: number;
  /** Folds of a k-fold plan, at most (5). */
  maxFolds?: number;
}

export interface SplitPlan {
  /** Indices (into `labels`) to train on, ascending. In a k-fold plan: every fold but the first. */
  train: number[];
  /** Indices to validate on, ascending. In a k-fold plan: the first fold. Empty when no class has 2 images. */
  validation: number[];
  /** Set when the labels are too few for one held-out set: run k folds (see `folds`, `foldSplit`). */
  kFold?: number;
  /** The folds of a k-fold plan (`kFolds(labels, kFold, seed)`). */
  folds?: number[][];
}

function classMembers(labels: ArrayLike<number>): Map<number, number[]> {
  const members = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i += 1) {
    const label = labels[i]!;
    if (!Number.isInteger(label) || label < 0) throw new RangeError(`label ${i} is ${label}: labels must be class indices 0, 1, ...`);
    let list = members.get(label);
    if (!list) members.set(label, (list = []));
    list.push(i);
  }
  // Classes in ascending order, so the draws do not depend on which label came first.
  return new Map([...members].sort((a, b) => a[0] - b[0]));
}

/**
 * Splits labelled images per class: each class is shuffled (seeded) and about
 * `validationFraction` of it held out, at least one image when the class has
 * `minPerClassForHoldout` (2) or more and always leaving one to train on; smaller classes train
 * whole. When the labels are too few (under `kFoldBelowTotal` = 20 images, or a class under
 * `kFoldBelowPerClass` = 3) a single held-out set would be a handful of images, so the result is a
 * k-fold plan instead: `kFold` and `folds` are set, and `train` / `validation` are fold 0's split.
 */
export function stratifiedSplit(labels: Int32Array | number[], options: SplitOptions): SplitPlan {
  const fraction = options.validationFraction ?? 0.2;
  if (!(fraction > 0 && fraction < 1)) throw new RangeError(`validationFraction must be in (0, 1), got ${fraction}`);
  const minForHoldout = Math.max(2, options.minPerClassForHoldout ?? 2);
  const members = classMembers(labels);
  const sizes = [...members.values()].map((list) => list.length);
  const largest = Math.max(0, ...sizes);
  const few = labels.length < (options.kFoldBelowTotal ?? 20) || sizes.some((size) => size < (options.kFoldBelowPerClass ?? 3));
  if (few && largest >= 2) {
    const k = Math.min(options.maxFolds ?? 5, largest);
    const folds = kFolds(labels, k, options.seed);
    return { ...foldSplit(folds, 0, labels, minForHoldout), kFold: k, folds };
  }
  const rng = new Rng(options.seed);
  const train: number[] = [];
  const validation: number[] = [];
  for (const list of members.values()) {
    const shuffled = rng.shuffle([...list]);
    const held = shuffled.length >= minForHoldout ? Math.min(shuffled.length - 1, Math.max(1, Math.round(shuffled.length * fraction))) : 0;
    validation.push(...shuffled.slice(0, held));
    train.push(...shuffled.slice(held));
  }
  return { train: train.sort((a, b) => a - b), validation: validation.sort((a, b) => a - b) };
}

/**
 * k stratified folds covering every index exactly once: each class is shuffled (seeded) and dealt
 * round the folds, each class starting where the previous one stopped, so fold sizes differ by at
 * most one and a class of at least k images is in every fold. Each fold is ascending.
 */
export function kFolds(labels: Int32Array | number[], k: number, seed: number): number[][] {
  if (!Number.isInteger(k) || k < 2) throw new RangeError(`k must be an integer >= 2, got ${k}`);
  if (k > labels.length) throw new RangeError(`${k} folds need at least ${k} images, got ${labels.length}`);
  const rng = new Rng(seed);
  const folds: number[][] = Array.from({ length: k }, () => []);
  let next = 0;
  for (const list of classMembers(labels).values()) {
    for (const index of rng.shuffle([...list])) {
      folds[next]!.push(index);
      next = (next + 1) % k;
    }
  }
  return folds.map((fold) => fold.sort((a, b) => a - b));
}

/**
 * Fold `fold` of `folds` as a train / validation split. Images of classes with fewer than
 * `minPerClassForHoldout` (2) images stay in train (held out, their class could not be learnt).
 */
export function foldSplit(folds: number[][], fold: number, labels: Int32Array | number[], minPerClassForHoldout = 2): { train: number[]; validation: number[] } {
  const counts = new Map<number, number>();
  for (let i = 0; i < labels.length; i += 1) counts.set(labels[i]!, (counts.get(labels[i]!) ?? 0) + 1);
  const train: number[] = [];
  const validation: number[] = [];
  folds.forEach((members, f) => {
    for (const index of members) {
      if (f === fold && (counts.get(labels[index]!) ?? 0) >= minPerClassForHoldout) validation.push(index);
      else train.push(index);
    }
  });
  return { train: train.sort((a, b) => a - b), validation: validation.sort((a, b) => a - b) };
}

// ---------------------------------------------------------------------------------------------
// Heads and metrics

/**
 * A linear classifier: logits = x W + b, W [dim, classes] row-major (PyTorch's fc.weight
 * transposed). `input` says what x is: 'l2-normalized' features (the linear probe's; what
 * `extractFeatures` returns) or the raw globally average-pooled backbone output ('pooled', the
 * fine-tuned head).
 */
export interface LinearHead {
  weights: Float32Array;
  bias: Float32Array;
  dim: number;
  classes: number;
  input: 'l2-normalized' | 'pooled';
}

export interface Predictions {
  classes: Int32Array;
  /** The winning class's softmax probability, in (0, 1]. */
  confidence: Float32Array;
  /** Softmax probabilities, [n, classes] row-major. */
  probabilities: Float32Array;
}

/** Softmax probabilities [n, classes] -> argmax class and its probability per row. */
export function summarize(probabilities: Float32Array, classes: number): Predictions {
  const n = probabilities.length / classes;
  const predicted = new Int32Array(n);
  const confidence = new Float32Array(n);
  for (let i = 0; i < n; i += 1) {
    let best = 0;
    for (let c = 1; c < classes; c += 1) if (probabilities[i * classes + c]! > probabilities[i * classes + best]!) best = c;
    predicted[i] = best;
    confidence[i] = probabilities[i * classes + best]!;
  }
  return { classes: predicted, confidence, probabilities };
}

/** Accuracy and mean cross entropy of probabilities [n, classes] against labels. */
export function score(probabilities: Float32Array, classes: number, truth: ArrayLike<number>): { accuracy: number; loss: number } {
  const { classes: predicted } = summarize(probabilities, classes);
  let correct = 0;
  let loss = 0;
  for (let i = 0; i < predicted.length; i += 1) {
    if (predicted[i] === truth[i]) correct += 1;
    loss -= Math.log(Math.max(probabilities[i * classes + truth[i]!]!, 1e-12));
  }
  return predicted.length ? { accuracy: correct / predicted.length, loss: loss / predicted.length } : { accuracy: Number.NaN, loss: Number.NaN };
}

/**
 * Classifies feature rows [n, dim] with a head. Features are L2-normalised first when the head
 * was trained on normalised features (`input: 'l2-normalized'`, the linear probe's heads), so raw
 * or already-normalised features (`extractFeatures`) both work.
 */
export async function predictFromFeatures(features: Float32Array, dim: number, head: LinearHead): Promise<Predictions> {
  if (dim !== head.dim) throw new RangeError(`the head takes ${head.dim}-d features, got ${dim}-d`);
  const n = features.length / dim;
  if (!Number.isInteger(n)) throw new RangeError(`${features.length} values are not rows of ${dim}`);
  const x = head.input === 'l2-normalized' ? l2NormalizedRows(features, features.length / dim, dim) : features;
  const probabilities = tf.tidy(() => tf.softmax(tf.add(tf.matMul(tf.tensor2d(x, [n, dim]), tf.tensor2d(head.weights, [dim, head.classes])), tf.tensor1d(head.bias))));
  const values = (await probabilities.data()) as Float32Array;
  probabilities.dispose();
  return summarize(new Float32Array(values), head.classes);
}

/** counts[t][p]: how many images of true class t were predicted as p. */
export function confusionMatrix(truth: ArrayLike<number>, predicted: ArrayLike<number>, classes: number): number[][] {
  if (truth.length !== predicted.length) throw new RangeError(`${truth.length} true labels but ${predicted.length} predictions`);
  const matrix = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  for (let i = 0; i < truth.length; i += 1) {
    const t = truth[i]!;
    const p = predicted[i]!;
    if (!(t >= 0 && t < classes && p >= 0 && p < classes)) throw new RangeError(`pair ${i} (${t}, ${p}) is outside 0..${classes - 1}`);
    matrix[t]![p]! += 1;
  }
  return matrix;
}

/** Each class's accuracy (recall: the diagonal over the row's total); null for a class with no images. */
export function perClassAccuracy(matrix: number[][]): (number | null)[] {
  return matrix.map((row, c) => {
    const total = row.reduce((sum, value) => sum + value, 0);
    return total ? row[c]! / total : null;
  });
}

// ---------------------------------------------------------------------------------------------
// Linear probe

export interface EpochRecord {
  /** 1-based. */
  epoch: number;
  trainLoss: number;
  /** NaN when there is no validation set. */
  valAccuracy: number;
  valLoss: number;
  lr: number;
}

export interface LinearProbeOptions {
  classes: number;
  /** Passes over the training set, at most (100). */
  epochs?: number;
  /**
   * Learning rate at the start of the cosine schedule (1). The standardised inputs have a norm near
   * 1, so full-batch momentum SGD is stable up to about 7; 0.1 had not converged when the patience
   * ran out on 6 validation images.
   */
  lr?: number;
  momentum?: number;
  weightDecay?: number;
  /** Mini-batch size (256: full batch for a few hundred labels). */
  batch?: number;
  /** Epochs without a better validation accuracy before stopping (15). */
  patience?: number;
  seed: number;
  /** Called after each epoch; 'stop' ends training (the best weights so far are kept). */
  onEpoch?(epoch: number, total: number, valAccuracy: number): void | 'stop';
}

/**
 * The linear probe's head before folding: logits = ((x / ||x||) - mean) * scale . weights + bias.
 * LP-FT fine-tuning starts from it (finetune-backbone.ts), keeping mean and scale fixed.
 */
export interface ProbeParts {
  mean: Float32Array;
  scale: Float32Array;
  /** [dim, classes] row-major. */
  weights: Float32Array;
  bias: Float32Array;
}

export interface LinearProbeResult extends LinearHead {
  /** The kept head before its standardisation was folded in. */
  parts: ProbeParts;
  /** The kept epoch's validation accuracy (NaN without validation). */
  valAccuracy: number;
  /** The kept epoch (1-based); the last one without validation. */
  bestEpoch: number;
  history: EpochRecord[];
  /** True when training ended before `epochs` (patience or 'stop'). */
  stoppedEarly: boolean;
}

/** Throws a RangeError unless `classes` >= 2 and every indexed label is a class. */
export function checkLabels(labels: ArrayLike<number>, indices: number[], classes: number): void {
  if (!Number.isInteger(classes) || classes < 2) throw new RangeError(`classes must be an integer of at least 2, got ${classes}`);
  for (const i of indices) {
    if (!(i >= 0 && i < labels.length)) throw new RangeError(`index ${i} is outside the ${labels.length} labelled images`);
    const label = labels[i]!;
    if (!(Number.isInteger(label) && label >= 0 && label < classes)) throw new RangeError(`image ${i} has label ${label}, outside 0..${classes - 1}`);
  }
}

/** Is (accuracy, loss) better than the best so far? Accuracy first, lower loss breaks a tie. */
export function better(accuracy: number, loss: number, best: { accuracy: number; loss: number }): boolean {
  return accuracy > best.accuracy || (accuracy === best.accuracy && loss < best.loss);
}

/** Cosine decay from `base` at epoch 0 towards 0 at `epochs`. */
export function cosineLr(base: number, epoch: number, epochs: number): number {
  return (base * (1 + Math.cos((Math.PI * epoch) / epochs))) / 2;
}

/**
 * Softmax regression on frozen features (the linear evaluation of the SSL papers, for the few
 * labels a user gives). Rows of `features` ([n, dim]) are L2-normalised, then standardised per
 * dimension with the training rows' mean and deviation (backbone features after ReLU share one
 * dominant direction; centring them makes plain SGD converge in tens of epochs instead of
 * thousands) and scaled by 1/sqrt(dim), so one learning rate suits every width. The returned
 * weights have that standardisation folded in: they apply to L2-normalised features directly.
 * Mini-batch SGD with momentum and weight decay on a cosine schedule; after each epoch the
 * validation accuracy decides the kept weights (ties: lower validation loss) and stops training
 * after `patience` epochs without a better accuracy.
 */
export async function linearProbe(features: Float32Array, dim: number, trainIdx: number[], labels: Int32Array | number[], valIdx: number[], options: LinearProbeOptions): Promise<LinearProbeResult> {
  const { classes, seed } = options;
  const epochs = options.epochs ?? 100;
  const baseLr = options.lr ?? 1;
  const patience = options.patience ?? 15;
  const batch = options.batch ?? 256;
  if (trainIdx.length === 0) throw new RangeError('the linear probe needs at least one training image');
  checkLabels(labels, [...trainIdx, ...valIdx], classes);
  if (features.length !== labels.length * dim) throw new RangeError(`features hold ${features.length / dim} rows of ${dim} but there are ${labels.length} labels`);
  const normalized = l2NormalizedRows(features, features.length / dim, dim);

  // Standardisation from the training rows, folded into the weights at the end.
  const mean = new Float64Array(dim);
  const variance = new Float64Array(dim);
  const scale = new Float32Array(dim);
  for (const i of trainIdx) for (let j = 0; j < dim; j += 1) mean[j]! += normalized[i * dim + j]! / trainIdx.length;
  for (const i of trainIdx) for (let j = 0; j < dim; j += 1) variance[j]! += (normalized[i * dim + j]! - mean[j]!) ** 2 / trainIdx.length;
  // A constant dimension (a dead channel) carries nothing: weight 0, not 1 / 0. A nearly constant
  // one is not blown up past 10x the typical dimension's scale.
  const floor = (0.01 * variance.reduce((sum, v) => sum + v, 0)) / dim;
  for (let j = 0; j < dim; j += 1) scale[j] = variance[j]! > 1e-12 ? 1 / Math.sqrt(Math.max(variance[j]!, floor) * dim) : 0;
  const standardized = (indices: number[]): Float32Array => {
    const out = new Float32Array(indices.length * dim);
    indices.forEach((i, row) => {
      for (let j = 0; j < dim; j += 1) out[row * dim + j] = (normalized[i * dim + j]! - mean[j]!) * scale[j]!;
    });
    return out;
  };

  const rng = new Rng(seed);
  const trainX = tf.tensor2d(standardized(trainIdx), [trainIdx.length, dim]);
  const trainY = tf.tensor1d(Int32Array.from(trainIdx, (i) => labels[i]!), 'int32');
  const valX = valIdx.length ? tf.tensor2d(standardized(valIdx), [valIdx.length, dim]) : null;
  const valTruth = Int32Array.from(valIdx, (i) => labels[i]!);
  // Zeros: the problem is convex, so the start only needs to be deterministic.
  const weight = tf.tidy(() => tf.variable(tf.zeros([dim, classes]), true, `probe_w_${Math.random().toString(36).slice(2, 8)}`));
  const bias = tf.tidy(() => tf.variable(tf.zeros([classes]), true, `probe_b_${Math.random().toString(36).slice(2, 8)}`));
  const params: [string, tf.Variable][] = [
    ['weight', weight],
    ['bias', bias],
  ];
  const optimizer = new Sgd(options.momentum ?? 0.9, options.weightDecay ?? 1e-4);
  const history: EpochRecord[] = [];
  let best = { accuracy: -1, loss: Number.POSITIVE_INFINITY, epoch: 0, weights: new Float32Array(0), bias: new Float32Array(0) };
  let sinceImprovement = 0;
  let stoppedEarly = false;
  try {
    for (let epoch = 0; epoch < epochs; epoch += 1) {
      const lr = cosineLr(baseLr, epoch, epochs);
      const order = rng.permutation(trainIdx.length);
      const steps = Math.ceil(trainIdx.length / batch);
      let lossSum = 0;
      for (let step = 0; step < steps; step += 1) {
        const rows = order.subarray(Math.floor((step * trainIdx.length) / steps), Math.floor(((step + 1) * trainIdx.length) / steps));
        const loss = tf.tidy(() => {
          const picked = tf.tensor1d(rows, 'int32');
          const x = tf.gather(trainX, picked);
          const y = tf.oneHot(tf.gather(trainY, picked), classes);
          const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, tf.add(tf.matMul(x, weight), bias)) as tf.Scalar, [weight, bias]);
          optimizer.step(params, { weight: grads[weight.name]!, bias: grads[bias.name]! }, lr);
          return value;
        });
        lossSum += ((await loss.data()) as Float32Array)[0]! * rows.length;
        loss.dispose();
      }
      let valScore = { accuracy: Number.NaN, loss: Number.NaN };
      if (valX) {
        const probabilities = tf.tidy(() => tf.softmax(tf.add(tf.matMul(valX, weight), bias)));
        valScore = score((await probabilities.data()) as Float32Array, classes, valTruth);
        probabilities.dispose();
      }
      history.push({ epoch: epoch + 1, trainLoss: lossSum / trainIdx.length, valAccuracy: valScore.accuracy, valLoss: valScore.loss, lr });
      if (!valX || better(valScore.accuracy, valScore.loss, best)) {
        if (valScore.accuracy > best.accuracy) sinceImprovement = 0;
        else sinceImprovement += 1;
        best = { accuracy: valScore.accuracy, loss: valScore.loss, epoch: epoch + 1, weights: new Float32Array(await weight.data()), bias: new Float32Array(await bias.data()) };
      } else {
        sinceImprovement += 1;
      }
      const verdict = options.onEpoch?.(epoch + 1, epochs, valScore.accuracy);
      if (verdict === 'stop' || (valX && sinceImprovement >= patience)) {
        stoppedEarly = epoch + 1 < epochs;
        break;
      }
    }
  } finally {
    for (const tensor of [trainX, trainY, valX, weight, bias]) tensor?.dispose();
    optimizer.dispose();
  }

  // Fold the standardisation in: z = (x - mean) * scale, so z W + b = x W' + b' with
  // W' = diag(scale) W and b' = b - mean^T W'.
  const folded = new Float32Array(dim * classes);
  const foldedBias = Float32Array.from(best.bias);
  for (let j = 0; j < dim; j += 1) {
    for (let c = 0; c < classes; c += 1) {
      const w = best.weights[j * classes + c]! * scale[j]!;
      folded[j * classes + c] = w;
      foldedBias[c] = foldedBias[c]! - mean[j]! * w;
    }
  }
  return {
    weights: folded,
    bias: foldedBias,
    dim,
    classes,
    input: 'l2-normalized',
    parts: { mean: Float32Array.from(mean), scale, weights: best.weights, bias: best.bias },
    valAccuracy: best.accuracy,
    bestEpoch: best.epoch,
    history,
    stoppedEarly,
  };
}

export interface CrossValidation {
  /** Mean over folds of the best validation accuracy. */
  meanAccuracy: number;
  foldAccuracies: number[];
  bestEpochs: number[];
  /** Epochs to train the final head on all labels with (no validation left): the folds' median best epoch. */
  suggestedEpochs: number;
}

/**
 * Runs the linear probe on every fold of a k-fold plan (`stratifiedSplit(...).folds`) to estimate
 * its accuracy when there are too few labels for a held-out set. Train the final head afterwards on
 * all labels: `linearProbe(features, dim, all, labels, [], { ...options, epochs: suggestedEpochs })`.
 */
export async function crossValidateLinearProbe(features: Float32Array, dim: number, labels: Int32Array | number[], folds: number[][], options: Omit<LinearProbeOptions, 'onEpoch'> & { onFold?(fold: number, total: number, valAccuracy: number): void }): Promise<CrossValidation> {
  const foldAccuracies: number[] = [];
  const bestEpochs: number[] = [];
  for (let fold = 0; fold < folds.length; fold += 1) {
    const { train, validation } = foldSplit(folds, fold, labels);
    if (validation.length === 0) continue;
    const result = await linearProbe(features, dim, train, labels, validation, options);
    foldAccuracies.push(result.valAccuracy);
    bestEpochs.push(result.bestEpoch);
    options.onFold?.(fold + 1, folds.length, result.valAccuracy);
  }
  const sorted = [...bestEpochs].sort((a, b) => a - b);
  return {
    meanAccuracy: foldAccuracies.length ? foldAccuracies.reduce((a, b) => a + b, 0) / foldAccuracies.length : Number.NaN,
    foldAccuracies,
    bestEpochs,
    suggestedEpochs: sorted.length ? sorted[Math.floor(sorted.length / 2)]! : (options.epochs ?? 100),
  };
}

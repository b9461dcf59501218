import * as tf from '../backend/tfjs';
import { defaultCropRatio, imagenetMean, imagenetStd, randomResizedCrop, type FloatImage } from '../../data/augment';
import { evalBatch } from '../../data/jigsaw';
import { Rng } from '../../data/rng';
import { defaultConvGradMode, type ConvGradMode } from '../nn/conv';
import { better, checkLabels, cosineLr, score, summarize, type EpochRecord, type LinearHead, type Predictions, type ProbeParts } from './finetune';
import { addLinear, globalAveragePool, Parameters, SeedSequence, type BatchNormUpdate, type ResNet } from '../nn/resnet';
import { Sgd } from '../nn/sgd';

/**
 * Few-label classification that trains or runs the backbone on images: `fineTune` (the whole
 * backbone plus a linear head, end to end with augmentation; LP-FT when it starts from the
 * linear probe's head) and `predict`. The splits, the linear probe and the metrics are in
 * finetune.ts.
 */

/**
 * Labelled images for fine-tuning and prediction: decoded RGB in [0, 1] at any size (cropped and
 * resized here), or images already prepared at `size` x `size` as NHWC ImageNet-normalised
 * pixels (`evalBatch`'s output, `LabelledSet.images`). Indices refer to the images' order.
 */
export type ImageSet = { images: FloatImage[] } | { pixels: Float32Array; size: number };

function imageCount(set: ImageSet): number {
  return 'images' in set ? set.images.length : set.pixels.length / (set.size * set.size * 3);
}

/** The evaluation input of the chosen images: resize the short side + centre crop, normalised, NHWC. */
function evalPixels(set: ImageSet, indices: number[], size: number): Float32Array {
  if ('images' in set) return evalBatch(indices.map((i) => set.images[i]!), size);
  if (set.size !== size) throw new RangeError(`the images were prepared at ${set.size} px, not ${size}`);
  const plane = size * size * 3;
  const out = new Float32Array(indices.length * plane);
  indices.forEach((i, row) => out.set(set.pixels.subarray(i * plane, (i + 1) * plane), row * plane));
  return out;
}

/**
 * The training input of the chosen images: RandomResizedCrop(size, scale) + RandomHorizontalFlip,
 * ImageNet-normalised, NHWC. Resampling is linear with weights summing to 1, so cropping
 * already-normalised pixels equals normalising the cropped image.
 */
function augmentedPixels(set: ImageSet, indices: number[], size: number, rng: Rng, scale: [number, number]): Float32Array {
  const plane = size * size * 3;
  const out = new Float32Array(indices.length * plane);
  indices.forEach((i, row) => {
    let source: FloatImage;
    let normalize: boolean;
    if ('images' in set) {
      source = set.images[i]!;
      normalize = true;
    } else {
      source = { data: set.pixels.subarray(i * plane, (i + 1) * plane), width: size, height: size };
      normalize = false;
    }
    const crop = randomResizedCrop(source, size, rng, scale, defaultCropRatio).data;
    const flip = rng.next() < 0.5;
    const base = row * plane;
    for (let y = 0; y < size; y += 1) {
      for (let x = 0; x < size; x += 1) {
        const s = (y * size + (flip ? size - 1 - x : x)) * 3;
        const d = base + (y * size + x) * 3;
        for (let c = 0; c < 3; c += 1) out[d + c] = normalize ? (crop[s + c]! - imagenetMean[c]!) / imagenetStd[c]! : crop[s + c]!;
      }
    }
  });
  return out;
}

/** Pooled backbone features (inference-mode BatchNorm) through the head: softmax probabilities [n, classes]. */
async function headProbabilities(backbone: ResNet, weight: tf.Tensor2D, bias: tf.Tensor1D, normalizeInput: boolean, pixels: Float32Array, size: number, batch: number, convGrad: ConvGradMode): Promise<Float32Array> {
  const plane = size * size * 3;
  const count = pixels.length / plane;
  const classes = bias.shape[0];
  const out = new Float32Array(count * classes);
  for (let start = 0; start < count; start += batch) {
    const n = Math.min(batch, count - start);
    const probabilities = tf.tidy(() => {
      const x = tf.tensor4d(pixels.subarray(start * plane, (start + n) * plane), [n, size, size, 3]);
      let pooled = globalAveragePool(backbone.forward(x, { training: false, convGrad }));
      if (normalizeInput) pooled = tf.div(pooled, tf.maximum(tf.norm(pooled, 2, 1, true), 1e-12));
      return tf.softmax(tf.add(tf.matMul(pooled, weight), bias));
    });
    out.set((await probabilities.data()) as Float32Array, start * classes);
    probabilities.dispose();
  }
  return out;
}

export interface PredictOptions {
  /** Images per forward pass (32). */
  batch?: number;
  convGrad?: ConvGradMode;
  /** Which images to classify (all of them when left out). */
  indices?: number[];
}

/**
 * Classifies images with a backbone and a head (a fine-tuned one, or a linear probe's): whole
 * images resized and centre-cropped to `size`, inference-mode BatchNorm, in batches.
 */
export async function predict(backbone: ResNet, head: LinearHead, images: ImageSet, size: number, options: PredictOptions = {}): Promise<Predictions> {
  if (head.dim !== backbone.outChannels) throw new RangeError(`the head takes ${head.dim}-d features but the backbone gives ${backbone.outChannels}`);
  const indices = options.indices ?? Array.from({ length: imageCount(images) }, (_, i) => i);
  const weight = tf.tensor2d(head.weights, [head.dim, head.classes]);
  const bias = tf.tensor1d(head.bias);
  const batch = options.batch ?? 32;
  const convGrad = options.convGrad ?? defaultConvGradMode(tf.getBackend());
  const probabilities = new Float32Array(indices.length * head.classes);
  try {
    // Prepared a batch at a time: all the images at once could be gigabytes of float pixels.
    for (let start = 0; start < indices.length; start += batch) {
      const chunk = indices.slice(start, start + batch);
      probabilities.set(await headProbabilities(backbone, weight, bias, head.input === 'l2-normalized', evalPixels(images, chunk, size), size, batch, convGrad), start * head.classes);
    }
    return summarize(probabilities, head.classes);
  } finally {
    weight.dispose();
    bias.dispose();
  }
}

/**
 * The batches of one fine-tuning epoch: one shuffled pass cut into ceil(n / batch) batches of
 * near-equal size (none tiny: BatchNorm needs a batch), or, when that is fewer than `minSteps`,
 * `minSteps` batches of min(batch, n) images from consecutive shuffled passes.
 */
function epochOrder(trainIdx: number[], batch: number, minSteps: number, rng: Rng): number[][] {
  const n = trainIdx.length;
  const steps = Math.min(Math.ceil(n / batch), Math.floor(n / 2));
  if (steps >= minSteps) {
    const order = rng.shuffle([...trainIdx]);
    return Array.from({ length: steps }, (_, step) => order.slice(Math.floor((step * n) / steps), Math.floor(((step + 1) * n) / steps)));
  }
  const perStep = Math.min(batch, n);
  const stream: number[] = [];
  while (stream.length < minSteps * perStep) stream.push(...rng.shuffle([...trainIdx]));
  return Array.from({ length: minSteps }, (_, step) => stream.slice(step * perStep, (step + 1) * perStep));
}

/** What `fineTune` trains on top of the pooled features, and hands back as one Linear. */
interface FineTuneHead {
  readonly params: Parameters;
  /** What the exported Linear takes: pooled features as they are, or L2-normalised. */
  readonly input: LinearHead['input'];
  /** Training-mode logits [n, classes] of pooled features [n, dim]; batch statistics go to `stats` (kept). */
  trainingLogits(pooled: tf.Tensor2D, stats: { mean?: tf.Tensor1D; variance?: tf.Tensor1D }): tf.Tensor2D;
  /** Takes a step's batch statistics (if the head keeps any) and disposes them. */
  applyUpdate(stats: { mean?: tf.Tensor1D; variance?: tf.Tensor1D }, count: number): void;
  /** The inference-mode head as one Linear on its input: [W' [dim, classes], b' [classes]]. */
  folded(): [tf.Tensor2D, tf.Tensor1D];
  export(): Promise<LinearHead>;
  dispose(): void;
}

/** Copies a folded head out as a LinearHead. */
async function exportFolded(head: FineTuneHead, dim: number, classes: number): Promise<LinearHead> {
  const [weight, bias] = head.folded();
  const out: LinearHead = { weights: new Float32Array(await weight.data()), bias: new Float32Array(await bias.data()), dim, classes, input: head.input };
  weight.dispose();
  bias.dispose();
  return out;
}

/**
 * A new head for `fineTune` (no `startHead`): Linear(dim, classes) behind a non-affine BatchNorm1d whose output
 * is scaled by 1/sqrt(dim) (MAE's linear-probe head, `BatchNorm1d(affine=False)` + Linear, plus the
 * scale). Pooled backbone features are all positive with a norm that depends on the architecture,
 * width and checkpoint (about 13 for a random-init cpu-small ResNet-18); standardised and scaled they
 * have a norm near 1 whatever the backbone, so one head learning rate suits every backbone (a bare
 * Linear diverged at lr 0.1 on cpu-small). At inference the BatchNorm is an affine map and is
 * folded into the Linear, so what is exported is a plain Linear on the pooled features.
 */
class NewHead implements FineTuneHead {
  readonly input = 'pooled' as const;
  readonly params = new Parameters();
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;
  private readonly runningMean: tf.Variable;
  private readonly runningVar: tf.Variable;
  private readonly scale: number;
  private updates = 0;

  constructor(
    readonly dim: number,
    readonly classes: number,
    seed: number,
  ) {
    addLinear(this.params, 'fc', dim, classes, new SeedSequence(seed));
    this.params.add('norm.running_mean', tf.zeros([dim]), false);
    this.params.add('norm.running_var', tf.ones([dim]), false);
    this.weight = this.params.get('fc.weight');
    this.bias = this.params.get('fc.bias');
    this.runningMean = this.params.get('norm.running_mean');
    this.runningVar = this.params.get('norm.running_var');
    this.scale = 1 / Math.sqrt(dim);
  }

  /** Training-mode logits [n, classes] of pooled features [n, dim] (batch statistics); the statistics go to `stats` (kept). */
  trainingLogits(pooled: tf.Tensor2D, stats: { mean?: tf.Tensor1D; variance?: tf.Tensor1D }): tf.Tensor2D {
    const { mean, variance } = tf.moments(pooled, 0);
    stats.mean = tf.keep(mean as tf.Tensor1D);
    stats.variance = tf.keep(variance as tf.Tensor1D);
    const standardized = tf.mul(tf.sub(pooled, mean), tf.mul(tf.rsqrt(tf.add(variance, headEpsilon)), this.scale));
    return tf.add(tf.matMul(standardized, this.weight), this.bias);
  }

  /**
   * Moves the running statistics towards a batch's (PyTorch's unbiased variance), then disposes
   * them. The rate is max(0.1, 1 / updates): a cumulative average over the first ten steps, so a
   * fine-tune of a few steps per epoch evaluates with statistics of its data, not the (0, 1) start.
   */
  applyUpdate(stats: { mean?: tf.Tensor1D; variance?: tf.Tensor1D }, count: number): void {
    if (!stats.mean || !stats.variance) return;
    this.updates += 1;
    const rate = Math.max(0.1, 1 / this.updates);
    const { mean, variance } = stats as { mean: tf.Tensor1D; variance: tf.Tensor1D };
    tf.tidy(() => {
      this.runningMean.assign(tf.add(tf.mul(this.runningMean, 1 - rate), tf.mul(mean, rate)));
      this.runningVar.assign(tf.add(tf.mul(this.runningVar, 1 - rate), tf.mul(variance, (rate * count) / Math.max(1, count - 1))));
    });
    mean.dispose();
    variance.dispose();
  }

  /** The inference-mode head as one Linear on pooled features: [W' [dim, classes], b' [classes]]. */
  folded(): [tf.Tensor2D, tf.Tensor1D] {
    return tf.tidy(() => {
      const inverse = tf.mul(tf.rsqrt(tf.add(this.runningVar, headEpsilon)), this.scale);
      const weight = tf.mul(this.weight, tf.reshape(inverse, [this.dim, 1])) as tf.Tensor2D;
      const bias = tf.sub(this.bias, tf.squeeze(tf.matMul(tf.reshape(this.runningMean, [1, this.dim]), weight))) as tf.Tensor1D;
      return [weight, bias];
    });
  }

  export(): Promise<LinearHead> {
    return exportFolded(this, this.dim, this.classes);
  }

  dispose(): void {
    this.params.dispose();
  }
}

/**
 * The linear probe's head as the start of fine-tuning (LP-FT, Kumar et al. 2022: a new random
 * head's large early gradients distort pretrained features; starting from the probe's head does
 * not): logits = ((x / ||x||) - mean) * scale . W + b with the probe's fixed standardisation
 * (mean, scale) and W, b trained from the probe's values. The standardised inputs have a norm
 * near 1, as `NewHead`'s, so the same head learning rate suits both. Exported folded, on
 * L2-normalised features like the probe's own head.
 */
class ProbeStartHead implements FineTuneHead {
  readonly params = new Parameters();
  readonly input = 'l2-normalized' as const;
  private readonly weight: tf.Variable;
  private readonly bias: tf.Variable;
  private readonly mean: tf.Tensor1D;
  private readonly scale: tf.Tensor1D;

  constructor(
    readonly dim: number,
    readonly classes: number,
    start: ProbeParts,
  ) {
    if (start.mean.length !== dim || start.weights.length !== dim * classes || start.bias.length !== classes) {
      throw new RangeError(`the starting head is ${start.mean.length}-d with ${start.bias.length} classes, not ${dim}-d with ${classes}`);
    }
    this.weight = this.params.add('fc.weight', tf.tensor2d(start.weights, [dim, classes]), true);
    this.bias = this.params.add('fc.bias', tf.tensor1d(start.bias), true);
    this.mean = tf.tensor1d(start.mean);
    this.scale = tf.tensor1d(start.scale);
  }

  trainingLogits(pooled: tf.Tensor2D): tf.Tensor2D {
    const normalized = tf.div(pooled, tf.maximum(tf.norm(pooled, 2, 1, true), 1e-12));
    return tf.add(tf.matMul(tf.mul(tf.sub(normalized, this.mean), this.scale), this.weight), this.bias);
  }

  applyUpdate(): void {}

  folded(): [tf.Tensor2D, tf.Tensor1D] {
    return tf.tidy(() => {
      const weight = tf.mul(this.weight, tf.reshape(this.scale, [this.dim, 1])) as tf.Tensor2D;
      const bias = tf.sub(this.bias, tf.squeeze(tf.matMul(tf.reshape(this.mean, [1, this.dim]), weight))) as tf.Tensor1D;
      return [weight, bias];
    });
  }

  export(): Promise<LinearHead> {
    return exportFolded(this, this.dim, this.classes);
  }

  dispose(): void {
    this.params.dispose();
    this.mean.dispose();
    this.scale.dispose();
  }
}

const headEpsilon = 1e-5;

export interface FineTuneOptions {
  classes: number;
  /** Input side in pixels (the backbone's stride is 32: use a multiple of 32). */
  size: number;
  /** At most (30). */
  epochs?: number;
  /** Images per step (32); an epoch's batches are evened out so none is tiny. */
  batch?: number;
  /** Backbone learning rate at the start of the cosine schedule (0.01). */
  backboneLr?: number;
  /** Head learning rate at the start of the cosine schedule (0.1). */
  headLr?: number;
  momentum?: number;
  weightDecay?: number;
  /** RandomResizedCrop area range of the training augmentation ([0.5, 1]); null turns augmentation off (plain resize + centre crop). */
  cropScale?: [number, number] | null;
  /** Epochs without a better validation accuracy before stopping (8), once `minEpochs` have run. */
  patience?: number;
  /**
   * Warm-up epochs (half of `epochs`): early stopping cannot end training before them and none
   * of them is kept as the best epoch. With a few labels the validation accuracy first drops
   * while the new head and the backbone settle, and 20 validation images can rank an early,
   * half-trained epoch best by luck (measured on cifar10-dev, 10 labels per class: without a
   * warm-up, fine-tuning kept epoch 2 and tested below the linear probe).
   */
  minEpochs?: number;
  /**
   * Steps an epoch has at least (4): when the training images fit in fewer batches, an epoch
   * makes several shuffled passes (freshly augmented), so that patience and the BatchNorm running
   * statistics see more than one step per epoch.
   */
  minStepsPerEpoch?: number;
  seed: number;
  /**
   * The linear probe's head (`linearProbe(...).parts`, trained on this backbone's features of the
   * same training images) to start from: LP-FT. A new head when left out.
   */
  startHead?: ProbeParts;
  convGrad?: ConvGradMode;
  /** Images per forward pass when evaluating (32). */
  evalBatch?: number;
  /** Called after each epoch; 'stop' ends training (the best weights so far are restored). */
  onEpoch?(epoch: number, total: number, metrics: { trainLoss: number; valAccuracy: number }): void | 'stop';
  /** Called after each step (1-based within the epoch), e.g. for progress or cancelling; 'stop' ends training at once (the best epoch so far is still restored). */
  onStep?(step: number, steps: number, epoch: number): void | 'stop';
}

export interface FineTuneResult {
  /** The restored epoch's validation accuracy (NaN without validation). */
  valAccuracy: number;
  /** The restored epoch (1-based); the last one run without validation. */
  bestEpoch: number;
  history: EpochRecord[];
  head: LinearHead;
  stoppedEarly: boolean;
}

/**
 * Fine-tunes the whole backbone plus a linear head on the globally average-pooled features —
 * the linear probe's head when `startHead` is given (LP-FT: `ProbeStartHead`), else a new
 * Linear(outChannels, classes) with PyTorch's default init behind a non-affine BatchNorm1d
 * (`NewHead`); the head handed back is a plain Linear with the rest folded in — on labelled
 * images, as the SSL papers' semi-supervised evaluation does: RandomResizedCrop (scale 0.5-1) and
 * horizontal flips drawn from `seed`, SGD with momentum and weight decay, a lower rate for the
 * backbone than for the head, cosine schedule over the epochs, BatchNorm in training mode with
 * its running statistics updated after each step (as trainer.ts does). Each epoch the validation
 * images are classified with inference-mode BatchNorm; the best epoch's weights (accuracy first,
 * lower validation loss on a tie), running statistics included, are snapshotted and restored into
 * `backbone` at the end, and training stops after `patience` epochs without a better accuracy
 * (never before `minEpochs`, half the epochs by default, which are never kept as the best).
 * The backbone is changed in place: pass a copy to keep the original.
 */
export async function fineTune(backbone: ResNet, images: ImageSet, labels: Int32Array | number[], trainIdx: number[], valIdx: number[], options: FineTuneOptions): Promise<FineTuneResult> {
  const { classes, size, seed } = options;
  const epochs = options.epochs ?? 30;
  const batch = options.batch ?? 32;
  const patience = options.patience ?? 8;
  const minEpochs = Math.min(epochs, options.minEpochs ?? Math.ceil(epochs / 2));
  const minSteps = options.minStepsPerEpoch ?? 4;
  const cropScale = options.cropScale === undefined ? ([0.5, 1] as [number, number]) : options.cropScale;
  const convGrad = options.convGrad ?? defaultConvGradMode(tf.getBackend());
  if (trainIdx.length < 2) throw new RangeError('fine-tuning needs at least 2 training images (BatchNorm needs a batch)');
  if (!Number.isInteger(batch) || batch < 2) throw new RangeError(`batch must be an integer of at least 2 (BatchNorm needs a batch), got ${batch}`);
  if (!Number.isInteger(size) || size < 32) throw new RangeError(`size must be an integer of at least 32, got ${size}`);
  if (labels.length !== imageCount(images)) throw new RangeError(`${labels.length} labels for ${imageCount(images)} images`);
  checkLabels(labels, [...trainIdx, ...valIdx], classes);

  const dim = backbone.outChannels;
  const head: FineTuneHead = options.startHead ? new ProbeStartHead(dim, classes, options.startHead) : new NewHead(dim, classes, seed);
  const backboneParams = backbone.params.trainable();
  const headParams = head.params.trainable();
  const nameOf = new Map([...backboneParams, ...headParams].map(([name, variable]) => [variable.name, name]));
  const varList = [...backboneParams, ...headParams].map(([, variable]) => variable);
  // Everything a restore needs: weights, BatchNorm running statistics, the head.
  const snapshotted = [...backbone.params.variables.values(), ...head.params.variables.values()];
  const backboneOptimizer = new Sgd(options.momentum ?? 0.9, options.weightDecay ?? 1e-4);
  const headOptimizer = new Sgd(options.momentum ?? 0.9, options.weightDecay ?? 1e-4);
  const rng = new Rng(seed);
  const valPixels = valIdx.length ? evalPixels(images, valIdx, size) : null;
  const valTruth = Int32Array.from(valIdx, (i) => labels[i]!);
  const history: EpochRecord[] = [];
  let best = { accuracy: -1, loss: Number.POSITIVE_INFINITY, epoch: 0 };
  let snapshot: tf.Tensor[] | null = null;
  let sinceImprovement = 0;
  let stoppedEarly = false;
  try {
    for (let epoch = 0; epoch < epochs; epoch += 1) {
      const backboneLr = cosineLr(options.backboneLr ?? 0.01, epoch, epochs);
      const headLr = cosineLr(options.headLr ?? 0.1, epoch, epochs);
      const order = epochOrder(trainIdx, batch, minSteps, rng);
      let lossSum = 0;
      let seen = 0;
      let stopRequested = false;
      for (let step = 0; step < order.length; step += 1) {
        const chosen = order[step]!;
        const pixels = cropScale ? augmentedPixels(images, chosen, size, rng, cropScale) : evalPixels(images, chosen, size);
        const updates: BatchNormUpdate[] = [];
        const headStats: { mean?: tf.Tensor1D; variance?: tf.Tensor1D } = {};
        const loss = tf.tidy(() => {
          const x = tf.tensor4d(pixels, [chosen.length, size, size, 3]);
          const y = tf.oneHot(tf.tensor1d(Int32Array.from(chosen, (i) => labels[i]!), 'int32'), classes);
          const { value, grads } = tf.variableGrads(() => {
            const pooled = globalAveragePool(backbone.forward(x, { training: true, convGrad, batchNormUpdates: updates }));
            return tf.losses.softmaxCrossEntropy(y, head.trainingLogits(pooled, headStats)) as tf.Scalar;
          }, varList);
          const byName: Record<string, tf.Tensor> = {};
          for (const [variableName, grad] of Object.entries(grads)) byName[nameOf.get(variableName)!] = grad;
          backboneOptimizer.step(backboneParams, byName, backboneLr);
          headOptimizer.step(headParams, byName, headLr);
          return value;
        });
        backbone.applyBatchNormUpdates(updates);
        head.applyUpdate(headStats, chosen.length);
        lossSum += (await loss.data())[0]! * chosen.length;
        seen += chosen.length;
        loss.dispose();
        if (options.onStep?.(step + 1, order.length, epoch + 1) === 'stop') {
          stopRequested = true;
          break;
        }
      }
      if (stopRequested) {
        stoppedEarly = true;
        break;
      }
      let valScore = { accuracy: Number.NaN, loss: Number.NaN };
      if (valPixels) {
        const [weight, bias] = head.folded();
        valScore = score(await headProbabilities(backbone, weight, bias, head.input === 'l2-normalized', valPixels, size, options.evalBatch ?? 32, convGrad), classes, valTruth);
        weight.dispose();
        bias.dispose();
      }
      history.push({ epoch: epoch + 1, trainLoss: lossSum / seen, valAccuracy: valScore.accuracy, valLoss: valScore.loss, lr: backboneLr });
      // Warm-up epochs (before minEpochs) are never the one kept: the new head and the backbone
      // are still settling, and a few validation images can rank one of them best by luck.
      if (valPixels && epoch + 1 >= minEpochs && better(valScore.accuracy, valScore.loss, best)) {
        sinceImprovement = valScore.accuracy > best.accuracy ? 0 : sinceImprovement + 1;
        best = { accuracy: valScore.accuracy, loss: valScore.loss, epoch: epoch + 1 };
        for (const tensor of snapshot ?? []) tensor.dispose();
        snapshot = snapshotted.map((variable) => tf.clone(variable));
      } else {
        sinceImprovement += 1;
      }
      if (!valPixels) best = { ...best, epoch: epoch + 1 };
      const verdict = options.onEpoch?.(epoch + 1, epochs, { trainLoss: lossSum / seen, valAccuracy: valScore.accuracy });
      if (verdict === 'stop' || (valPixels && epoch + 1 >= minEpochs && sinceImprovement >= patience)) {
        stoppedEarly = epoch + 1 < epochs;
        break;
      }
    }
    if (snapshot) {
      const values = snapshot;
      tf.tidy(() => snapshotted.forEach((variable, i) => variable.assign(values[i]!)));
    } else if (valPixels && history.length > 0) {
      // Stopped (cancelled) during the warm-up: the weights are the last epoch's.
      const last = history[history.length - 1]!;
      best = { accuracy: last.valAccuracy, loss: last.valLoss, epoch: last.epoch };
    }
    return {
      valAccuracy: valPixels && best.epoch > 0 ? best.accuracy : Number.NaN,
      bestEpoch: best.epoch,
      history,
      head: await head.export(),
      stoppedEarly,
    };
  } finally {
    for (const tensor of snapshot ?? []) tensor.dispose();
    backboneOptimizer.dispose();
    headOptimizer.dispose();
    head.dispose();
  }
}

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FloatImage } from '../../../main/data/augment';
import { evalBatch } from '../../../main/data/jigsaw';
import {
  confusionMatrix,
  crossValidateLinearProbe,
  foldSplit,
  kFolds,
  linearProbe,
  perClassAccuracy,
  predictFromFeatures,
  stratifiedSplit,
} from '../../../main/engine/classify/finetune';
import { fineTune, predict, type FineTuneResult } from '../../../main/engine/classify/finetune-backbone';
import { extractFeatures } from '../../../main/engine/analysis/knn';
import { globalAveragePool, ResNet } from '../../../main/engine/nn/resnet';
import * as tf from '../../../main/engine/backend/tfjs';
import { seeded, useCpuBackend } from '../../helpers/engine';

beforeAll(useCpuBackend);

/** Labels with `counts[c]` images of class c, interleaved (0, 1, 2, 0, 1, 2, ...) so indices do not group by class. */
function labelsWith(counts: number[]): number[] {
  const left = [...counts];
  const labels: number[] = [];
  while (left.some((n) => n > 0)) {
    left.forEach((n, c) => {
      if (n > 0) {
        labels.push(c);
        left[c] = n - 1;
      }
    });
  }
  return labels;
}

function classesOf(indices: number[], labels: number[]): Set<number> {
  return new Set(indices.map((i) => labels[i]!));
}

describe('stratifiedSplit and kFolds', () => {
  const labels = labelsWith([10, 8, 5]);

  it('holds out about 20% of every class and keeps every class in train', () => {
    const split = stratifiedSplit(labels, { seed: 3 });
    expect(split.kFold).toBeUndefined();
    expect([...split.train, ...split.validation].sort((a, b) => a - b)).toEqual(labels.map((_, i) => i));
    expect(classesOf(split.train, labels)).toEqual(new Set([0, 1, 2]));
    expect(classesOf(split.validation, labels)).toEqual(new Set([0, 1, 2]));
    const held = [0, 1, 2].map((c) => split.validation.filter((i) => labels[i] === c).length);
    expect(held).toEqual([2, 2, 1]); // round(0.2 n), at least 1
  });

  it('is deterministic by seed', () => {
    expect(stratifiedSplit(labels, { seed: 3 })).toEqual(stratifiedSplit(labels, { seed: 3 }));
    expect(stratifiedSplit(labels, { seed: 4 }).validation).not.toEqual(stratifiedSplit(labels, { seed: 3 }).validation);
  });

  it('plans k folds when labels are few, never holding out a class of one image', () => {
    const few = labelsWith([4, 3, 2, 1]);
    const plan = stratifiedSplit(few, { seed: 1 });
    expect(plan.kFold).toBe(4);
    expect(plan.folds).toHaveLength(4);
    expect(plan.folds!.flat().sort((a, b) => a - b)).toEqual(few.map((_, i) => i));
    for (let fold = 0; fold < 4; fold += 1) {
      const { train, validation } = foldSplit(plan.folds!, fold, few);
      expect(classesOf(train, few)).toEqual(new Set([0, 1, 2, 3]));
      expect(classesOf(validation, few).has(3)).toBe(false);
      expect([...train, ...validation].sort((a, b) => a - b)).toEqual(few.map((_, i) => i));
    }
    // The plan's own train / validation are fold 0's.
    expect({ train: plan.train, validation: plan.validation }).toEqual(foldSplit(plan.folds!, 0, few));
  });

  it('k-fold covers every index exactly once, stratified and balanced', () => {
    const folds = kFolds(labels, 5, 9);
    const all = folds.flat();
    expect(all.sort((a, b) => a - b)).toEqual(labels.map((_, i) => i));
    const sizes = folds.map((fold) => fold.length);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    // Every class has at least 5 images, so every fold holds every class.
    for (const fold of folds) expect(classesOf(fold, labels)).toEqual(new Set([0, 1, 2]));
    expect(kFolds(labels, 5, 9)).toEqual(folds);
  });
});

/** `perClass` points of each of `classes` Gaussian blobs in `dim` dimensions. */
function blobs(classes: number, perClass: number, dim: number, seed: number, spread = 0.6): { features: Float32Array; labels: number[] } {
  const random = seeded(seed);
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const centres = Array.from({ length: classes }, () => Array.from({ length: dim }, normal));
  const labels = labelsWith(new Array<number>(classes).fill(perClass));
  const features = new Float32Array(labels.length * dim);
  labels.forEach((label, i) => {
    for (let j = 0; j < dim; j += 1) features[i * dim + j] = centres[label]![j]! + spread * normal();
  });
  return { features, labels };
}

function accuracy(predicted: ArrayLike<number>, truth: number[]): number {
  return truth.filter((label, i) => predicted[i] === label).length / truth.length;
}

describe('linearProbe', () => {
  it('separates Gaussian blobs, stops early and keeps the best epoch', async () => {
    const dim = 32;
    const { features, labels } = blobs(3, 20, dim, 7);
    const split = stratifiedSplit(labels, { seed: 0 });
    const before = tf.memory().numTensors;
    const seen: number[] = [];
    const result = await linearProbe(features, dim, split.train, labels, split.validation, { classes: 3, seed: 0, onEpoch: (epoch) => void seen.push(epoch) });
    expect(tf.memory().numTensors).toBe(before);
    expect(result.valAccuracy).toBeGreaterThanOrEqual(0.95);
    expect(result.stoppedEarly).toBe(true);
    expect(result.history.length).toBeLessThan(100);
    expect(seen).toEqual(result.history.map((record) => record.epoch));
    expect(result.history[result.bestEpoch - 1]!.valAccuracy).toBe(result.valAccuracy);
    expect(Math.max(...result.history.map((record) => record.valAccuracy))).toBe(result.valAccuracy);
    // The returned head (standardisation folded in) reproduces the kept epoch's accuracy on raw features.
    const validationRows = new Float32Array(split.validation.flatMap((i) => Array.from(features.subarray(i * dim, (i + 1) * dim))));
    const predicted = await predictFromFeatures(validationRows, dim, result);
    expect(accuracy(predicted.classes, split.validation.map((i) => labels[i]!))).toBe(result.valAccuracy);
  });

  it('cross-validates when labels are few', async () => {
    const dim = 16;
    const { features, labels } = blobs(3, 4, dim, 11);
    const plan = stratifiedSplit(labels, { seed: 2 });
    expect(plan.kFold).toBe(4);
    const cv = await crossValidateLinearProbe(features, dim, labels, plan.folds!, { classes: 3, seed: 0 });
    expect(cv.foldAccuracies).toHaveLength(4);
    expect(cv.meanAccuracy).toBeGreaterThanOrEqual(0.9);
    // The final head trains on every label for the suggested epochs, without validation.
    const all = labels.map((_, i) => i);
    const final = await linearProbe(features, dim, all, labels, [], { classes: 3, seed: 0, epochs: cv.suggestedEpochs });
    expect(final.history).toHaveLength(cv.suggestedEpochs);
    expect(final.bestEpoch).toBe(cv.suggestedEpochs);
    expect(accuracy((await predictFromFeatures(features, dim, final)).classes, labels)).toBe(1);
  });
});

/**
 * A tiny image task: class 0 has a bright top half, class 1 a bright bottom half (a vertical
 * cue survives horizontal flips and crops of half the area), on noise; 40 x 40, RGB in [0, 1].
 */
function halves(perClass: number, seed: number): { images: FloatImage[]; labels: number[] } {
  const random = seeded(seed);
  const labels = labelsWith([perClass, perClass]);
  const side = 40;
  const images = labels.map((label) => {
    const data = new Float32Array(side * side * 3);
    const tint = [random(), random(), random()];
    for (let y = 0; y < side; y += 1) {
      const bright = (y < side / 2) === (label === 0);
      for (let x = 0; x < side; x += 1) {
        for (let c = 0; c < 3; c += 1) data[(y * side + x) * 3 + c] = Math.min(1, (bright ? 0.6 : 0.1) + 0.3 * tint[c]! * random());
      }
    }
    return { data, width: side, height: side };
  });
  return { images, labels };
}

describe('fineTune and predict', () => {
  const size = 32;
  const { images, labels } = halves(8, 21);
  const split = stratifiedSplit(labels, { seed: 5, kFoldBelowTotal: 0 }); // 16 images: force one split (6 + 2 per class)
  const backbone = new ResNet({ arch: 'resnet18', width: 0.0625 }, 4);
  afterAll(() => backbone.params.dispose());
  let result: FineTuneResult;
  const tensorsAtEpoch: number[] = [];
  const conv1AtEpoch: Float32Array[] = [];
  let tensorsBefore = 0;

  it('learns the task above chance, without leaking tensors', async () => {
    expect(split.validation).toHaveLength(4);
    tensorsBefore = tf.memory().numTensors;
    result = await fineTune(backbone, { images }, labels, split.train, split.validation, {
      classes: 2,
      size,
      epochs: 8,
      batch: 4,
      seed: 1,
      onEpoch: () => {
        tensorsAtEpoch.push(tf.memory().numTensors);
        conv1AtEpoch.push(new Float32Array(backbone.params.get('conv1.weight').dataSync()));
      },
    });
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    // Once the momentum buffers and the best-epoch snapshot exist (the snapshot from the first
    // epoch after the warm-up, minEpochs = 4 of 8), the count is flat.
    expect(new Set(tensorsAtEpoch.slice(3)).size).toBe(1);
    expect(result.bestEpoch).toBeGreaterThanOrEqual(4);
    expect(result.valAccuracy).toBeGreaterThan(0.5);
    expect(result.history[result.bestEpoch - 1]!.valAccuracy).toBe(result.valAccuracy);
    for (const record of result.history) expect(Number.isFinite(record.trainLoss)).toBe(true);
  }, 60_000);

  it("restores the best epoch's weights and BatchNorm statistics", async () => {
    expect(backbone.params.get('conv1.weight').dataSync()).toEqual(conv1AtEpoch[result.bestEpoch - 1]);
    const predicted = await predict(backbone, result.head, { images }, size, { indices: split.validation });
    expect(accuracy(predicted.classes, split.validation.map((i) => labels[i]!))).toBe(result.valAccuracy);

    // Validation labels flipped: the better the model learns, the worse it validates, so an early
    // epoch is the best one and the run stops after `patience` epochs without a better accuracy.
    const flipped = labels.map((label, i) => (split.validation.includes(i) ? 1 - label : label));
    const other = new ResNet({ arch: 'resnet18', width: 0.0625 }, 4);
    try {
      const conv1: Float32Array[] = [];
      const runningMean: Float32Array[] = [];
      const run = await fineTune(other, { images }, flipped, split.train, split.validation, {
        classes: 2,
        size,
        epochs: 8,
        batch: 4,
        patience: 3,
        seed: 1,
        onEpoch: () => {
          conv1.push(new Float32Array(other.params.get('conv1.weight').dataSync()));
          runningMean.push(new Float32Array(other.params.get('layer4.1.bn2.running_mean').dataSync()));
        },
      });
      expect(run.stoppedEarly).toBe(true);
      expect(run.history.length).toBeLessThan(8);
      // Never before minEpochs (half of the 8 epochs by default).
      expect(run.history.length).toBeGreaterThanOrEqual(4);
      expect(run.bestEpoch).toBeLessThan(run.history.length);
      expect(other.params.get('conv1.weight').dataSync()).toEqual(conv1[run.bestEpoch - 1]);
      expect(other.params.get('conv1.weight').dataSync()).not.toEqual(conv1[run.history.length - 1]);
      expect(other.params.get('layer4.1.bn2.running_mean').dataSync()).toEqual(runningMean[run.bestEpoch - 1]);
      const again = await predict(other, run.head, { images }, size, { indices: split.validation });
      expect(accuracy(again.classes, split.validation.map((i) => flipped[i]!))).toBe(run.valAccuracy);
    } finally {
      other.params.dispose();
    }
  }, 60_000);

  it('does not stop early before minEpochs, however the validation goes', async () => {
    const flipped = labels.map((label, i) => (split.validation.includes(i) ? 1 - label : label));
    const other = new ResNet({ arch: 'resnet18', width: 0.0625 }, 4);
    try {
      const common = { classes: 2, size, epochs: 8, batch: 4, patience: 1, seed: 1 };
      const eager = await fineTune(other, { images }, flipped, split.train, split.validation, { ...common, minEpochs: 1 });
      expect(eager.history.length).toBeLessThan(7);
      const patient = await fineTune(other, { images }, flipped, split.train, split.validation, { ...common, minEpochs: 7 });
      expect(patient.history.length).toBeGreaterThanOrEqual(7);
    } finally {
      other.params.dispose();
    }
  }, 60_000);

  it('predicts softmax probabilities with their maximum as confidence', async () => {
    const { classes, confidence, probabilities } = await predict(backbone, result.head, { images }, size, { batch: 5 });
    expect(classes).toHaveLength(images.length);
    // The same from pre-decoded pixels (evalBatch's layout).
    const pixels = evalBatch(images, size);
    expect((await predict(backbone, result.head, { pixels, size }, size)).probabilities).toEqual(probabilities);
    // By hand: inference-mode backbone, global average pool, x W + b, softmax.
    const pooled = tf.tidy(() => globalAveragePool(backbone.forward(tf.tensor4d(pixels, [images.length, size, size, 3]), { training: false, convGrad: 'native' })));
    const features = pooled.dataSync() as Float32Array;
    pooled.dispose();
    const { dim, weights, bias } = result.head;
    for (let i = 0; i < images.length; i += 1) {
      const logits = [0, 1].map((c) => bias[c]! + Array.from({ length: dim }, (_, j) => features[i * dim + j]! * weights[j * 2 + c]!).reduce((a, b) => a + b, 0));
      const top = Math.max(...logits);
      const exps = logits.map((logit) => Math.exp(logit - top));
      const expected = exps.map((e) => e / (exps[0]! + exps[1]!));
      expect(probabilities[i * 2]).toBeCloseTo(expected[0]!, 4);
      expect(probabilities[i * 2 + 1]).toBeCloseTo(expected[1]!, 4);
      expect(confidence[i]).toBeGreaterThan(0);
      expect(confidence[i]).toBeLessThanOrEqual(1);
      expect(confidence[i]).toBe(Math.max(probabilities[i * 2]!, probabilities[i * 2 + 1]!));
      expect(classes[i]).toBe(probabilities[i * 2 + 1]! > probabilities[i * 2]! ? 1 : 0);
    }
  });

  it("LP-FT: starts from the linear probe's head and, when nothing is learned, hands that head back folded for L2-normalised features", async () => {
    const other = new ResNet({ arch: 'resnet18', width: 0.0625 }, 4);
    try {
      const features = await extractFeatures(other, evalBatch(images, size), images.length, size);
      const probe = await linearProbe(features, other.outChannels, split.train, labels, split.validation, { classes: 2, seed: 0 });
      const before = tf.memory().numTensors;
      const frozen = await fineTune(other, { images }, labels, split.train, split.validation, { classes: 2, size, epochs: 2, minEpochs: 1, batch: 4, seed: 1, backboneLr: 0, headLr: 0, startHead: probe.parts });
      expect(tf.memory().numTensors).toBe(before);
      expect(frozen.head.input).toBe('l2-normalized');
      frozen.head.weights.forEach((w, i) => expect(w).toBeCloseTo(probe.weights[i]!, 5));
      frozen.head.bias.forEach((b, i) => expect(b).toBeCloseTo(probe.bias[i]!, 5));
      // With the usual rates it trains from there, and predicts through the L2-normalised head.
      // (16 epochs: on 4 validation images of a random-init backbone the first right answers came
      // at epoch 8 of 8 or 12 of 16 depending on float32 rounding; from there they stay.)
      const tuned = await fineTune(other, { images }, labels, split.train, split.validation, { classes: 2, size, epochs: 16, batch: 4, seed: 1, startHead: probe.parts });
      expect(tuned.valAccuracy).toBeGreaterThan(0.5);
      expect(tuned.head.weights).not.toEqual(frozen.head.weights);
      const again = await predict(other, tuned.head, { images }, size, { indices: split.validation });
      expect(accuracy(again.classes, split.validation.map((i) => labels[i]!))).toBe(tuned.valAccuracy);
    } finally {
      other.params.dispose();
    }
  }, 60_000);

  it("classifies images with a linear probe's head as predictFromFeatures does", async () => {
    const pixels = evalBatch(images, size);
    const features = await extractFeatures(backbone, pixels, images.length, size);
    const probe = await linearProbe(features, backbone.outChannels, split.train, labels, split.validation, { classes: 2, seed: 0 });
    const fromFeatures = await predictFromFeatures(features, backbone.outChannels, probe);
    const fromImages = await predict(backbone, probe, { pixels, size }, size);
    expect(Array.from(fromImages.classes)).toEqual(Array.from(fromFeatures.classes));
    for (let i = 0; i < fromImages.probabilities.length; i += 1) expect(fromImages.probabilities[i]).toBeCloseTo(fromFeatures.probabilities[i]!, 4);
  });
});

describe('confusionMatrix and perClassAccuracy', () => {
  it('counts true class by predicted class', () => {
    const truth = [0, 0, 1, 1, 2, 2, 2];
    const predicted = [0, 1, 1, 1, 2, 0, 2];
    const matrix = confusionMatrix(truth, predicted, 4);
    expect(matrix).toEqual([
      [1, 1, 0, 0],
      [0, 2, 0, 0],
      [1, 0, 2, 0],
      [0, 0, 0, 0],
    ]);
    const perClass = perClassAccuracy(matrix);
    expect(perClass[0]).toBe(0.5);
    expect(perClass[1]).toBe(1);
    expect(perClass[2]).toBeCloseTo(2 / 3, 12);
    expect(perClass[3]).toBeNull();
    expect(() => confusionMatrix([0, 3], [0, 0], 3)).toThrow(RangeError);
  });
});

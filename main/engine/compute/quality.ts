import * as tf from '../backend/tfjs';
import { clusterScores } from '../../common/cluster-metrics';
import type { PretrainConfig } from '../../common/pretrain-config';
import { toFloatImage, type FloatImage } from '../../data/augment';
import { decodeImage } from '../../data/decode';
import { evalBatch } from '../../data/jigsaw';
import { Rng } from '../../data/rng';
import { classifyFiles, type ClassifyJob } from './compute-jobs';
import { defaultConvGradMode } from '../nn/conv';
import { loadBackbone } from '../jigclu/evaluate';
import { kmeans } from '../analysis/kmeans';
import { extractFeatures, knnAccuracy } from '../analysis/knn';

/**
 * How good a backbone's features are on a labelled dataset (`jigclu evaluate`, and through it
 * `npm run bench:quality`): kNN top-1 of the test images voted on by the training images, k-means
 * of the test images scored against their classes, and the app's few-label classifier (linear
 * probe, and LP-FT fine-tuning) trained on a few labels per class drawn from the training images
 * and tested on the test images, once per label draw.
 */

export interface LabelledFiles {
  files: string[];
  /** Per file, its class 0..classes-1. */
  labels: number[];
}

export interface QualityRequest {
  /** The checkpoint whose backbone is evaluated; left out with `randomInit`. */
  checkpoint?: string;
  /** Evaluate the untrained backbone of `config`'s architecture, initialised with its seed. */
  randomInit: boolean;
  config: PretrainConfig;
  train: LabelledFiles;
  test: LabelledFiles;
  classes: number;
  /** Input side: whole images resized (short side) and centre-cropped. */
  size: number;
  /** Few-label classifiers: labels per class drawn from `train`. */
  perClass: number;
  /** Label draws (seeds 1..draws); 0 skips the few-label classifiers. */
  draws: number;
  /** Also fine-tune the whole backbone (LP-FT) per draw, not only the linear probe. */
  fineTune: boolean;
  /** kNN neighbours (200) and vote temperature (0.1). */
  k?: number;
  temperature?: number;
  onProgress?(phase: string, done: number, total: number): void;
}

export interface QualityReport {
  size: number;
  trainImages: number;
  testImages: number;
  /** Files that could not be decoded (left out). */
  skipped: number;
  knn: number;
  /** k-means of the test features with k = the number of classes (cosine, seed 0). */
  clusters: { k: number; nmi: number; ari: number; purity: number };
  /** Test accuracy of the linear probe, per label draw. */
  probe: number[];
  /** Test accuracy of LP-FT fine-tuning, per label draw (empty without `fineTune`). */
  fineTune: number[];
}

/** Decodes and prepares files for evaluation; the kept ones' indices come back too. */
async function prepare(files: string[], size: number): Promise<{ pixels: Float32Array; kept: number[] }> {
  const images: FloatImage[] = [];
  const kept: number[] = [];
  for (let i = 0; i < files.length; i += 1) {
    try {
      const decoded = await decodeImage(files[i]!, { shortSide: size });
      images.push(toFloatImage(decoded.data, decoded.width, decoded.height));
      kept.push(i);
    } catch {
      // Counted as skipped by the caller.
    }
  }
  return { pixels: evalBatch(images, size), kept };
}

/** `perClass` training files of each class, drawn with a seeded shuffle. */
export function drawLabels(train: LabelledFiles, classes: number, perClass: number, seed: number): LabelledFiles {
  const rng = new Rng(seed);
  const files: string[] = [];
  const labels: number[] = [];
  for (let c = 0; c < classes; c += 1) {
    const members = train.files.filter((_, i) => train.labels[i] === c);
    for (const file of rng.shuffle(members).slice(0, perClass)) {
      files.push(file);
      labels.push(c);
    }
  }
  return { files, labels };
}

/** kNN, clusters and the few-label classifiers of one backbone; see the module comment. */
export async function evaluateQuality(request: QualityRequest): Promise<QualityReport> {
  const progress = request.onProgress ?? (() => undefined);
  const convGrad = defaultConvGradMode(tf.getBackend());
  progress('reading images', 0, 2);
  const train = await prepare(request.train.files, request.size);
  progress('reading images', 1, 2);
  const test = await prepare(request.test.files, request.size);
  progress('reading images', 2, 2);
  const trainLabels = Int32Array.from(train.kept, (i) => request.train.labels[i]!);
  const testLabels = Int32Array.from(test.kept, (i) => request.test.labels[i]!);
  const loaded = loadBackbone(request.checkpoint, { randomInit: request.randomInit, config: request.config, convGrad });
  let knn: number;
  let clusters: QualityReport['clusters'];
  try {
    progress('features', 0, 2);
    const trainFeatures = await extractFeatures(loaded.backbone, train.pixels, train.kept.length, request.size, 64, convGrad);
    progress('features', 1, 2);
    const testFeatures = await extractFeatures(loaded.backbone, test.pixels, test.kept.length, request.size, 64, convGrad);
    progress('features', 2, 2);
    const dim = loaded.backbone.outChannels;
    knn = await knnAccuracy({ features: trainFeatures, labels: trainLabels }, { features: testFeatures, labels: testLabels }, dim, request.classes, { k: request.k ?? 200, temperature: request.temperature ?? 0.1 });
    const assignment = kmeans(testFeatures, test.kept.length, dim, { k: request.classes, seed: 0, metric: 'cosine' });
    const scores = clusterScores(assignment.assignments, testLabels);
    clusters = { k: request.classes, nmi: scores.nmi ?? Number.NaN, ari: scores.adjustedRandIndex ?? Number.NaN, purity: scores.purity ?? Number.NaN };
  } finally {
    loaded.dispose();
  }

  const probe: number[] = [];
  const fineTune: number[] = [];
  const modes: ClassifyJob['mode'][] = request.fineTune ? ['linear-probe', 'fine-tune'] : ['linear-probe'];
  for (let draw = 1; draw <= request.draws; draw += 1) {
    const picked = drawLabels(request.train, request.classes, request.perClass, draw);
    for (const mode of modes) {
      const phase = `${mode === 'linear-probe' ? 'linear probe' : 'fine-tune'}, label draw ${draw} of ${request.draws}`;
      const result = await classifyFiles(
        {
          kind: 'classify',
          mode,
          checkpoint: request.randomInit ? undefined : request.checkpoint,
          config: request.config,
          files: [...picked.files, ...request.test.files],
          labels: [...picked.labels, ...request.test.files.map(() => -1)],
          classes: request.classes,
          size: request.size,
          seed: draw,
        },
        { progress: (done, total) => progress(phase, done, total), chunk: () => undefined },
      );
      let right = 0;
      let seen = 0;
      request.test.labels.forEach((label, i) => {
        const predicted = result.predicted[picked.files.length + i]!;
        if (predicted < 0) return;
        seen += 1;
        if (predicted === label) right += 1;
      });
      (mode === 'linear-probe' ? probe : fineTune).push(seen ? right / seen : Number.NaN);
    }
  }
  return {
    size: request.size,
    trainImages: train.kept.length,
    testImages: test.kept.length,
    skipped: request.train.files.length - train.kept.length + request.test.files.length - test.kept.length,
    knn,
    clusters,
    probe,
    fineTune,
  };
}

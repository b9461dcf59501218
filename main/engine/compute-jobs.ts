import * as tf from './tfjs';
import type { DistanceMetric } from '../common/embeddings';
import type { PretrainConfig } from '../common/pretrain-config';
import { toFloatImage, type FloatImage } from '../data/augment';
import { decodeImage } from '../data/decode';
import { evalBatch } from '../data/jigsaw';
import { defaultConvGradMode } from './conv';
import { loadBackbone } from './evaluate';
import { confusionMatrix, fineTune, linearProbe, perClassAccuracy, predict, predictFromFeatures, stratifiedSplit, type EpochRecord, type LinearHead, type Predictions } from './finetune';
import { extractFeatures } from './knn';

/**
 * Work other than training that needs tfjs, run in a trainer process: embedding images with a
 * backbone, and the matrix work behind clusters and maps. Each job reports progress; embedding
 * streams its vectors in chunks so a cancelled job keeps what it computed.
 */

export type ComputeJob =
  | { kind: 'embed'; checkpoint?: string; config: PretrainConfig; files: string[]; size: number; batch: number }
  | { kind: 'kmeans'; features: Float32Array; n: number; dim: number; k: number; seed: number; metric: DistanceMetric; maxIterations?: number }
  | { kind: 'pca'; features: Float32Array; n: number; dim: number }
  | { kind: 'umap'; features: Float32Array; n: number; dim: number; seed: number }
  | { kind: 'duplicates'; features: Float32Array; n: number; dim: number; threshold: number; metric: DistanceMetric; limit: number }
  | ClassifyJob;

/**
 * Trains a classifier from a few labels on a backbone (a checkpoint's, or random init) and
 * predicts every image: a linear probe on frozen features, or full fine-tuning.
 */
export interface ClassifyJob {
  kind: 'classify';
  mode: 'linear-probe' | 'fine-tune';
  checkpoint?: string;
  config: PretrainConfig;
  files: string[];
  /** Per file: its class (0..classes-1), or -1 for an image to predict only. */
  labels: number[];
  classes: number;
  size: number;
  seed: number;
  epochs?: number;
}

export interface ClassifyResult {
  mode: ClassifyJob['mode'];
  valAccuracy: number;
  bestEpoch: number;
  history: EpochRecord[];
  /** Indices into the job's files of the training and validation images. */
  train: number[];
  validation: number[];
  /** On the validation images: rows are the true class, columns the predicted one. */
  confusion: number[][];
  perClass: (number | null)[];
  /** Per file: predicted class and confidence (-1 and 0 for a file that could not be read). */
  predicted: Int32Array;
  confidence: Float32Array;
  head: LinearHead;
  skipped: { index: number; reason: string }[];
}

export interface EmbedChunk {
  /** Index of the first file of the chunk in the job's files. */
  offset: number;
  /** Files of the chunk that decoded, by index in the job's files, and their vectors (row-major). */
  indices: number[];
  vectors: Float32Array;
  failed: { index: number; reason: string }[];
}

export interface JobHooks {
  progress(done: number, total: number, message?: string): void;
  chunk(chunk: EmbedChunk): void;
}

/** Runs a classify job: decode, split the labelled images, train, predict every image. */
export async function classifyFiles(job: ClassifyJob, hooks: JobHooks): Promise<ClassifyResult> {
  const convGrad = defaultConvGradMode(tf.getBackend());
  const images: FloatImage[] = [];
  const kept: number[] = [];
  const skipped: { index: number; reason: string }[] = [];
  hooks.progress(0, job.files.length, 'reading images');
  for (let index = 0; index < job.files.length; index += 1) {
    try {
      const decoded = await decodeImage(job.files[index]!, { shortSide: job.size });
      images.push(toFloatImage(decoded.data, decoded.width, decoded.height));
      kept.push(index);
    } catch (error) {
      skipped.push({ index, reason: (error as Error).message });
    }
    if (index % 16 === 15) hooks.progress(index + 1, job.files.length, 'reading images');
  }
  // Positions (in `kept`) of the labelled images, and their labels.
  const labelled = kept.map((file, position) => ({ file, position })).filter(({ file }) => job.labels[file]! >= 0);
  const labels = labelled.map(({ file }) => job.labels[file]!);
  if (new Set(labels).size < 2) throw new Error('fine-tuning needs labelled images of at least 2 classes.');
  const split = stratifiedSplit(labels, { seed: job.seed });
  const loaded = loadBackbone(job.checkpoint, { randomInit: !job.checkpoint, config: job.config, convGrad });
  try {
    const pixels = evalBatch(images, job.size);
    const epochs = job.epochs ?? (job.mode === 'linear-probe' ? 100 : 30);
    const onEpoch = (epoch: number, total: number): void => hooks.progress(epoch, total, job.mode === 'linear-probe' ? 'linear probe' : 'fine-tuning');
    let outcome: { valAccuracy: number; bestEpoch: number; history: EpochRecord[]; head: LinearHead };
    let predictions: Predictions;
    if (job.mode === 'linear-probe') {
      const dim = loaded.backbone.outChannels;
      const features = extractFeatures(loaded.backbone, pixels, images.length, job.size, 64, convGrad);
      const labelledFeatures = new Float32Array(labelled.length * dim);
      labelled.forEach(({ position }, row) => labelledFeatures.set(features.subarray(position * dim, (position + 1) * dim), row * dim));
      const probe = linearProbe(labelledFeatures, dim, split.train, labels, split.validation, { classes: job.classes, seed: job.seed, epochs, onEpoch });
      outcome = { valAccuracy: probe.valAccuracy, bestEpoch: probe.bestEpoch, history: probe.history, head: probe };
      predictions = predictFromFeatures(features, dim, probe);
    } else {
      const tuned = await fineTune(loaded.backbone, { images: labelled.map(({ position }) => images[position]!) }, labels, split.train, split.validation, {
        classes: job.classes,
        size: job.size,
        seed: job.seed,
        epochs,
        convGrad,
        onEpoch,
      });
      outcome = tuned;
      predictions = predict(loaded.backbone, tuned.head, { pixels, size: job.size }, job.size, { convGrad });
    }
    const predicted = new Int32Array(job.files.length).fill(-1);
    const confidence = new Float32Array(job.files.length);
    kept.forEach((file, position) => {
      predicted[file] = predictions.classes[position]!;
      confidence[file] = predictions.confidence[position]!;
    });
    const truth = split.validation.map((i) => labels[i]!);
    const guessed = split.validation.map((i) => predicted[labelled[i]!.file]!);
    const confusion = confusionMatrix(truth, guessed, job.classes);
    return {
      mode: job.mode,
      ...outcome,
      train: split.train.map((i) => labelled[i]!.file),
      validation: split.validation.map((i) => labelled[i]!.file),
      confusion,
      perClass: perClassAccuracy(confusion),
      predicted,
      confidence,
      skipped,
    };
  } finally {
    loaded.dispose();
  }
}

/** Embeds files with a checkpoint's backbone (or a random-init one): resize + centre crop to `size`, global average pool, L2 norm. */
export async function embedFiles(job: Extract<ComputeJob, { kind: 'embed' }>, hooks: JobHooks): Promise<{ dim: number }> {
  const convGrad = defaultConvGradMode(tf.getBackend());
  const loaded = loadBackbone(job.checkpoint, { randomInit: !job.checkpoint, config: job.config, convGrad });
  try {
    const dim = loaded.backbone.outChannels;
    hooks.progress(0, job.files.length, 'embedding');
    for (let offset = 0; offset < job.files.length; offset += job.batch) {
      const files = job.files.slice(offset, offset + job.batch);
      const images: (FloatImage | undefined)[] = [];
      const indices: number[] = [];
      const failed: { index: number; reason: string }[] = [];
      await Promise.all(
        files.map(async (file, i) => {
          try {
            const decoded = await decodeImage(file, { shortSide: job.size });
            images[i] = toFloatImage(decoded.data, decoded.width, decoded.height);
          } catch (error) {
            failed.push({ index: offset + i, reason: (error as Error).message });
          }
        }),
      );
      const kept: FloatImage[] = [];
      for (let i = 0; i < files.length; i += 1) {
        if (images[i]) {
          kept.push(images[i]!);
          indices.push(offset + i);
        }
      }
      const vectors = kept.length > 0 ? extractFeatures(loaded.backbone, evalBatch(kept, job.size), kept.length, job.size, job.batch, convGrad) : new Float32Array(0);
      hooks.chunk({ offset, indices, vectors, failed });
      hooks.progress(Math.min(offset + job.batch, job.files.length), job.files.length, 'embedding');
    }
    return { dim };
  } finally {
    loaded.dispose();
  }
}

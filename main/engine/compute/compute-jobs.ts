import fs from 'node:fs';
import * as tf from '../backend/tfjs';
import type { DistanceMetric } from '../../common/embeddings';
import type { PretrainConfig } from '../../common/pretrain-config';
import { toFloatImage, type FloatImage } from '../../data/augment';
import { decodeImage } from '../../data/decode';
import { evalBatch } from '../../data/jigsaw';
import { saveClassifier } from '../classify/classifier-model';
import { defaultConvGradMode } from '../nn/conv';
import { loadBackbone } from '../jigclu/evaluate';
import { confusionMatrix, foldSplit, linearProbe, perClassAccuracy, predictFromFeatures, stratifiedSplit, type EpochRecord, type LinearHead, type Predictions } from '../classify/finetune';
import { fineTune, predict } from '../classify/finetune-backbone';
import { extractFeatures } from '../analysis/knn';
import { remoteBackbone } from '../jigclu/remote-trainer';
import type { GpuHostClient } from '../../gpu-host/client';
import type { ResNet } from '../nn/resnet';
import type { ExportBackboneJob, ExportBackboneResult } from './export-jobs';
import type { EmbedChunk, JobHooks } from './job-hooks';
import type { KmeansResult } from '../analysis/kmeans';
import type { NearDuplicatePair } from '../analysis/projection';
import type { ScaleoutExportJob, ScaleoutExportResult } from './scaleout-job';
import type { ImportWeightsJob, ImportWeightsResult } from './weights-import';

export type { EmbedChunk, JobHooks };

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
  | ClassifyJob
  | ExportBackboneJob
  | ScaleoutExportJob
  | ImportWeightsJob;

/** The kinds of compute job. */
export type ComputeJobKind = ComputeJob['kind'];

/** The job of one kind. */
export type ComputeJobOf<K extends ComputeJobKind> = Extract<ComputeJob, { kind: K }>;

/**
 * What each kind of job answers (structured-cloneable: it crosses the trainer process's
 * channel). The runner's table is typed by it, and so is the services' compute-job client.
 */
export interface ComputeResults {
  embed: { dim: number };
  kmeans: KmeansResult;
  pca: Float32Array;
  umap: Float32Array;
  duplicates: NearDuplicatePair[];
  classify: ClassifyResult;
  'export-backbone': ExportBackboneResult;
  'scaleout-export': ScaleoutExportResult;
  'import-weights': ImportWeightsResult;
}

/**
 * Trains a classifier from a few labels on a backbone (a checkpoint's, or random init) and
 * predicts every image: a linear probe on frozen features, or full fine-tuning started from the
 * linear probe's head (LP-FT).
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
  /** Fine-tuning's starting learning rates (cosine schedule): backbone (0.01) and new head (0.1). */
  backboneLr?: number;
  headLr?: number;
  /**
   * A folder to write the trained classifier to, as a TF.js layers model (model.json +
   * weights.bin, backbone and head) with labels.json; `classNames` names the head's classes there.
   */
  saveTo?: string;
  classNames?: string[];
}

export interface ClassifyResult {
  mode: ClassifyJob['mode'];
  valAccuracy: number;
  bestEpoch: number;
  history: EpochRecord[];
  /**
   * Indices into the job's files of the training and validation images. With very few labels
   * (a k-fold plan, `folds` set) every labelled image trains the kept classifier and the
   * validation images are all those validated out of fold.
   */
  train: number[];
  validation: number[];
  /** The class predicted for each validation image (aligned with `validation`), by a classifier that did not train on it. */
  validationPredicted: number[];
  /** The number of folds when the accuracy is a k-fold estimate. */
  folds?: number;
  /** On the validation images: rows are the true class, columns the predicted one. */
  confusion: number[][];
  perClass: (number | null)[];
  /** Per file: predicted class and confidence (-1 and 0 for a file that could not be read). */
  predicted: Int32Array;
  confidence: Float32Array;
  head: LinearHead;
  skipped: { index: number; reason: string }[];
  /** The files written when the job had saveTo (names relative to that folder). */
  saved?: string[];
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
  const plan = stratifiedSplit(labels, { seed: job.seed });
  const loaded = loadBackbone(job.checkpoint, { randomInit: !job.checkpoint, config: job.config, convGrad });
  try {
    const pixels = evalBatch(images, job.size);
    const epochs = job.epochs ?? (job.mode === 'linear-probe' ? 100 : 30);
    const modeName = job.mode === 'linear-probe' ? 'linear probe' : 'fine-tuning';
    const dim = loaded.backbone.outChannels;
    // The linear probe's features come from the frozen backbone: extracted once for every fold
    // (fine-tuning trains a fresh copy per fold, and starts from a probe on these features).
    const labelledImages = labelled.map(({ position }) => images[position]!);
    const labelledFeatures = await extractFeatures(loaded.backbone, evalBatch(labelledImages, job.size), labelled.length, job.size, 64, convGrad);
    const probeOf = (train: number[], validation: number[], epochCount: number, onEpoch?: (epoch: number, total: number) => void) =>
      linearProbe(labelledFeatures, dim, train, labels, validation, { classes: job.classes, seed: job.seed, epochs: epochCount, onEpoch });
    // k-fold: k trainings for the estimate, then the final one on every label.
    const rounds = plan.folds ? plan.folds.length + 1 : 1;
    let round = 0;
    /** Trains one classifier on `train` (validating on `validation`); gives the validation images' predicted classes too. */
    const trainOne = async (backbone: ResNet, train: number[], validation: number[], epochCount: number) => {
      const label = rounds > 1 ? (round < rounds - 1 ? `${modeName}, fold ${round + 1} of ${rounds - 1}` : `${modeName} on every label`) : modeName;
      const onEpoch = (epoch: number, total: number): void => hooks.progress(round * total + epoch, rounds * total, label);
      let outcome: { valAccuracy: number; bestEpoch: number; history: EpochRecord[]; head: LinearHead };
      let validationPredicted: number[];
      if (job.mode === 'linear-probe') {
        const probe = await probeOf(train, validation, epochCount, onEpoch);
        outcome = { valAccuracy: probe.valAccuracy, bestEpoch: probe.bestEpoch, history: probe.history, head: probe };
        const rows = new Float32Array(validation.length * dim);
        validation.forEach((i, row) => rows.set(labelledFeatures!.subarray(i * dim, (i + 1) * dim), row * dim));
        validationPredicted = validation.length > 0 ? Array.from((await predictFromFeatures(rows, dim, probe)).classes) : [];
      } else {
        // LP-FT: the probe on the same split (its own 100-epoch schedule), then fine-tuning from its head.
        const probe = await probeOf(train, validation, 100);
        outcome = await fineTune(backbone, { images: labelledImages }, labels, train, validation, {
          startHead: probe.parts,
          classes: job.classes,
          size: job.size,
          seed: job.seed,
          epochs: epochCount,
          convGrad,
          onEpoch,
          ...(job.backboneLr !== undefined ? { backboneLr: job.backboneLr } : {}),
          ...(job.headLr !== undefined ? { headLr: job.headLr } : {}),
        });
        validationPredicted = validation.length > 0 ? Array.from((await predict(backbone, outcome.head, { images: labelledImages }, job.size, { convGrad, indices: validation })).classes) : [];
      }
      round += 1;
      return { ...outcome, validationPredicted };
    };
    /** Out-of-fold: every validated labelled image (index into `labelled`) and the class predicted for it by a model that did not train on it. */
    const validated: number[] = [];
    const validatedAs: number[] = [];
    let outcome: { valAccuracy: number; bestEpoch: number; history: EpochRecord[]; head: LinearHead };
    let trainIndices: number[];
    if (plan.folds) {
      // Too few labels for one held-out set: each fold is validated once by a classifier trained on
      // the others (a fresh copy of the backbone for fine-tuning), the accuracy and confusion are
      // out-of-fold, and the classifier kept is trained on every label for the folds' median best epoch.
      const folds = plan.folds;
      const histories: EpochRecord[][] = [];
      const bestEpochs: number[] = [];
      for (let fold = 0; fold < folds.length; fold += 1) {
        const { train, validation } = foldSplit(folds, fold, labels);
        if (validation.length === 0) {
          round += 1;
          continue;
        }
        const copy = job.mode === 'linear-probe' ? undefined : loadBackbone(job.checkpoint, { randomInit: !job.checkpoint, config: job.config, convGrad });
        try {
          const result = await trainOne(copy?.backbone ?? loaded.backbone, train, validation, epochs);
          histories.push(result.history);
          bestEpochs.push(result.bestEpoch);
          validated.push(...validation);
          validatedAs.push(...result.validationPredicted);
        } finally {
          copy?.dispose();
        }
      }
      const sorted = [...bestEpochs].sort((a, b) => a - b);
      const finalEpochs = sorted.length > 0 ? sorted[Math.floor(sorted.length / 2)]! : epochs;
      trainIndices = labels.map((_, i) => i);
      const final = await trainOne(loaded.backbone, trainIndices, [], finalEpochs);
      const correct = validated.reduce((sum, i, k) => sum + (validatedAs[k] === labels[i] ? 1 : 0), 0);
      outcome = {
        valAccuracy: validated.length > 0 ? correct / validated.length : Number.NaN,
        bestEpoch: finalEpochs,
        history: meanHistory(histories, final.history),
        head: final.head,
      };
    } else {
      trainIndices = plan.train;
      const result = await trainOne(loaded.backbone, plan.train, plan.validation, epochs);
      validated.push(...plan.validation);
      validatedAs.push(...result.validationPredicted);
      outcome = result;
    }
    const predictions: Predictions = job.mode === 'linear-probe' ? await predictFromFeatures(await extractFeatures(loaded.backbone, pixels, images.length, job.size, 64, convGrad), dim, outcome.head) : await predict(loaded.backbone, outcome.head, { pixels, size: job.size }, job.size, { convGrad });
    const predicted = new Int32Array(job.files.length).fill(-1);
    const confidence = new Float32Array(job.files.length);
    kept.forEach((file, position) => {
      predicted[file] = predictions.classes[position]!;
      confidence[file] = predictions.confidence[position]!;
    });
    const confusion = confusionMatrix(
      validated.map((i) => labels[i]!),
      validatedAs,
      job.classes,
    );
    // The backbone is the tuned one after fine-tuning (fineTune trains it in place).
    const saved = job.saveTo
      ? await saveClassifier(job.saveTo, loaded.backbone, outcome.head, {
          classNames: job.classNames ?? Array.from({ length: job.classes }, (_, c) => `class ${c}`),
          size: job.size,
          source: { mode: job.mode, checkpoint: job.checkpoint ?? null, randomInit: !job.checkpoint, arch: loaded.config.arch, width: loaded.config.width, valAccuracy: outcome.valAccuracy, bestEpoch: outcome.bestEpoch, labelled: labelled.length, seed: job.seed },
        })
      : undefined;
    return {
      mode: job.mode,
      ...outcome,
      train: trainIndices.map((i) => labelled[i]!.file),
      validation: validated.map((i) => labelled[i]!.file),
      validationPredicted: validatedAs,
      ...(plan.folds ? { folds: plan.folds.length } : {}),
      confusion,
      perClass: perClassAccuracy(confusion),
      predicted,
      confidence,
      skipped,
      ...(saved ? { saved } : {}),
    };
  } finally {
    loaded.dispose();
  }
}

/** The backbone an embedding job computes with: this process's engine, or the desktop app's compute window. */
async function embeddingBackbone(job: Extract<ComputeJob, { kind: 'embed' }>, computeWindow: GpuHostClient | undefined): Promise<{ dim: number; features(images: Float32Array, count: number): Promise<Float32Array>; dispose(): void | Promise<void> }> {
  if (computeWindow) {
    const remote = await remoteBackbone(computeWindow, job.checkpoint ? fs.readFileSync(job.checkpoint) : undefined, job.config);
    return { dim: remote.dim, features: (images, count) => remote.features(images, count, job.size, job.batch), dispose: () => remote.dispose() };
  }
  const convGrad = defaultConvGradMode(tf.getBackend());
  const loaded = loadBackbone(job.checkpoint, { randomInit: !job.checkpoint, config: job.config, convGrad });
  return { dim: loaded.backbone.outChannels, features: (images, count) => extractFeatures(loaded.backbone, images, count, job.size, job.batch, convGrad), dispose: () => loaded.dispose() };
}

/**
 * Embeds files with a checkpoint's backbone (or a random-init one): resize + centre crop to
 * `size`, global average pool, L2 norm. In the desktop app with webgpu chosen the backbone runs
 * in its compute window (`computeWindow`); decoding stays here.
 */
export async function embedFiles(job: Extract<ComputeJob, { kind: 'embed' }>, hooks: JobHooks, computeWindow?: GpuHostClient): Promise<{ dim: number }> {
  const loaded = await embeddingBackbone(job, computeWindow);
  try {
    const dim = loaded.dim;
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
      const vectors = kept.length > 0 ? await loaded.features(evalBatch(kept, job.size), kept.length) : new Float32Array(0);
      hooks.chunk({ offset, indices, vectors, failed });
      hooks.progress(Math.min(offset + job.batch, job.files.length), job.files.length, 'embedding');
    }
    return { dim };
  } finally {
    await loaded.dispose();
  }
}

/** Per epoch, the mean over folds of their records (each fold's own length); without folds, `fallback`. */
function meanHistory(histories: EpochRecord[][], fallback: EpochRecord[]): EpochRecord[] {
  if (histories.length === 0) return fallback;
  const longest = Math.max(...histories.map((h) => h.length));
  const mean: EpochRecord[] = [];
  for (let e = 0; e < longest; e += 1) {
    const records = histories.map((h) => h[e]).filter((r): r is EpochRecord => r !== undefined);
    const avg = (pick: (r: EpochRecord) => number): number => records.reduce((sum, r) => sum + pick(r), 0) / records.length;
    mean.push({ ...records[0]!, epoch: e + 1, trainLoss: avg((r) => r.trainLoss), valAccuracy: avg((r) => r.valAccuracy), valLoss: avg((r) => r.valLoss), lr: avg((r) => r.lr) });
  }
  return mean;
}

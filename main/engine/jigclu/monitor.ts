import type { PretrainConfig } from '../../common/pretrain-config';
import { toFloatImage } from '../../data/augment';
import { decodeImage } from '../../data/decode';
import { evalBatch, montageToRgba, type JigsawBatch } from '../../data/jigsaw';
import type { ConvGradMode } from '../nn/conv';
import { knnAccuracy } from '../analysis/knn';
import { JigCluTrainer, type PretrainTrainer } from './trainer';

/**
 * What the app watches while a run trains, computed in the trainer process where the model is:
 * the montage inspector (one batch with predictions), the kNN monitor on a held-out labelled
 * subset, and the warm-up timing behind the new-run form's estimate.
 */

/** A labelled subset of the run's images for the kNN monitor: a bank and held-out queries. */
export interface MonitorSet {
  files: string[];
  labels: number[];
  /** true: a held-out query; false: in the bank the queries vote with. */
  query: boolean[];
  classes: number;
}

/** One inspected batch, in engine terms (the service adds library ids and file names). */
export interface BatchInspection {
  step: number;
  epoch: number;
  stepInEpoch: number;
  weightsStep: number;
  grid: number;
  crop: number;
  size: number;
  batch: number;
  /** RGBA bytes of the first `count` montages. */
  montages: Uint8ClampedArray[];
  /** Per patch slot of those montages (montage-major): source in the batch, true and predicted location. */
  sources: number[];
  trueLocations: number[];
  predictedLocations: number[];
  /** Per patch slot: the 3 nearest other slots of the whole batch and their cosine similarities. */
  neighbours: { slot: number; similarity: number; sameSource: boolean }[][];
  /** For each source image of the batch: its index in the run's file list. */
  sourceFiles: number[];
  locationAccuracy: number;
  clusterAccuracy: number;
}

/**
 * Runs the model on one jigsaw batch with batch statistics (as in training, without updating
 * the running statistics) and reports what the inspector shows. `sourceFile` maps a source
 * image of the batch (0..n-1) to its index in the run's files.
 */
export async function inspectBatch(
  trainer: Pick<PretrainTrainer, 'inspectOutputs' | 'position'>,
  batch: JigsawBatch,
  count: number,
  where: { step: number; epoch: number; stepInEpoch: number },
  sourceFile: (source: number) => number,
): Promise<BatchInspection> {
  const shown = Math.min(count, batch.n);
  const cells = batch.grid * batch.grid;
  const k = Math.min(3, batch.n * cells - 1);
  const result = await trainer.inspectOutputs(batch, k);
  const slots = shown * cells;
  const neighbours: { slot: number; similarity: number; sameSource: boolean }[][] = [];
  for (let slot = 0; slot < slots; slot += 1) {
    const row: { slot: number; similarity: number; sameSource: boolean }[] = [];
    for (let j = 0; j < k; j += 1) {
      const other = result.indices[slot * k + j]!;
      row.push({ slot: other, similarity: result.values[slot * k + j]!, sameSource: batch.clusterLabels[other] === batch.clusterLabels[slot] });
    }
    neighbours.push(row);
  }
  return {
    ...where,
    weightsStep: trainer.position.globalStep,
    grid: batch.grid,
    crop: batch.crop,
    size: batch.size,
    batch: batch.n,
    montages: Array.from({ length: shown }, (_, index) => montageToRgba(batch, index)),
    sources: Array.from(batch.clusterLabels.subarray(0, slots)),
    trueLocations: Array.from(batch.locationLabels.subarray(0, slots)),
    predictedLocations: Array.from(result.predicted.subarray(0, slots)),
    neighbours,
    sourceFiles: Array.from({ length: batch.n }, (_, source) => sourceFile(source)),
    locationAccuracy: result.location,
    clusterAccuracy: result.cluster,
  };
}

/** The kNN monitor's images, decoded once at the evaluation size (evalSizeFor; resize + centre crop). */
export interface MonitorImages {
  images: Float32Array;
  size: number;
  bank: { index: number[]; labels: Int32Array };
  queries: { index: number[]; labels: Int32Array };
  classes: number;
  skipped: number;
}

/** Decodes the monitor set; files that fail to decode are left out and counted. */
export async function loadMonitorImages(set: MonitorSet, size: number): Promise<MonitorImages> {
  const floats = [];
  const bank: { index: number[]; labels: number[] } = { index: [], labels: [] };
  const queries: { index: number[]; labels: number[] } = { index: [], labels: [] };
  let skipped = 0;
  for (let i = 0; i < set.files.length; i += 1) {
    try {
      const decoded = await decodeImage(set.files[i]!, { shortSide: size });
      const target = set.query[i] ? queries : bank;
      target.index.push(floats.length);
      target.labels.push(set.labels[i]!);
      floats.push(toFloatImage(decoded.data, decoded.width, decoded.height));
    } catch {
      skipped += 1;
    }
  }
  return {
    images: evalBatch(floats, size),
    size,
    bank: { index: bank.index, labels: Int32Array.from(bank.labels) },
    queries: { index: queries.index, labels: Int32Array.from(queries.labels) },
    classes: set.classes,
    skipped,
  };
}

/** Weighted kNN accuracy (k = min(200, bank), t = 0.1) of the backbone's features on the monitor set. */
export async function monitorAccuracy(trainer: Pick<PretrainTrainer, 'features' | 'featureDim'>, monitor: MonitorImages): Promise<number> {
  if (monitor.queries.labels.length === 0 || monitor.bank.labels.length === 0) return 0;
  const count = monitor.bank.index.length + monitor.queries.index.length;
  const features = await trainer.features(monitor.images, count, monitor.size, 64);
  const d = trainer.featureDim;
  const pick = (index: number[]) => {
    const out = new Float32Array(index.length * d);
    index.forEach((row, i) => out.set(features.subarray(row * d, (row + 1) * d), i * d));
    return out;
  };
  return knnAccuracy(
    { features: pick(monitor.bank.index), labels: monitor.bank.labels },
    { features: pick(monitor.queries.index), labels: monitor.queries.labels },
    d,
    monitor.classes,
    { k: Math.min(200, monitor.bank.labels.length), temperature: 0.1 },
  );
}

/**
 * Times training steps of `config` with random montages: one warm-up step (kernel compilation,
 * first allocations) then `steps` timed ones. Returns the mean seconds per timed step and the
 * warm-up step's seconds (on WebGPU mostly shader compilation, paid once per run). The trainer
 * is this process's engine's, or what `create` makes (the desktop app's WebGPU host).
 */
export async function measureStepSeconds(
  config: PretrainConfig,
  convGrad: ConvGradMode,
  steps = 3,
  create: (config: PretrainConfig, convGrad: ConvGradMode) => PretrainTrainer | Promise<PretrainTrainer> = (c, g) => new JigCluTrainer(c, g),
): Promise<{ secondsPerStep: number; warmupSeconds: number }> {
  const trainer = await create(config, convGrad);
  try {
    const n = config.batch;
    const cells = config.grid * config.grid;
    const size = config.grid * config.crop;
    const montages = new Float32Array(n * size * size * 3);
    for (let i = 0; i < montages.length; i += 1) montages[i] = Math.random() * 2 - 1;
    const clusterLabels = new Int32Array(n * cells);
    const locationLabels = new Int32Array(n * cells);
    for (let slot = 0; slot < n * cells; slot += 1) {
      clusterLabels[slot] = Math.floor(slot / cells);
      locationLabels[slot] = slot % cells;
    }
    const batch: JigsawBatch = { n, grid: config.grid, crop: config.crop, size, montages, clusterLabels, locationLabels, permutation: Int32Array.from({ length: n * cells }, (_, i) => i) };
    const warmup = performance.now();
    await trainer.launch(batch, 1_000_000).read();
    const started = performance.now();
    for (let i = 0; i < steps; i += 1) await trainer.launch(batch, 1_000_000).read();
    return { secondsPerStep: (performance.now() - started) / 1000 / steps, warmupSeconds: (started - warmup) / 1000 };
  } finally {
    await trainer.dispose();
  }
}

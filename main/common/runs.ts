import { z } from 'zod';
import type { EngineReport } from './engine';
import { presetNames, pretrainConfigSchema, type FieldError, type PretrainConfig } from './pretrain-config';

/**
 * Pretraining runs as the contract shows them: history rows, their metrics and checkpoints,
 * and the live `run` event.
 */

export const runStatuses = ['running', 'paused', 'finished', 'cancelled', 'crashed', 'interrupted'] as const;
export type RunStatus = (typeof runStatuses)[number];

/** Overrides of a preset as the contract accepts them: every field of the config but the preset. */
export const pretrainOverridesSchema = pretrainConfigSchema.omit({ preset: true }).partial().strict();

/** What a person reads when no folder is chosen. */
const noFolderMessage = 'choose at least one folder (or leave the choice out for the whole library)';

export const pretrainStartSchema = z
  .object({
    /** Library folders to train on; all of them when left out. */
    folderIds: z.array(z.number().int().positive()).min(1, noFolderMessage).max(10_000).optional(),
    preset: z.enum(presetNames),
    overrides: pretrainOverridesSchema.default({}),
  })
  .strict();

/**
 * What the new-run form sends to get its estimate: overrides are loose here (any value), so
 * every field at fault comes back as a FieldError rather than one refusal of the whole call.
 */
export const pretrainEstimateSchema = z
  .object({
    folderIds: z.array(z.number().int().positive()).min(1, noFolderMessage).max(10_000).optional(),
    preset: z.enum(presetNames),
    overrides: z.record(z.string().max(64), z.union([z.number(), z.string().max(100), z.boolean(), z.null()])).default({}),
    /** Also time a short warm-up (a few training steps on random montages) with this engine. */
    measure: z.boolean().default(false),
  })
  .strict();

/** Continue a run: in place from its last checkpoint, or as a new run from an older one. */
export const pretrainContinueSchema = z
  .object({
    runId: z.number().int().positive(),
    /** The checkpoint (its global step); the run's newest when left out. */
    step: z.number().int().min(0).optional(),
    /** Train to this many epochs in all (more than the run had, to extend a finished run). */
    epochs: z.number().int().min(1).max(10_000).optional(),
  })
  .strict();

export const pretrainInspectSchema = z
  .object({
    runId: z.number().int().positive(),
    /** The training step whose batch to show (1-based, as the charts count); the last one trained when left out. */
    step: z.number().int().min(1).optional(),
    /** How many montages of the batch to return (the accuracies cover the whole batch). */
    montages: z.number().int().min(1).max(64).default(8),
  })
  .strict();

/** The estimate shown under the new-run form. */
export interface PretrainEstimate {
  imageCount: number;
  /** The resolved config when every field is valid. */
  config: PretrainConfig | null;
  /** Every field at fault, with what is wrong. */
  errors: FieldError[];
  stepsPerEpoch: number;
  totalSteps: number;
  /** Rough training memory (weights, optimizer, activations) in MiB. */
  memoryMb: number | null;
  /** On the webgpu engine: the largest buffer of a step against the adapter's per-buffer limit, in MiB. */
  gpuBuffer?: { largestMb: number; limitMb: number };
  /** The engine the run would use, with the reason when it is a fallback. */
  engine: EngineReport;
  /** Time per step and epoch, when measured (or taken from a run of the same shape). */
  timing: {
    secondsPerStep: number;
    secondsPerEpoch: number;
    totalSeconds: number;
    source: 'measured' | 'active-run';
    note: string;
  } | null;
  /** Why there is no timing (not asked for, invalid config, a run is training...). */
  timingNote: string | null;
}

/** One patch of an inspected montage. */
export interface InspectedPatch {
  montage: number;
  /** Cell of the montage, row-major (r * grid + c). */
  cell: number;
  /** Source image of the patch: its index in the batch, its library image id and file name. */
  source: number;
  imageId: number | null;
  fileName: string;
  /** The location the patch had in its source image (row-major), and what the model predicts. */
  trueLocation: number;
  predictedLocation: number;
  /** The 3 most similar other patches of the batch (cluster head, cosine), best first. */
  neighbours: { montage: number; cell: number; similarity: number; sameSource: boolean }[];
}

/** The montages of one training batch as the model sees them, with its predictions. */
export interface MontageInspection {
  runId: number;
  /** The training step whose batch this is (1-based), its epoch (1-based) and step in the epoch (1-based). */
  step: number;
  epoch: number;
  stepInEpoch: number;
  /** The step of the weights used for the predictions. */
  weightsStep: number;
  grid: number;
  crop: number;
  /** Montage side in pixels. */
  size: number;
  batch: number;
  /** Each montage as base64 RGBA bytes (size * size * 4), de-normalised for display. */
  montages: string[];
  /** montages.length * grid * grid patches, montage-major. */
  patches: InspectedPatch[];
  /** Over the whole batch: location head right / all patches; nearest other patch from the same source / all patches. */
  locationAccuracy: number;
  clusterAccuracy: number;
}

/** A checkpoint chosen as the backbone for clusters and fine-tuning. */
export interface BackboneChoice {
  runId: number;
  runName: string;
  step: number;
  file: string;
  chosenAt: string;
}

export interface RunLosses {
  total: number;
  cluster: number;
  location: number;
}

/** One run of the history. */
export interface RunInfo {
  id: number;
  name: string;
  note: string;
  config: PretrainConfig;
  /** The engine asked for, then the one the trainer chose once it started. */
  engine: string;
  /** The dataset when the run started: how many images, and a hash of the file list. */
  imageCount: number;
  filesHash: string;
  runDir: string;
  status: RunStatus;
  error: string | null;
  startedAt: string;
  endedAt: string | null;
  finalLosses: RunLosses | null;
  knnAccuracy: number | null;
  /** The last step with metrics (0 before the first). */
  lastStep: number;
  /** Checkpoints of the run on record. */
  checkpointCount: number;
  /** Steps in all, when known (epochs * steps per epoch). */
  totalSteps: number | null;
  /** The run this one continues from an older checkpoint of, and that checkpoint's step. */
  parentRunId: number | null;
  parentStep: number | null;
  /**
   * The kNN monitor's subset: its classes (class subfolders or labels), bank and held-out
   * queries (null: the images have no class). Its accuracy is shown only with at least
   * minMonitorQueries queries.
   */
  monitor: { classes: number; bank: number; queries: number } | null;
}

export interface RunMetric {
  step: number;
  epoch: number;
  total: number;
  cluster: number;
  location: number;
  lr: number;
  imagesPerSecond: number | null;
  /** Batch-level accuracies of the step: location head, and nearest-patch same source (cluster top-1). */
  locationAccuracy: number | null;
  clusterAccuracy: number | null;
}

/** The kNN monitor after an epoch. */
export interface RunEpochMetric {
  epoch: number;
  step: number;
  knnAccuracy: number;
}

export interface CheckpointInfo {
  step: number;
  epoch: number;
  kind: 'step' | 'epoch' | 'final' | 'stop';
  file: string;
  createdAt: string;
}

/** A run with its curves (downsampled to at most `maxPoints` points) and its checkpoints. */
export interface RunDetails extends RunInfo {
  metrics: RunMetric[];
  /** How many metric rows the run has in all (before downsampling). */
  metricCount: number;
  checkpoints: CheckpointInfo[];
  /** kNN accuracy after each epoch (empty without labels). */
  epochMetrics: RunEpochMetric[];
}

/** Live progress of the running job. */
export interface RunEvent {
  runId: number;
  status: RunStatus;
  phase: 'preparing' | 'training' | 'ended';
  step: number;
  totalSteps: number;
  epoch: number;
  epochs: number;
  losses?: RunLosses;
  lr?: number;
  imagesPerSecond?: number;
  etaSeconds?: number;
  /** Seconds of training so far in this session of the run. */
  elapsedSeconds?: number;
  locationAccuracy?: number;
  clusterAccuracy?: number;
  /** Set on the event that reports a new kNN monitor value. */
  knn?: RunEpochMetric;
  /** Set on the event that reports a new checkpoint. */
  checkpoint?: CheckpointInfo;
  /** A log line (also kept in the run's log). */
  message?: string;
  level?: 'info' | 'warn' | 'error';
}

/** The fewest held-out images a kNN monitor accuracy may rest on to be shown. */
export const minMonitorQueries = 20;

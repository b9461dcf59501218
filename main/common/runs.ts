import { z } from 'zod';
import { presetNames, pretrainConfigSchema, type PretrainConfig } from './pretrain-config';

/**
 * Pretraining runs as the contract shows them: history rows, their metrics and checkpoints,
 * and the live `run` event.
 */

export const runStatuses = ['running', 'paused', 'finished', 'cancelled', 'crashed', 'interrupted'] as const;
export type RunStatus = (typeof runStatuses)[number];

/** Overrides of a preset as the contract accepts them: every field of the config but the preset. */
export const pretrainOverridesSchema = pretrainConfigSchema.omit({ preset: true }).partial().strict();

export const pretrainStartSchema = z
  .object({
    /** Library folders to train on; all of them when left out. */
    folderIds: z.array(z.number().int().positive()).min(1).max(10_000).optional(),
    preset: z.enum(presetNames),
    overrides: pretrainOverridesSchema.default({}),
  })
  .strict();

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
}

export interface RunMetric {
  step: number;
  epoch: number;
  total: number;
  cluster: number;
  location: number;
  lr: number;
  imagesPerSecond: number | null;
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
  message?: string;
}

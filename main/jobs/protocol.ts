import type { EngineName, EngineReport, ThreadSetting } from '../common/engine';
import type { PretrainConfig } from '../common/pretrain-config';
import type { TrainingTime } from '../common/runs';
import type { ComputeJob, EmbedChunk } from '../engine/compute/compute-jobs';
import type { BatchInspection, MonitorSet } from '../engine/jigclu/monitor';
import type { CheckpointWritten, PretrainProgress } from '../engine/jigclu/run-pretraining';

/**
 * Messages between the app and its trainer process. Every message carries a sequence number
 * (`seq`, increasing per sender) so the receiver can notice loss or reordering; errors travel
 * as data.
 */

export interface StartPretraining {
  type: 'start';
  config: PretrainConfig;
  files: string[];
  runDir: string;
  resumeFrom?: string;
  engine: EngineName | 'auto';
  /** Threads of the wasm engine ('auto' when absent). */
  threads?: ThreadSetting;
  cacheDir?: string;
  monitor?: MonitorSet;
  stepDelayMs?: number;
}

/** Times a few training steps of a config on random montages (the new-run form's estimate). */
export interface MeasureSpeed {
  type: 'measure';
  config: PretrainConfig;
  engine: EngineName | 'auto';
  threads?: ThreadSetting;
  steps?: number;
}

/** Runs one compute job (embedding, k-means, a projection, fine-tuning) in the trainer process. */
export interface RunJob {
  type: 'job';
  job: ComputeJob;
  engine: EngineName | 'auto';
  threads?: ThreadSetting;
}

export type ToTrainer = { seq: number } & (
  | StartPretraining
  | MeasureSpeed
  | { type: 'pause' }
  | { type: 'resume' }
  | { type: 'stop' }
  | { type: 'inspect'; id: number; step?: number; count: number }
  | RunJob
);

export type FromTrainer = { seq: number } & (
  | { type: 'ready'; engine: EngineReport; pid: number }
  | { type: 'progress'; progress: PretrainProgress }
  | { type: 'log'; level: 'info' | 'warn'; message: string }
  | { type: 'checkpoint'; checkpoint: CheckpointWritten }
  | { type: 'paused' }
  | { type: 'resumed' }
  | { type: 'inspection'; id: number; result?: BatchInspection; error?: string }
  | { type: 'knn'; epoch: number; step: number; accuracy: number }
  /** warmupSeconds: the untimed first step (kernel and, on WebGPU, shader compilation). */
  | { type: 'measured'; secondsPerStep: number; warmupSeconds?: number; engine: EngineReport }
  | { type: 'job-progress'; done: number; total: number; message?: string }
  | { type: 'job-chunk'; chunk: EmbedChunk }
  | { type: 'job-result'; result: unknown }
  | { type: 'finished'; status: 'finished' | 'stopped'; lastCheckpoint?: string; globalStep: number; epoch: number; rejected: number; imageCount: number; training?: TrainingTime }
  | { type: 'failed'; error: { code: 'OUT_OF_MEMORY' | 'TRAINING_FAILED' | 'BAD_REQUEST'; message: string } }
);

/** Type guard for messages arriving from the parent. */
export function isToTrainer(message: unknown): message is ToTrainer {
  const m = message as { seq?: unknown; type?: unknown };
  return typeof m === 'object' && m !== null && typeof m.seq === 'number' && ['start', 'measure', 'pause', 'resume', 'stop', 'inspect', 'job'].includes(String(m.type));
}

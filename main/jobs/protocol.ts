import type { EngineName, EngineReport } from '../common/engine';
import type { PretrainConfig } from '../common/pretrain-config';
import type { CheckpointWritten, PretrainProgress } from '../engine/run-pretraining';

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
  cacheDir?: string;
}

export type ToTrainer = { seq: number } & (StartPretraining | { type: 'pause' } | { type: 'resume' } | { type: 'stop' });

export type FromTrainer = { seq: number } & (
  | { type: 'ready'; engine: EngineReport; pid: number }
  | { type: 'progress'; progress: PretrainProgress }
  | { type: 'log'; level: 'info' | 'warn'; message: string }
  | { type: 'checkpoint'; checkpoint: CheckpointWritten }
  | { type: 'paused' }
  | { type: 'resumed' }
  | { type: 'finished'; status: 'finished' | 'stopped'; lastCheckpoint?: string; globalStep: number; epoch: number; rejected: number; imageCount: number }
  | { type: 'failed'; error: { code: 'OUT_OF_MEMORY' | 'TRAINING_FAILED' | 'BAD_REQUEST'; message: string } }
);

/** Type guard for messages arriving from the parent. */
export function isToTrainer(message: unknown): message is ToTrainer {
  const m = message as { seq?: unknown; type?: unknown };
  return typeof m === 'object' && m !== null && typeof m.seq === 'number' && ['start', 'pause', 'resume', 'stop'].includes(String(m.type));
}

import fs from 'node:fs';
import path from 'node:path';
import type { PretrainConfig } from '../../common/pretrain-config';
import type { JobHooks } from './job-hooks';
import { defaultConvGradMode } from '../nn/conv';
import { loadBackbone } from '../jigclu/evaluate';
import { exportBackbone } from '../weights/export';
import * as tf from '../backend/tfjs';
import { exportTorchBackbone } from '../weights/torch-export';

/**
 * Backbone export as a compute job (run in a trainer process, so the main process never loads
 * tfjs): a checkpoint's backbone, or a random-init one of a run's architecture, written into an
 * existing (empty) folder as safetensors with torchvision's ResNet names, or in tfjs's format.
 */
export interface ExportBackboneJob {
  kind: 'export-backbone';
  /** The checkpoint; left out for a random-init backbone of `config`. */
  checkpoint?: string;
  config: PretrainConfig;
  format: 'safetensors' | 'tfjs';
  /** The folder to write into (made by the caller). */
  dir: string;
  /** The checkpoint's global step (safetensors metadata; num_batches_tracked). */
  step?: number;
  /** Extra string metadata written with the weights (the run, the source's label). */
  metadata?: Record<string, string>;
}

export interface ExportBackboneResult {
  /** The files written, relative to `dir`. */
  files: string[];
  /** The backbone's feature width. */
  outChannels: number;
}

/** Writes the backbone; returns the files written. */
export async function exportBackboneFiles(job: ExportBackboneJob, hooks: JobHooks): Promise<ExportBackboneResult> {
  hooks.progress(0, 1, 'loading the backbone');
  const loaded = loadBackbone(job.checkpoint, { randomInit: !job.checkpoint, config: job.config, convGrad: defaultConvGradMode(tf.getBackend()) });
  try {
    fs.mkdirSync(job.dir, { recursive: true });
    hooks.progress(0, 1, 'writing');
    const sourceCheckpoint = job.checkpoint ? path.basename(job.checkpoint) : 'random init';
    if (job.format === 'safetensors') {
      await exportTorchBackbone(loaded.backbone, path.join(job.dir, 'backbone.safetensors'), { sourceCheckpoint, step: job.step ?? 0, extra: job.metadata });
    } else {
      await exportBackbone(loaded.backbone, job.dir, { sourceCheckpoint, step: job.step ?? 0, ...job.metadata });
    }
    hooks.progress(1, 1, 'written');
    return { files: fs.readdirSync(job.dir).sort(), outChannels: loaded.backbone.outChannels };
  } finally {
    loaded.dispose();
  }
}

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { PretrainConfig } from '../../main/common/pretrain-config';
import type { JigsawBatch } from '../../main/data/jigsaw';
import { runTorchScript } from '../helpers/torch-python';

export interface TorchTiming {
  threads: number;
  steps: number;
  imagesPerSecond: number;
  /** CPU-seconds of the process per second of its timed steps: the cores it actually got. */
  cores: number;
}

/**
 * PyTorch's JigClu step (torch_jigclu_step.py, on scaleout/jigclu_ddp.py's port of the model) on
 * this very batch and config, on `threads` threads: its images/s, or why it could not run here.
 */
export function torchStep(batch: JigsawBatch, config: PretrainConfig, threads: number): TorchTiming | string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-torch-'));
  try {
    const file = path.join(dir, 'batch.bin');
    const bytes = (array: Float32Array | Int32Array) => Buffer.from(array.buffer, array.byteOffset, array.byteLength);
    fs.writeFileSync(file, Buffer.concat([bytes(batch.montages), bytes(Int32Array.from(batch.clusterLabels)), bytes(Int32Array.from(batch.locationLabels))]));
    const script = path.join(import.meta.dirname, 'torch_jigclu_step.py');
    const args = ['--device', 'cpu', '--batch-file', file, '--n', String(batch.n), '--size', String(batch.size), '--config', JSON.stringify(config), '--threads', String(threads), '--seconds', '5'];
    const run = runTorchScript(script, args, undefined, 180_000);
    if (run.reason) return run.reason;
    const result = JSON.parse(run.stdout!.trim().split('\n').at(-1)!) as { threads: number; steps: number; medianImagesPerSecond: number; cores: number };
    return { threads: result.threads, steps: result.steps, imagesPerSecond: result.medianImagesPerSecond, cores: result.cores };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

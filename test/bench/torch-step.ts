import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { PretrainConfig } from '../../main/common/pretrain-config';
import type { JigsawBatch } from '../../main/data/jigsaw';

/** Debian's Python with torch 1.13 (the `python3` first on PATH may lack torch). */
export const torchPython = '/usr/bin/python3';

export interface TorchTiming {
  threads: number;
  steps: number;
  imagesPerSecond: number;
}

/**
 * PyTorch's JigClu step (torch_jigclu_step.py: the same model) on this very batch, on `threads`
 * threads: its images/s, or why it could not be measured.
 */
export function torchStep(batch: JigsawBatch, config: PretrainConfig, threads: number): TorchTiming | string {
  if (config.arch !== 'resnet18') return `the PyTorch step mirrors resnet18 only, not ${config.arch}`;
  if (!fs.existsSync(torchPython)) return `${torchPython} is missing (apt-get install python3-torch python3-torchvision)`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-torch-'));
  try {
    const file = path.join(dir, 'batch.bin');
    const bytes = (array: Float32Array | Int32Array) => Buffer.from(array.buffer, array.byteOffset, array.byteLength);
    fs.writeFileSync(file, Buffer.concat([bytes(batch.montages), bytes(Int32Array.from(batch.clusterLabels)), bytes(Int32Array.from(batch.locationLabels))]));
    const settings = { n: batch.n, size: batch.size, grid: config.grid, width: config.width, projectionDim: config.projectionDim, temperature: config.temperature, lr: (config.baseLr * config.batch) / 256, momentum: config.momentum, weightDecay: config.weightDecay };
    const script = path.join(import.meta.dirname, 'torch_jigclu_step.py');
    const run = spawnSync(torchPython, [script, '--batch-file', file, '--config', JSON.stringify(settings), '--threads', String(threads)], { encoding: 'utf8', timeout: 120_000 });
    if (run.status !== 0) return `PyTorch failed: ${(run.stderr || run.error?.message || `exit ${run.status}`).trim().split('\n').at(-1)}`;
    const result = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { threads: number; steps: number; images_per_second: number };
    return { threads: result.threads, steps: result.steps, imagesPerSecond: result.images_per_second };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

import fs from 'node:fs';
import path from 'node:path';
import type { PretrainConfig } from '../../common/pretrain-config';
import type { JobHooks } from './job-hooks';
import { defaultConvGradMode } from '../nn/conv';
import { foreignLayout, locationRowOrder, type ForeignSource } from '../weights/foreign-weights';
import { writeFileAtomic } from '../../data/atomic-file';
import * as tf from '../backend/tfjs';
import { decodeTorchSafetensors } from '../weights/torch-export';
import { fromTorchLayout, torchShape } from '../weights/torch-layout';
import { JigCluTrainer } from '../jigclu/trainer';

/**
 * Weights trained elsewhere as a checkpoint of ours (a compute job: it builds the app's model):
 * a torchvision ResNet state dict, the reference's JigClu checkpoint or our own names, in
 * PyTorch's layout and F32, from safetensors. The backbone must match `config`'s architecture
 * and width tensor by tensor; the heads come from the file when it has them (the reference's
 * location rows reordered to our row-major numbering), else they keep their random init.
 */
export interface ImportWeightsJob {
  kind: 'import-weights';
  file: string;
  config: PretrainConfig;
  /** The checkpoint to write. */
  out: string;
  /** The run's usable images (kept in the checkpoint's metadata, as training does). */
  imageCount: number;
}

export interface ImportWeightsResult {
  source: ForeignSource;
  heads: 'imported' | 'random';
}

export async function importWeightsFile(job: ImportWeightsJob, hooks: Pick<JobHooks, 'progress'>): Promise<ImportWeightsResult> {
  hooks.progress(0, 1, 'reading the weights');
  const { tensors } = decodeTorchSafetensors(fs.readFileSync(job.file));
  const layout = foreignLayout(tensors, job.file);
  const trainer = new JigCluTrainer(job.config, defaultConvGradMode(tf.getBackend()));
  let heads: ImportWeightsResult['heads'] = 'random';
  try {
    tf.tidy(() => {
      for (const [name, variable] of trainer.model.allParameters()) {
        const head = name.startsWith('cluster_head.') || name.startsWith('location_head.');
        const original = layout.names.get(name);
        if (!original) {
          if (head) continue;
          throw new Error(`${job.file} has no ${name}: it is not a ${job.config.arch} of width ${job.config.width}.`);
        }
        const tensor = tensors.get(original)!;
        if (!(tensor.data instanceof Float32Array)) throw new Error(`${job.file}: ${original} is ${tensor.dtype}, not F32.`);
        const expected = torchShape(variable.shape);
        if (tensor.shape.join('x') !== expected.join('x')) {
          throw new Error(`${job.file}: ${original} has shape ${tensor.shape.join('x')}, a ${job.config.arch} of width ${job.config.width} with these heads needs ${expected.join('x')}.`);
        }
        let data = tensor.data;
        if (layout.reorderLocations && name.startsWith('location_head.')) {
          const rowLength = data.length / expected[0]!;
          const reordered = new Float32Array(data.length);
          locationRowOrder(job.config.grid).forEach((from, row) => reordered.set(data.subarray(from * rowLength, (from + 1) * rowLength), row * rowLength));
          data = reordered;
        }
        variable.assign(tf.tensor(fromTorchLayout(tensor.shape, data), variable.shape));
        if (head) heads = 'imported';
      }
    });
    writeFileAtomic(job.out, await trainer.serialize({ kind: 'final', files: String(job.imageCount), importedFrom: path.basename(job.file), source: layout.source }));
  } finally {
    trainer.dispose();
  }
  hooks.progress(1, 1, 'written');
  return { source: layout.source, heads };
}

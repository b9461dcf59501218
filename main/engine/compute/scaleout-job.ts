import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { parseStoredPretrainConfig, stepsPerEpochFor, type PretrainConfig } from '../../common/pretrain-config';
import type { JobDescription, JobParent, ManifestImage } from '../../common/scaleout';
import { referenceAugmentation, toFloatImage } from '../../data/augment';
import { batchIndices, seedOf } from '../../data/batch-source';
import { decodeImage } from '../../data/decode';
import { fileSha256 } from '../../data/files';
import { makeJigsawBatch } from '../../data/jigsaw';
import { Rng } from '../../data/rng';
import type { JobHooks } from './job-hooks';
import { defaultConvGradMode } from '../nn/conv';
import { writeFileAtomic } from '../../data/atomic-file';
import { decodeSafetensors, encodeSafetensors, type NamedTensor } from '../weights/safetensors';
import * as tf from '../backend/tfjs';
import type { TorchTensor } from '../weights/torch-export';
import { toTorchLayout, torchShape } from '../weights/torch-layout';
import { JigCluTrainer, type TrainingPosition } from '../jigclu/trainer';

/**
 * `jigclu export-job`: a run's checkpoint as a job folder for PyTorch DDP (run in a trainer
 * process: the golden batches need tfjs). The folder holds everything a cluster needs:
 * - job.json: the resolved config, the start position, steps per epoch, the pre-resize rule,
 *   the app version, the trainer's sha256, the roots and the parent run;
 * - manifest.tsv: every usable image in the app's order (index, root alias, relative POSIX
 *   path, sha256, bytes, width, height); its roots are remapped on the cluster with --root;
 * - init.safetensors: the start weights, BatchNorm statistics, heads and momentum buffers in
 *   PyTorch's layout under the app's (torchvision's) names;
 * - jigclu_ddp.py (the trainer) and run.sh (single node, several nodes, Slurm);
 * - golden/: a few batches made by the app (montages, labels, the cached 8-bit images) with the
 *   losses the app computes for them at the start weights, which `jigclu_ddp.py selftest`
 *   reproduces before a long run.
 * Every image is checked first (present, same size, same content hash): a missing or changed
 * one is an error naming it, never left out (the batch order counts every image).
 */
export interface ScaleoutExportJob {
  kind: 'scaleout-export';
  /** The app checkpoint to start from. */
  checkpoint: string;
  /** The run's images in the app's order (the batch order's indices). */
  images: ManifestImage[];
  /** Root alias -> folder on this machine. */
  roots: Record<string, string>;
  /** The folder to write (new and empty). */
  dir: string;
  /** The trainer script to copy (scaleout/jigclu_ddp.py). */
  trainerScript: string;
  parent: JobParent;
  appVersion: string;
  /** Golden batches to make (2 by default). */
  goldenBatches?: number;
}

export interface ScaleoutExportResult {
  jobId: string;
  files: string[];
  imageCount: number;
  stepsPerEpoch: number;
  start: TrainingPosition;
  manifestSha256: string;
  /** Epochs in all to suggest for the trainer: the run's, or one more than done when it has finished. */
  epochs: number;
}

/** The golden batches' tolerance on losses and montages, and on decoding (mean 8-bit levels). */
const goldenTolerance = 1e-4;
const decodeLevels = 3;

function sha256(data: Buffer | string): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

/**
 * Checks every image is present and unchanged, or, for an image the library does not know
 * (sha256 empty), reads its size, content hash and dimensions (after EXIF orientation) into it;
 * throws naming the images that are missing or changed.
 */
export async function checkImages(images: ManifestImage[], hooks: Pick<JobHooks, 'progress'>): Promise<void> {
  const problems: string[] = [];
  const check = async (image: ManifestImage): Promise<void> => {
    let size: number;
    try {
      size = (await fs.promises.stat(image.path)).size;
    } catch {
      problems.push(`${image.path} is missing`);
      return;
    }
    if (image.sha256 === '') {
      image.bytes = size;
      image.sha256 = await fileSha256(image.path);
      try {
        const meta = await sharp(image.path, { limitInputPixels: false }).metadata();
        const rotated = (meta.orientation ?? 1) >= 5;
        image.width = (rotated ? meta.height : meta.width) ?? 0;
        image.height = (rotated ? meta.width : meta.height) ?? 0;
      } catch {
        problems.push(`${image.path} is not an image any more`);
      }
    } else if (size !== image.bytes) problems.push(`${image.path} has changed (${size} bytes, the library has ${image.bytes})`);
    else if ((await fileSha256(image.path)) !== image.sha256) problems.push(`${image.path} has changed (its content hash is not the library's)`);
  };
  for (let i = 0; i < images.length; i += 8) {
    await Promise.all(images.slice(i, i + 8).map(check));
    hooks.progress(Math.min(images.length, i + 8), images.length, 'checking images');
  }
  if (problems.length > 0) {
    const more = problems.length > 5 ? ` (and ${problems.length - 5} more)` : '';
    throw new Error(
      `${problems.length} of ${images.length} images of the run cannot be exported: ${problems.slice(0, 5).join('; ')}${more}. ` +
        'Restore them or rescan their folder; the batch order counts every image, so none is left out.',
    );
  }
}

/** manifest.tsv: a header, then one row per image in the app's order. */
export function manifestText(images: ManifestImage[]): string {
  const lines = ['index\troot\tpath\tsha256\tbytes\twidth\theight'];
  images.forEach((image, index) => {
    if (/[\t\n\r]/.test(image.rel)) throw new Error(`${image.path}: a tab or line break in a file name cannot go into manifest.tsv; rename the file.`);
    lines.push([index, image.root, image.rel, image.sha256, image.bytes, image.width, image.height].join('\t'));
  });
  return `${lines.join('\n')}\n`;
}

/** The checkpoint's tensors in PyTorch's layout (num_batches_tracked after each BatchNorm, momentum last). */
export function initTensors(tensors: Map<string, NamedTensor>, step: number): TorchTensor[] {
  const out: TorchTensor[] = [];
  for (const [name, tensor] of tensors) {
    if (!(tensor.data instanceof Float32Array)) throw new Error(`the checkpoint's ${name} is not float32`);
    out.push({ name, shape: torchShape(tensor.shape), data: toTorchLayout(tensor.shape, tensor.data), dtype: 'F32' });
    if (name.endsWith('.running_var')) {
      out.push({ name: `${name.slice(0, -'running_var'.length)}num_batches_tracked`, shape: [], data: BigInt64Array.of(BigInt(step)), dtype: 'I64' });
    }
  }
  return out;
}

/** run.sh: selftest, then torchrun on this node; several nodes and Slurm as comments. */
export function runScript(job: Pick<JobDescription, 'jobId' | 'parent' | 'imageCount' | 'config' | 'roots'>): string {
  const roots = Object.entries(job.roots)
    .map(([alias, folder]) => `#   ${alias} = ${folder}`)
    .join('\n');
  const epochs = job.config.epochs;
  return `#!/bin/sh
# JigClu Studio job ${job.jobId}: ${job.parent.runName} from step ${job.parent.step}, ${job.imageCount} images.
# The images are read from these folders (give their place on this machine with ROOTS):
${roots}
# Settings: NPROC (processes on this node; default: the GPUs, or 1), EPOCHS (epochs in all;
# default ${epochs}), OUT (default out), ROOTS (e.g. "r0=/data/photos"), PYTHON (default python3).
# Afterwards, on the app's machine: jigclu import-job <this folder>/out
set -e
cd "$(dirname "$0")"
PY=\${PYTHON:-python3}
NPROC=\${NPROC:-$($PY -c 'import torch; print(max(1, torch.cuda.device_count()))')}
ROOT_ARGS=""
for r in $ROOTS; do ROOT_ARGS="$ROOT_ARGS --root $r"; done
$PY jigclu_ddp.py selftest $ROOT_ARGS
# --redirects 3:1 --tee 3:1: torchrun of torch 1.13 crashes on Python 3.11 without them (harmless elsewhere).
exec $PY -m torch.distributed.run --standalone --nproc_per_node "$NPROC" --redirects 3:1 --tee 3:1 \\
  jigclu_ddp.py --epochs "\${EPOCHS:-${epochs}}" --out "\${OUT:-out}" $ROOT_ARGS

# Several nodes: the same command on every node (NODE_RANK 0..NNODES-1; MASTER_ADDR is node 0):
#   python3 -m torch.distributed.run --nnodes 2 --node_rank $NODE_RANK --nproc_per_node 8 \\
#     --master_addr $MASTER_ADDR --master_port 29500 jigclu_ddp.py --epochs ${epochs} --out out --root r0=/data/photos
# Slurm (sbatch --nodes=2 --ntasks-per-node=1 --gpus-per-node=8 job.sbatch), in job.sbatch:
#   srun python3 -m torch.distributed.run --nnodes $SLURM_NNODES --nproc_per_node 8 \\
#     --rdzv_id $SLURM_JOB_ID --rdzv_backend c10d --rdzv_endpoint $(scontrol show hostnames $SLURM_JOB_NODELIST | head -n 1):29500 \\
#     jigclu_ddp.py --epochs ${epochs} --out out --root r0=/data/photos
# A rerun with the same --out resumes from its newest checkpoint.
`;
}

/** Batch b (0-based) after the start position, as (epoch, batch index). */
function goldenBatchAt(start: TrainingPosition, k: number, stepsPerEpoch: number): { epoch: number; batchIndex: number } {
  const step = start.epoch * stepsPerEpoch + start.stepInEpoch + k;
  return { epoch: Math.floor(step / stepsPerEpoch), batchIndex: step % stepsPerEpoch };
}

/** golden/: app-made batches (a few images of each), with the losses the start weights give them. */
async function writeGolden(
  dir: string,
  checkpoint: Buffer,
  config: PretrainConfig,
  images: ManifestImage[],
  start: TrainingPosition,
  count: number,
  hooks: JobHooks,
): Promise<void> {
  const steps = stepsPerEpochFor(images.length, config.batch);
  const trainer = JigCluTrainer.deserialize(checkpoint, { convGrad: defaultConvGradMode(tf.getBackend()) });
  const batches: unknown[] = [];
  try {
    fs.mkdirSync(path.join(dir, 'golden'));
    for (let k = 0; k < count; k += 1) {
      hooks.progress(images.length, images.length, `making golden batch ${k + 1} of ${count}`);
      const { epoch, batchIndex } = goldenBatchAt(start, k, steps);
      const indices = Array.from(batchIndices({ seed: config.seed, batch: config.batch, jigsaw: config }, images.length, epoch, batchIndex)).slice(0, Math.min(config.batch, 8));
      const decoded = await Promise.all(indices.map((index) => decodeImage(images[index]!.path, { maxShortSide: config.crop * 2 })));
      const batch = makeJigsawBatch(
        decoded.map((image) => toFloatImage(image.data, image.width, image.height)),
        { grid: config.grid, crop: config.crop, cross: config.cross, augmentation: referenceAugmentation },
        new Rng(seedOf(config.seed, epoch, batchIndex)),
      );
      const parts = tf.tidy(() => {
        const all = trainer.model.losses(
          tf.tensor4d(batch.montages, [batch.n, batch.size, batch.size, 3]),
          tf.tensor1d(batch.clusterLabels, 'int32'),
          tf.tensor1d(batch.locationLabels, 'int32'),
          trainer.convGrad,
        );
        return tf.stack([all.total, all.cluster, all.location]);
      });
      // Read asynchronously: the webgpu engine has no synchronous read in Node.
      const [total, cluster, location] = Array.from(await parts.data());
      parts.dispose();
      const losses = { total: total!, cluster: cluster!, location: location! };
      const file = `batch-${k}.safetensors`;
      const tensors: NamedTensor[] = [
        { name: 'montages', shape: [batch.n, batch.size, batch.size, 3], data: batch.montages },
        { name: 'cluster', shape: [batch.clusterLabels.length], data: batch.clusterLabels },
        { name: 'location', shape: [batch.locationLabels.length], data: batch.locationLabels },
        { name: 'permutation', shape: [batch.permutation.length], data: batch.permutation },
        ...decoded.map((image, i) => ({ name: `image.${i}`, shape: [image.height, image.width, 3], data: new Uint8Array(image.data.buffer, image.data.byteOffset, image.data.byteLength) })),
      ];
      fs.writeFileSync(path.join(dir, 'golden', file), encodeSafetensors(tensors, { epoch: String(epoch), batchIndex: String(batchIndex) }));
      batches.push({ file, epoch, batchIndex, indices, sizes: decoded.map((image) => [image.width, image.height]), losses });
    }
  } finally {
    trainer.dispose();
  }
  const golden = {
    about: 'Batches made by JigClu Studio from the first images of batches of the job, and the losses it computes for them with init.safetensors in training mode; `python3 jigclu_ddp.py selftest` checks this machine gives the same.',
    tolerance: goldenTolerance,
    decodeLevels,
    batches,
  };
  fs.writeFileSync(path.join(dir, 'golden', 'golden.json'), `${JSON.stringify(golden, null, 2)}\n`);
}

/** Writes the job folder; returns its id and files. The folder must be new (made by the caller). */
export async function writeScaleoutJob(job: ScaleoutExportJob, hooks: JobHooks): Promise<ScaleoutExportResult> {
  const checkpoint = fs.readFileSync(job.checkpoint);
  const file = decodeSafetensors(checkpoint);
  if (file.metadata.format !== 'jigclu-checkpoint-v1') throw new Error(`${job.checkpoint} is not a JigClu Studio checkpoint.`);
  const config = parseStoredPretrainConfig(JSON.parse(file.metadata.config ?? '{}'));
  const start = JSON.parse(file.metadata.position ?? '{}') as TrainingPosition;
  const trained = file.metadata.files === undefined ? undefined : Number(file.metadata.files);
  if (trained !== undefined && trained !== job.images.length) {
    throw new Error(`${path.basename(job.checkpoint)} was trained on ${trained} usable images but the run lists ${job.images.length}: some of its files no longer decode or were added; the batch order would differ, so it cannot be exported.`);
  }
  const stepsPerEpoch = stepsPerEpochFor(job.images.length, config.batch);
  if (stepsPerEpoch < 1) throw new Error(`${job.images.length} images are fewer than one batch of ${config.batch}.`);
  await checkImages(job.images, hooks);
  const jobId = crypto.randomUUID();
  const manifest = manifestText(job.images);
  fs.writeFileSync(path.join(job.dir, 'manifest.tsv'), manifest);
  const init = encodeSafetensors(initTensors(file.tensors, start.globalStep), {
    format: 'pytorch',
    layout: 'torchvision-nchw-oihw',
    arch: config.arch,
    width: String(config.width),
    jobId,
    step: String(start.globalStep),
  });
  fs.writeFileSync(path.join(job.dir, 'init.safetensors'), init);
  const trainer = fs.readFileSync(job.trainerScript);
  fs.writeFileSync(path.join(job.dir, 'jigclu_ddp.py'), trainer);
  const description: JobDescription = {
    format: 'jigclu-job-v1',
    jobId,
    createdAt: new Date().toISOString(),
    appVersion: job.appVersion,
    parent: job.parent,
    config,
    start,
    imageCount: job.images.length,
    stepsPerEpoch,
    preResize: {
      maxShortSide: config.crop * 2,
      rule: 'EXIF orientation applied, alpha flattened on white, RGB; the shorter side is resized (Lanczos) to at most maxShortSide, never upscaled; new sides round(side * scale)',
    },
    roots: job.roots,
    manifest: { file: 'manifest.tsv', sha256: sha256(manifest) },
    init: { file: 'init.safetensors', sha256: sha256(init) },
    trainer: { file: 'jigclu_ddp.py', sha256: sha256(trainer) },
  };
  await writeGolden(job.dir, checkpoint, config, job.images, start, job.goldenBatches ?? 2, hooks);
  fs.writeFileSync(path.join(job.dir, 'run.sh'), runScript(description), { mode: 0o755 });
  writeFileAtomic(path.join(job.dir, 'job.json'), `${JSON.stringify(description, null, 2)}\n`);
  hooks.progress(job.images.length, job.images.length, 'written');
  return { jobId, files: fs.readdirSync(job.dir).sort(), imageCount: job.images.length, stepsPerEpoch, start, manifestSha256: description.manifest.sha256, epochs: Math.max(config.epochs, start.epoch + 1) };
}

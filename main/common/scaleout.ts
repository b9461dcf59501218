import { z } from 'zod';
import { presetNames, type PretrainConfig } from './pretrain-config';
import type { RunInfo } from './runs';

/**
 * Scaling out: a run exported as a PyTorch DDP job for torchrun (`jigclu export-job`), the
 * job's output brought back as a run (`jigclu import-job`), and weights trained elsewhere
 * imported as a run (`jigclu import-weights`).
 */

/** A path typed or picked by the user (absolute; `~` is not expanded). */
const userPath = z
  .string()
  .min(1)
  .max(4096)
  .refine((value) => !value.includes('\0'), 'a path cannot contain a NUL character');

export const jobExportSchema = z
  .object({
    /** A run of the app's database... */
    runId: z.number().int().positive().optional(),
    /** ...or a run folder the command line trained (`jigclu pretrain`: checkpoints/ and files.json). */
    runFolder: userPath.optional(),
    /** The checkpoint (its global step); the run's newest when left out. */
    step: z.number().int().min(0).optional(),
    /** A folder to create the job folder in (outside every library folder). */
    destination: userPath,
  })
  .strict()
  .refine((args) => (args.runId === undefined) !== (args.runFolder === undefined), 'give either runId or runFolder');

export const jobImportSchema = z.object({ path: userPath }).strict();

export const weightsImportSchema = z
  .object({
    /** A .safetensors file (or .pth / .pth.tar, converted with Python's torch when it is installed). */
    path: userPath,
    /** The library folders the run will train on when continued (all of them by default). */
    folderIds: z.array(z.number().int().positive()).min(1).max(10_000).optional(),
    /** The preset whose other settings the run takes (default: resnet18's for a ResNet-18, paper's for a ResNet-50). */
    preset: z.enum(presetNames).optional(),
  })
  .strict();

/** One image of a job's manifest, in the app's order. */
export interface ManifestImage {
  /** The root alias (r0, r1, ...) and the path below it, '/'-separated. */
  root: string;
  rel: string;
  /** Where it is on this machine. */
  path: string;
  /** Empty for an image the library does not know (a command-line run): the export reads it. */
  sha256: string;
  bytes: number;
  /** After EXIF orientation, before any resize. */
  width: number;
  height: number;
}

/** The run and checkpoint a job starts from. */
export interface JobParent {
  /** The run in this app's database (null for a run folder the command line trained). */
  runId: number | null;
  runName: string;
  runDir: string;
  step: number;
  epoch: number;
  /** The run's file list hash (sha256 of folder, path and content hash of each image). */
  filesHash: string;
}

/** job.json of a job folder. */
export interface JobDescription {
  format: 'jigclu-job-v1';
  jobId: string;
  createdAt: string;
  appVersion: string;
  parent: JobParent;
  config: PretrainConfig;
  /** Where training stands in the start weights. */
  start: { epoch: number; stepInEpoch: number; globalStep: number };
  imageCount: number;
  stepsPerEpoch: number;
  /** How images are decoded and resized before patches are cut, as the app does it. */
  preResize: { maxShortSide: number; rule: string };
  roots: Record<string, string>;
  manifest: { file: string; sha256: string };
  init: { file: string; sha256: string };
  trainer: { file: string; sha256: string };
}

export interface JobExportResult {
  jobId: string;
  /** The job folder. */
  path: string;
  files: string[];
  imageCount: number;
  stepsPerEpoch: number;
  startStep: number;
  /** The command to run inside the job folder, as the README gives it. */
  command: string;
}

export interface JobImportResult {
  run: RunInfo;
  /** Checkpoints and metric rows brought in. */
  checkpoints: number;
  metrics: number;
  /** e.g. "torch DDP x 8". */
  engine: string;
}

export interface WeightsImportResult {
  run: RunInfo;
  /** What the file held: a torchvision ResNet, the reference's JigClu checkpoint, or ours. */
  source: 'torchvision' | 'jigclu-reference' | 'jigclu';
  /** Whether the cluster and location heads came from the file (else they start at random). */
  heads: 'imported' | 'random';
}

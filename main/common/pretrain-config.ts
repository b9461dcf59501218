import { z } from 'zod';
import { engineNames } from './engine';

/**
 * Pretraining settings: the reference settings of Jigsaw Clustering (see
 * ../shared/docs/jigclu-method.md) as presets a user picks by name, every field overridable,
 * and one validation that names the field at fault.
 */

export const presetNames = ['cpu-small', 'resnet18', 'paper'] as const;
export type PresetName = (typeof presetNames)[number];

export const pretrainConfigSchema = z
  .object({
    preset: z.enum(presetNames),
    /** Backbone: torchvision layout and names. */
    arch: z.enum(['resnet18', 'resnet50']),
    /** Width multiplier of every layer (1 = torchvision's widths). */
    width: z.number().min(0.0625).max(4),
    /** m: patches per side (2 is the paper's best; 3 allowed). */
    grid: z.union([z.literal(2), z.literal(3)]),
    /** s: patch (crop) size in pixels; montages are grid * crop. */
    crop: z.number().int().min(32).max(512),
    /** c: cross ratio, the overlap of neighbouring patches (0.3 in the reference). */
    cross: z.number().min(0).max(0.45),
    /** t: temperature of the cluster (SupClu) loss. */
    temperature: z.number().min(0.01).max(2),
    /** Output size of the cluster head. */
    projectionDim: z.number().int().min(8).max(4096),
    /** Images per batch (montages per step). */
    batch: z.number().int().min(2).max(4096),
    epochs: z.number().int().min(1).max(10_000),
    /**
     * The learning rate of the first epoch, used as given at any batch size (the reference's
     * 0.03 is not scaled by batch / 256), then cosine per epoch.
     */
    lr: z.number().positive().max(10),
    momentum: z.number().min(0).max(0.999),
    weightDecay: z.number().min(0).max(0.1),
    /** Weights of the two losses: total = alpha * cluster + beta * location. */
    alpha: z.number().min(0),
    beta: z.number().min(0),
    seed: z.number().int().min(0).max(2 ** 31 - 1),
    /** Write a checkpoint every N steps (and always at each epoch end). */
    checkpointEvery: z.number().int().min(1),
    /** How many step checkpoints to keep (epoch-end checkpoints count too). */
    keepCheckpoints: z.number().int().min(1).max(1000),
    /** Engine to train on; 'auto' picks the best available. */
    engine: z.enum(['auto', ...engineNames]),
    /**
     * How the last feature map becomes one feature per patch: 'interpolate' is the reference's
     * (bilinear to 8 x 8, 9 x 9 for m = 3, then average pooling to m x m); 'pool' (adaptive
     * average pooling alone) is kept only for runs configured before the reference was followed.
     */
    decoupling: z.enum(['interpolate', 'pool']),
    /** 'fast' is our conv filter gradient for wasm/cpu, 'native' is tfjs's; 'auto' picks per engine. */
    convGrad: z.enum(['auto', 'fast', 'native']),
  })
  .strict();

export type PretrainConfig = z.infer<typeof pretrainConfigSchema>;

const common = {
  grid: 2,
  cross: 0.3,
  projectionDim: 128,
  lr: 0.03,
  momentum: 0.9,
  weightDecay: 1e-4,
  alpha: 1,
  beta: 1,
  seed: 0,
  checkpointEvery: 500,
  keepCheckpoints: 3,
  engine: 'auto',
  decoupling: 'interpolate',
  convGrad: 'auto',
} as const;

/** The presets. `paper` is the reference command (ImageNet, 4 GPUs); the others scale it down. */
export const presets: Record<PresetName, PretrainConfig> = {
  'cpu-small': {
    ...common,
    preset: 'cpu-small',
    arch: 'resnet18',
    width: 0.25,
    crop: 32,
    temperature: 0.07,
    batch: 32,
    epochs: 20,
  },
  resnet18: {
    ...common,
    preset: 'resnet18',
    arch: 'resnet18',
    width: 1,
    crop: 64,
    temperature: 0.07,
    batch: 64,
    epochs: 100,
  },
  paper: {
    ...common,
    preset: 'paper',
    arch: 'resnet50',
    width: 1,
    crop: 112,
    temperature: 0.3,
    batch: 256,
    epochs: 200,
  },
};

/** Overrides a user may give on top of a preset. */
export type PretrainOverrides = Partial<Omit<PretrainConfig, 'preset'>>;

/** A refused configuration: the field at fault and what is wrong with it. */
export class ConfigError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'ConfigError';
  }
}

/**
 * Builds a full configuration from a preset and overrides, or throws a ConfigError naming the
 * field. `imageCount`, when given, also checks that one batch fits in the data.
 */
export function resolvePretrainConfig(preset: PresetName, overrides: PretrainOverrides = {}, imageCount?: number): PretrainConfig {
  if (!(presetNames as readonly string[]).includes(preset)) {
    throw new ConfigError('preset', `unknown preset "${preset}"; choose one of ${presetNames.join(', ')}.`);
  }
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, value]) => value !== undefined));
  const parsed = pretrainConfigSchema.safeParse({ ...presets[preset], ...defined, preset });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(issue.path.join('.') || 'config', issue.message);
  }
  const config = parsed.data;
  if (config.cross > 0 && config.cross * config.grid >= 1) {
    throw new ConfigError('cross', `a cross ratio of ${config.cross} with a ${config.grid}x${config.grid} grid makes every patch cover the whole image; use less than ${(1 / config.grid).toFixed(2)}.`);
  }
  if ((config.grid * config.crop) % 32 !== 0) {
    const options = [32, 48, 64, 96, 112, 128, 160, 192, 224].filter((crop) => (config.grid * crop) % 32 === 0).slice(0, 4).join(', ');
    throw new ConfigError(
      'crop',
      `the montage side ${config.grid} x ${config.crop} = ${config.grid * config.crop} px is not a multiple of 32 (the backbone's stride), so patches would not line up with the feature map; use a crop such as ${options}.`,
    );
  }
  if (imageCount === 0) {
    throw new ConfigError('folders', 'there are no images to train on: add a folder of images, or choose folders that have some.');
  }
  if (imageCount !== undefined && config.batch > imageCount) {
    throw new ConfigError('batch', `a batch of ${config.batch} needs at least ${config.batch} images, but only ${imageCount} were found; lower the batch size (--batch) or add images.`);
  }
  return config;
}

/** One refused field of a configuration. */
export interface FieldError {
  field: string;
  message: string;
}

/**
 * Checks a preset and overrides like `resolvePretrainConfig` but reports every field at fault
 * (for a form that validates as the user types), not only the first.
 */
export function validatePretrainConfig(
  preset: PresetName,
  overrides: PretrainOverrides = {},
  imageCount?: number,
): { config?: PretrainConfig; errors: FieldError[] } {
  if (!(presetNames as readonly string[]).includes(preset)) {
    return { errors: [{ field: 'preset', message: `unknown preset "${preset}"; choose one of ${presetNames.join(', ')}.` }] };
  }
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, value]) => value !== undefined));
  const parsed = pretrainConfigSchema.safeParse({ ...presets[preset], ...defined, preset });
  const errors: FieldError[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) errors.push({ field: key, message: `"${key}" is not a setting of a pretraining run.` });
        continue;
      }
      const field = issue.path.join('.') || 'config';
      if (!errors.some((error) => error.field === field)) errors.push({ field, message: issue.message });
    }
    return { errors };
  }
  try {
    return { config: resolvePretrainConfig(preset, overrides, imageCount), errors };
  } catch (error) {
    if (error instanceof ConfigError) return { errors: [{ field: error.field, message: error.message.slice(error.field.length + 2) }] };
    throw error;
  }
}

/** Steps per epoch: the reference's DataLoader drops the last incomplete batch. */
export function stepsPerEpochFor(imageCount: number, batch: number): number {
  return Math.floor(imageCount / batch);
}

/**
 * A rough estimate of the training memory in MiB: weights, gradients and momentum (3 copies of
 * the parameters) plus the activations kept for the backward pass (about 4 floats per element
 * of every feature map: conv output, BatchNorm output, ReLU output, its gradient), for one
 * batch of montages of (grid * crop)^2 pixels. Within a factor of about 2 of what tfjs uses.
 */
export function estimateTrainingMemoryMb(config: Pick<PretrainConfig, 'arch' | 'width' | 'grid' | 'crop' | 'batch' | 'projectionDim'>): number {
  const size = config.grid * config.crop;
  const ch = (c: number) => Math.max(1, Math.round(c * config.width));
  const bottleneck = config.arch === 'resnet50';
  const blocks = bottleneck ? [3, 4, 6, 3] : [2, 2, 2, 2];
  const expansion = bottleneck ? 4 : 1;
  let params = 3 * 49 * ch(64);
  let activations = 0;
  let side = Math.ceil(size / 2);
  activations += side * side * ch(64) * 3; // conv1, bn1, relu
  side = Math.ceil(side / 2);
  activations += side * side * ch(64); // max pool
  let inChannels = ch(64);
  [64, 128, 256, 512].forEach((base, stage) => {
    const width = ch(base);
    const out = width * expansion;
    for (let block = 0; block < blocks[stage]!; block++) {
      if (block === 0 && stage > 0) side = Math.ceil(side / 2);
      if (bottleneck) {
        params += inChannels * width + 9 * width * width + width * out;
        activations += side * side * (width * 3 * 2 + out * 3);
      } else {
        params += 9 * inChannels * width + 9 * width * width;
        activations += side * side * (width * 3 + out * 3);
      }
      if (block === 0 && (stage > 0 || inChannels !== out)) {
        params += inChannels * out;
        activations += side * side * out * 2;
      }
      inChannels = out;
    }
  });
  params += inChannels * inChannels + inChannels * config.projectionDim + inChannels * config.grid * config.grid;
  const bytes = 4 * (3 * params + 2 * activations * config.batch) + 4 * size * size * 3 * config.batch * 2;
  return Math.ceil(bytes / 2 ** 20);
}

/** The learning rate used at epoch `epoch` (0-based): `lr`, cosine per epoch, as the reference. */
export function learningRateAt(config: Pick<PretrainConfig, 'lr' | 'epochs'>, epoch: number): number {
  return config.lr * 0.5 * (1 + Math.cos((Math.PI * epoch) / config.epochs));
}

/**
 * A configuration as stored with a run or in a checkpoint, brought to today's fields. Configs
 * written before the reference was followed have `baseLr` (the rate used was baseLr * batch /
 * 256) and no `decoupling` (adaptive pooling alone): they become the explicit rate they trained
 * at and `decoupling: 'pool'`, so an old run continues exactly as it was.
 */
export function parseStoredPretrainConfig(stored: unknown): PretrainConfig {
  if (!stored || typeof stored !== 'object') throw new Error('the stored pretraining config is not an object');
  const raw = { ...(stored as Record<string, unknown>) };
  if ('baseLr' in raw && !('lr' in raw)) {
    const { baseLr, batch } = raw as { baseLr: number; batch: number };
    raw.lr = (baseLr * batch) / 256;
    delete raw.baseLr;
    raw.decoupling ??= 'pool';
  }
  return pretrainConfigSchema.parse(raw);
}

/**
 * The side whole images are resized and centre-cropped to when a backbone is used rather than
 * trained: the kNN monitor, embeddings (clusters, map, similar images), the classifier's input,
 * `jigclu knn` / `evaluate` / `embed` / `cluster` / `finetune`. The patch size s, the size the
 * backbone saw each image part at, not the montage side m x s: measured on cifar10-dev
 * (cpu-small, `npm run bench:eval-size`, README *Representation quality*), the two sizes gave
 * kNN, NMI and the 10-label probe, and their gains over random init, within the spread over
 * seeds (under 2 points), and s has a quarter of the pixels (every use 4x cheaper for m = 2).
 */
export function evalSizeFor(config: Pick<PretrainConfig, 'crop'>): number {
  return config.crop;
}

/**
 * The largest single feature map of a training step in bytes: the stem's output, or layer1's for
 * ResNet-50 (4x the channels at a quarter of the pixels). On WebGPU each tensor is one buffer,
 * and one larger than the adapter's binding limit fails validation (tfjs then reads zeros).
 */
export function largestActivationBytes(config: Pick<PretrainConfig, 'arch' | 'width' | 'grid' | 'crop' | 'batch'>): number {
  const size = config.grid * config.crop;
  const ch = (c: number) => Math.max(1, Math.round(c * config.width));
  const stem = Math.ceil(size / 2) ** 2 * ch(64);
  const layer1 = Math.ceil(size / 4) ** 2 * ch(64) * (config.arch === 'resnet50' ? 4 : 1);
  return 4 * config.batch * Math.max(stem, layer1, size * size * 3);
}

/** The adapter limits that bound a WebGPU batch, in bytes. */
export interface GpuBufferLimits {
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
}

/**
 * Why a run's batch does not fit the WebGPU adapter's buffer limits (undefined when it fits),
 * naming the batch size, the limit and the largest batch that fits.
 */
export function gpuBatchProblem(config: Pick<PretrainConfig, 'arch' | 'width' | 'grid' | 'crop' | 'batch'>, limits: GpuBufferLimits): string | undefined {
  const limit = Math.min(limits.maxBufferSize, limits.maxStorageBufferBindingSize);
  const bytes = largestActivationBytes(config);
  if (bytes <= limit) return undefined;
  const perImage = bytes / config.batch;
  const fits = Math.floor(limit / perImage);
  return `A batch of ${config.batch} needs a ${Math.ceil(bytes / 2 ** 20)} MiB feature map, over the GPU adapter's limit of ${Math.floor(limit / 2 ** 20)} MiB per buffer: use a batch of at most ${fits}${fits < 2 ? ' (or smaller crops)' : ''}.`;
}

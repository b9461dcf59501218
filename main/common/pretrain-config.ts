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
    /** Learning rate at batch 256; the rate used is baseLr * batch / 256. */
    baseLr: z.number().positive().max(10),
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
    /** 'fast' is our conv filter gradient for wasm/cpu, 'native' is tfjs's; 'auto' picks per engine. */
    convGrad: z.enum(['auto', 'fast', 'native']),
  })
  .strict();

export type PretrainConfig = z.infer<typeof pretrainConfigSchema>;

const common = {
  grid: 2,
  cross: 0.3,
  projectionDim: 128,
  baseLr: 0.03,
  momentum: 0.9,
  weightDecay: 1e-4,
  alpha: 1,
  beta: 1,
  seed: 0,
  checkpointEvery: 500,
  keepCheckpoints: 3,
  engine: 'auto',
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
    crop: 56,
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
  if (imageCount !== undefined && config.batch > imageCount) {
    throw new ConfigError('batch', `a batch of ${config.batch} needs at least ${config.batch} images, but only ${imageCount} were found; lower --batch or add images.`);
  }
  return config;
}

/** The learning rate actually used at epoch `epoch` (0-based): linear scaling, cosine per epoch. */
export function learningRateAt(config: Pick<PretrainConfig, 'baseLr' | 'batch' | 'epochs'>, epoch: number): number {
  const lr = (config.baseLr * config.batch) / 256;
  return lr * 0.5 * (1 + Math.cos((Math.PI * epoch) / config.epochs));
}

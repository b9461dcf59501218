import { parseStoredPretrainConfig, pretrainConfigSchema, type PretrainConfig } from '../../common/pretrain-config';
import type { JigsawBatch } from '../../data/jigsaw';
import * as tf from '../backend/tfjs';
import type { ConvGradMode } from '../nn/conv';
import { JigCluTraining, type InspectOutputs, type LaunchedStep, type TrainingPosition } from './jigclu-training';
import { decodeSafetensors, encodeSafetensors, type NamedTensor } from '../weights/safetensors';

export { advancePosition, stepsPerEpoch, type InspectOutputs, type LaunchedStep, type StepResult, type TrainingPosition } from './jigclu-training';

/**
 * What a pretraining run needs from its trainer (run-pretraining.ts): the JigCluTrainer below,
 * on this process's engine, or the desktop app's RemoteTrainer, which runs the same steps on
 * WebGPU in a hidden window (remote-trainer.ts).
 */
export interface PretrainTrainer {
  readonly config: PretrainConfig;
  readonly convGrad: ConvGradMode;
  /** Where the schedule stands (advanced by `launch`). */
  readonly position: TrainingPosition;
  /** The width of the backbone's features. */
  readonly featureDim: number;
  /**
   * Steps kept in flight before the oldest is read back: 2 on WebGPU (the next batch uploads
   * while the GPU computes, no GPU-to-CPU wait between steps), 1 elsewhere.
   */
  readonly pipelineDepth: number;
  launch(batch: JigsawBatch, epochSteps: number): LaunchedStep;
  done(): boolean;
  sizes(): { trainableTensors: number; backboneWeights: number };
  /** The whole training state as a checkpoint file (see JigCluTrainer.serialize). */
  serialize(extra?: Record<string, string>): Promise<Buffer>;
  features(images: Float32Array, count: number, size: number, batch?: number): Promise<Float32Array>;
  inspectOutputs(batch: JigsawBatch, k: number): Promise<InspectOutputs>;
  dispose(): void | Promise<void>;
}

/** The metadata that makes a safetensors file a JigClu Studio checkpoint. */
export function checkpointMetadata(config: PretrainConfig, position: TrainingPosition, extra: Record<string, string> = {}): Record<string, string> {
  return {
    format: 'jigclu-checkpoint-v1',
    layout: 'tfjs-nhwc-hwio',
    config: JSON.stringify(config),
    position: JSON.stringify(position),
    ...extra,
  };
}

/** A checkpoint's tensors with its config (today's fields; `epochs` may extend it) and position. */
export function parseCheckpoint(buffer: Buffer, epochs?: number): { config: PretrainConfig; position: TrainingPosition; tensors: Map<string, NamedTensor>; metadata: Record<string, string> } {
  const file = decodeSafetensors(buffer);
  if (file.metadata.format !== 'jigclu-checkpoint-v1') throw new Error('not a JigClu Studio checkpoint (its metadata has no jigclu-checkpoint-v1 format)');
  const stored = parseStoredPretrainConfig(JSON.parse(file.metadata.config ?? '{}'));
  return {
    config: epochs ? pretrainConfigSchema.parse({ ...stored, epochs }) : stored,
    position: JSON.parse(file.metadata.position ?? '{}') as TrainingPosition,
    tensors: file.tensors,
    metadata: file.metadata,
  };
}

/**
 * One JigClu training run on this process's engine (jigclu-training.ts), with its checkpoint
 * files: weights, BatchNorm statistics and momentum buffers as safetensors.
 */
export class JigCluTrainer extends JigCluTraining implements PretrainTrainer {
  get pipelineDepth(): number {
    return tf.getBackend() === 'webgpu' ? 2 : 1;
  }

  /**
   * The whole training state as safetensors: weights, BatchNorm statistics, momentum buffers
   * (prefixed `optimizer.momentum.`), with the config and position in the metadata. Conv
   * filters are in tfjs layout (HWIO); export to PyTorch layout is separate.
   */
  async serialize(extra: Record<string, string> = {}): Promise<Buffer> {
    return encodeSafetensors(await this.state(), checkpointMetadata(this.config, this.position, extra));
  }

  /** The configuration and position stored in a checkpoint, without loading its weights. */
  static readMetadata(buffer: Buffer): { config: PretrainConfig; position: TrainingPosition; metadata: Record<string, string> } {
    const { config, position, metadata } = parseCheckpoint(buffer);
    return { config, position, metadata };
  }

  /** Rebuilds a trainer from `serialize`'s output; the schedule continues where it stopped. */
  static deserialize(buffer: Buffer, overrides: { convGrad: ConvGradMode; epochs?: number }): JigCluTrainer {
    const { config, position, tensors } = parseCheckpoint(buffer, overrides.epochs);
    const trainer = new JigCluTrainer(config, overrides.convGrad);
    trainer.loadState(tensors);
    trainer.position = position;
    return trainer;
  }
}

/** Makes a run's trainer: new, or from a checkpoint file's bytes. */
export interface TrainerFactory {
  create(config: PretrainConfig, convGrad: ConvGradMode): Promise<PretrainTrainer>;
  resume(checkpoint: Buffer, overrides: { convGrad: ConvGradMode; epochs?: number }): Promise<PretrainTrainer>;
}

/** Trainers on this process's engine. */
export const localTrainers: TrainerFactory = {
  create: async (config, convGrad) => new JigCluTrainer(config, convGrad),
  resume: async (checkpoint, overrides) => JigCluTrainer.deserialize(checkpoint, overrides),
};

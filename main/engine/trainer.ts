import * as tf from './tfjs';
import { learningRateAt, parseStoredPretrainConfig, pretrainConfigSchema, type PretrainConfig } from '../common/pretrain-config';
import type { JigsawBatch } from '../data/jigsaw';
import type { ConvGradMode } from './conv';
import { JigCluModel, type StepLosses } from './jigclu-model';
import type { BatchNormUpdate } from './resnet';
import { decodeSafetensors, encodeSafetensors, type NamedTensor } from './safetensors';
import { Sgd } from './sgd';

/** Where training stands: the schedule resumes from here. */
export interface TrainingPosition {
  epoch: number;
  /** Steps done in the current epoch. */
  stepInEpoch: number;
  globalStep: number;
}

export interface StepResult extends StepLosses {
  lr: number;
  /** Seconds spent in forward + backward + optimizer, and reading the losses back. */
  computeSeconds: number;
}

/** Moves a position one step on, into the next epoch after `epochSteps` steps. */
export function advancePosition(position: TrainingPosition, epochSteps: number): void {
  position.globalStep += 1;
  position.stepInEpoch += 1;
  if (position.stepInEpoch >= epochSteps) {
    position.epoch += 1;
    position.stepInEpoch = 0;
  }
}

/** Steps per epoch: the reference's DataLoader drops the last incomplete batch. */
export function stepsPerEpoch(imageCount: number, batch: number): number {
  return Math.floor(imageCount / batch);
}

/**
 * One JigClu training run's model, optimizer and schedule. Each step runs inside tf.tidy; the
 * BatchNorm running statistics are updated after the gradient step, as PyTorch does in the
 * forward pass of the same step.
 */
export class JigCluTrainer {
  readonly model: JigCluModel;
  readonly optimizer: Sgd;
  position: TrainingPosition = { epoch: 0, stepInEpoch: 0, globalStep: 0 };

  constructor(
    readonly config: PretrainConfig,
    readonly convGrad: ConvGradMode,
  ) {
    this.model = new JigCluModel(config);
    this.optimizer = new Sgd(config.momentum, config.weightDecay);
  }

  /** The learning rate of the current epoch. */
  currentLr(): number {
    return learningRateAt(this.config, this.position.epoch);
  }

  /** One optimisation step on a jigsaw batch; advances the position by one step. */
  async step(batch: JigsawBatch, epochSteps: number): Promise<StepResult> {
    return this.launch(batch, epochSteps).read();
  }

  /** When the last launched step's numbers were read (the start of the next step's own time). */
  private lastRead = 0;

  /**
   * Queues one optimisation step and advances the position, without waiting for it: its losses
   * are read back asynchronously by `read()`. On WebGPU the next step can then be queued (its
   * batch uploaded) while the GPU still runs this one, instead of a GPU-to-CPU round trip per step.
   */
  launch(batch: JigsawBatch, epochSteps: number): { read(): Promise<StepResult> } {
    const started = performance.now();
    const lr = this.currentLr();
    const trainable = this.model.trainable();
    const nameOf = new Map(trainable.map(([name, variable]) => [variable.name, name]));
    const updates: BatchNormUpdate[] = [];
    const values = tf.tidy(() => {
      const montages = tf.tensor4d(batch.montages, [batch.n, batch.size, batch.size, 3]);
      const clusterLabels = tf.tensor1d(batch.clusterLabels, 'int32');
      const locationLabels = tf.tensor1d(batch.locationLabels, 'int32');
      let parts: tf.Scalar[] = [];
      const { value, grads } = tf.variableGrads(() => {
        const losses = this.model.losses(montages, clusterLabels, locationLabels, this.convGrad, updates);
        parts = [tf.keep(losses.cluster), tf.keep(losses.location), tf.keep(losses.accuracies.location), tf.keep(losses.accuracies.cluster)];
        return losses.total;
      }, trainable.map(([, variable]) => variable));
      const byName: Record<string, tf.Tensor> = {};
      for (const [variableName, grad] of Object.entries(grads)) byName[nameOf.get(variableName)!] = grad;
      this.optimizer.step(trainable, byName, lr);
      const stacked = tf.stack([value, ...parts]);
      for (const part of parts) part.dispose();
      return stacked;
    });
    this.model.backbone.applyBatchNormUpdates(updates);
    this.advance(epochSteps);
    // Asked for now (the copy is queued behind the step), awaited when the caller wants it.
    const reading = values.data().finally(() => values.dispose());
    reading.catch(() => undefined);
    return {
      read: async () => {
        const [total, cluster, location, locationAccuracy, clusterAccuracy] = Array.from(await reading);
        const now = performance.now();
        // A step's time runs from its launch, or from the previous step's result when they overlapped.
        const computeSeconds = (now - Math.max(started, this.lastRead)) / 1000;
        this.lastRead = now;
        return { total: total!, cluster: cluster!, location: location!, locationAccuracy, clusterAccuracy, lr, computeSeconds };
      },
    };
  }

  private advance(epochSteps: number): void {
    advancePosition(this.position, epochSteps);
  }

  /** True once every epoch has run. */
  done(): boolean {
    return this.position.epoch >= this.config.epochs;
  }

  /**
   * The whole training state as safetensors: weights, BatchNorm statistics, momentum buffers
   * (prefixed `optimizer.momentum.`), with the config and position in the metadata. Conv
   * filters are in tfjs layout (HWIO); export to PyTorch layout is separate.
   */
  async serialize(extra: Record<string, string> = {}): Promise<Buffer> {
    // Asynchronous reads: the webgpu engine has no synchronous read in Node.
    const tensors: NamedTensor[] = [];
    for (const [name, variable] of this.model.allParameters()) {
      tensors.push({ name, shape: variable.shape, data: (await variable.data()) as Float32Array });
    }
    for (const [name, buffer] of this.optimizer.buffers) {
      tensors.push({ name: `optimizer.momentum.${name}`, shape: buffer.shape, data: (await buffer.data()) as Float32Array });
    }
    return encodeSafetensors(tensors, {
      format: 'jigclu-checkpoint-v1',
      layout: 'tfjs-nhwc-hwio',
      config: JSON.stringify(this.config),
      position: JSON.stringify(this.position),
      ...extra,
    });
  }

  /** The configuration and position stored in a checkpoint, without loading its weights. */
  static readMetadata(buffer: Buffer): { config: PretrainConfig; position: TrainingPosition; metadata: Record<string, string> } {
    const file = decodeSafetensors(buffer);
    if (file.metadata.format !== 'jigclu-checkpoint-v1') throw new Error('not a JigClu Studio checkpoint (its metadata has no jigclu-checkpoint-v1 format)');
    return {
      config: parseStoredPretrainConfig(JSON.parse(file.metadata.config ?? '{}')),
      position: JSON.parse(file.metadata.position ?? '{}') as TrainingPosition,
      metadata: file.metadata,
    };
  }

  /** Rebuilds a trainer from `serialize`'s output; the schedule continues where it stopped. */
  static deserialize(buffer: Buffer, overrides: { convGrad: ConvGradMode; epochs?: number }): JigCluTrainer {
    const file = decodeSafetensors(buffer);
    if (file.metadata.format !== 'jigclu-checkpoint-v1') throw new Error('not a JigClu Studio checkpoint (its metadata has no jigclu-checkpoint-v1 format)');
    const stored = parseStoredPretrainConfig(JSON.parse(file.metadata.config ?? '{}'));
    const config = pretrainConfigSchema.parse({ ...stored, ...(overrides.epochs ? { epochs: overrides.epochs } : {}) });
    const trainer = new JigCluTrainer(config, overrides.convGrad);
    trainer.load(file.tensors);
    trainer.position = JSON.parse(file.metadata.position ?? '{}') as TrainingPosition;
    return trainer;
  }

  private load(tensors: Map<string, NamedTensor>): void {
    tf.tidy(() => {
      for (const [name, variable] of this.model.allParameters()) {
        const tensor = tensors.get(name);
        if (!tensor) throw new Error(`the checkpoint has no ${name}: it was written for another architecture`);
        if (tensor.shape.join('x') !== variable.shape.join('x')) {
          throw new Error(`${name} has shape ${tensor.shape.join('x')} in the checkpoint but ${variable.shape.join('x')} in the model`);
        }
        variable.assign(tf.tensor(tensor.data, tensor.shape));
      }
      for (const [name, tensor] of tensors) {
        if (!name.startsWith('optimizer.momentum.')) continue;
        const paramName = name.slice('optimizer.momentum.'.length);
        const value = tf.tensor(tensor.data, tensor.shape);
        const existing = this.optimizer.buffers.get(paramName);
        if (existing) existing.assign(value);
        else this.optimizer.buffers.set(paramName, tf.variable(value, false, `sgd_${paramName}_${Math.random().toString(36).slice(2, 8)}`));
      }
    });
  }

  dispose(): void {
    this.model.dispose();
    this.optimizer.dispose();
  }
}

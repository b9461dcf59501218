/**
 * The JigClu training state and step in plain tfjs, with no Node API: the trainer process uses it
 * (trainer.ts adds checkpoint files), and so does the desktop app's WebGPU compute host, a hidden
 * window whose page bundles this module (main/gpu-host). Keep it free of Node imports: the page's
 * build refuses them.
 */
import * as tf from '../backend/tfjs';
import { matMul } from '../nn/matmul';
import { learningRateAt, type PretrainConfig } from '../../common/pretrain-config';
import type { JigsawBatch } from '../../data/jigsaw';
import type { ConvGradMode } from '../nn/conv';
import { batchAccuracies, JigCluModel, type StepLosses } from './jigclu-model';
import { extractFeatures } from '../analysis/knn';
import type { BatchNormUpdate } from '../nn/resnet';
import type { NamedTensor } from '../weights/safetensors';
import { Sgd } from '../nn/sgd';

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

/** What a step reads of a jigsaw batch (the compute window is sent only this). */
export type TrainingBatch = Pick<JigsawBatch, 'n' | 'grid' | 'size' | 'montages' | 'clusterLabels' | 'locationLabels'>;

/** A launched step: its numbers are read back when asked for. */
export interface LaunchedStep {
  read(): Promise<StepResult>;
}

/** What the montage inspector needs from the model on one batch (see monitor.ts). */
export interface InspectOutputs {
  /** Per patch slot: the location head's argmax. */
  predicted: Int32Array;
  /** Per patch slot: the k most similar other slots (cluster embeddings) and their similarities. */
  indices: Int32Array;
  values: Float32Array;
  /** Batch-level accuracies (as in StepLosses). */
  location: number;
  cluster: number;
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

/** The name of an optimizer's momentum buffer in a checkpoint. */
export const momentumPrefix = 'optimizer.momentum.';

/**
 * One JigClu training run's model, optimizer and schedule. Each step runs inside tf.tidy; the
 * BatchNorm running statistics are updated after the gradient step, as PyTorch does in the
 * forward pass of the same step.
 */
export class JigCluTraining {
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
  async step(batch: TrainingBatch, epochSteps: number): Promise<StepResult> {
    return this.launch(batch, epochSteps).read();
  }

  /** When the last launched step's numbers were read (the start of the next step's own time). */
  private lastRead = 0;

  /**
   * Queues one optimisation step and advances the position, without waiting for it: its losses
   * are read back asynchronously by `read()`. On WebGPU the next step can then be queued (its
   * batch uploaded) while the GPU still runs this one, instead of a GPU-to-CPU round trip per step.
   */
  launch(batch: TrainingBatch, epochSteps: number): LaunchedStep {
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
    advancePosition(this.position, epochSteps);
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

  /** True once every epoch has run. */
  done(): boolean {
    return this.position.epoch >= this.config.epochs;
  }

  /** The number of parameter tensors trained and of backbone weights (for the run's log). */
  sizes(): { trainableTensors: number; backboneWeights: number } {
    return { trainableTensors: this.model.trainable().length, backboneWeights: this.model.backbone.params.count() };
  }

  /** The width of the backbone's features (kNN monitor, embeddings). */
  get featureDim(): number {
    return this.model.backbone.outChannels;
  }

  /**
   * Every tensor of the training state: weights and BatchNorm statistics in the model's order,
   * then the momentum buffers (named `optimizer.momentum.<parameter>`). Read asynchronously:
   * WebGPU has no synchronous read.
   */
  async state(): Promise<NamedTensor[]> {
    const tensors: NamedTensor[] = [];
    for (const [name, variable] of this.model.allParameters()) {
      tensors.push({ name, shape: variable.shape, data: (await variable.data()) as Float32Array });
    }
    for (const [name, buffer] of this.optimizer.buffers) {
      tensors.push({ name: `${momentumPrefix}${name}`, shape: buffer.shape, data: (await buffer.data()) as Float32Array });
    }
    return tensors;
  }

  /**
   * Sets the training state from `state()`'s tensors (a checkpoint's): every model tensor must be
   * there with its shape; momentum buffers are optional (absent: the next step starts them).
   */
  loadState(tensors: Map<string, NamedTensor>): void {
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
        if (!name.startsWith(momentumPrefix)) continue;
        const paramName = name.slice(momentumPrefix.length);
        const value = tf.tensor(tensor.data, tensor.shape);
        const existing = this.optimizer.buffers.get(paramName);
        if (existing) existing.assign(value);
        else this.optimizer.buffers.set(paramName, tf.variable(value, false, `sgd_${paramName}_${Math.random().toString(36).slice(2, 8)}`));
      }
    });
  }

  /** Backbone features of whole images (inference mode, pooled, L2-normalised): see knn.ts. */
  features(images: Float32Array, count: number, size: number, batch = 64): Promise<Float32Array> {
    return extractFeatures(this.model.backbone, images, count, size, batch, this.convGrad);
  }

  /**
   * The model on one jigsaw batch with batch statistics (as in training, without updating the
   * running statistics): predicted locations, each slot's `k` nearest other slots, accuracies.
   */
  async inspectOutputs(batch: TrainingBatch, k: number): Promise<InspectOutputs> {
    const outputs = tf.tidy(() => {
      const montages = tf.tensor4d(batch.montages, [batch.n, batch.size, batch.size, 3]);
      const features = this.model.patchFeatures(montages, true, this.convGrad);
      const z = this.model.clusterEmbeddings(features);
      const logits = this.model.locationLogits(features);
      const clusterLabels = tf.tensor1d(batch.clusterLabels, 'int32');
      const locationLabels = tf.tensor1d(batch.locationLabels, 'int32');
      const accuracies = batchAccuracies(z, logits, clusterLabels, locationLabels);
      const similarity = tf.sub(matMul(z, z, false, true), tf.mul(tf.eye(z.shape[0]), 4));
      const top = tf.topk(similarity, k);
      return [tf.argMax(logits, 1), top.indices, top.values, accuracies.location, accuracies.cluster];
    });
    // Asynchronous reads: the webgpu engine has no synchronous read.
    const read = await Promise.all(outputs.map((t) => t.data()));
    for (const t of outputs) t.dispose();
    return {
      predicted: read[0] as Int32Array,
      indices: read[1] as Int32Array,
      values: read[2] as Float32Array,
      location: read[3]![0]!,
      cluster: read[4]![0]!,
    };
  }

  dispose(): void {
    this.model.dispose();
    this.optimizer.dispose();
  }
}

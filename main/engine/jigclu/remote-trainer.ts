/**
 * Training on the desktop app's WebGPU compute host (main/gpu-host): Dawn's Node binding cannot
 * map GPU buffers inside Electron, so there the model lives in a hidden window on Chromium's
 * WebGPU and this process keeps everything else (data, schedule, checkpoint files, metrics).
 * RemoteTrainer does for runPretraining what JigCluTrainer does, by request.
 */
import { learningRateAt, type PretrainConfig } from '../../common/pretrain-config';
import type { JigsawBatch } from '../../data/jigsaw';
import type { GpuHostClient } from '../../gpu-host/client';
import type { GpuResults } from '../../gpu-host/protocol';
import { advancePosition, momentumPrefix, type InspectOutputs, type LaunchedStep, type TrainingBatch, type TrainingPosition } from './jigclu-training';
import { encodeSafetensors } from '../weights/safetensors';
import { checkpointMetadata, parseCheckpoint, type PretrainTrainer, type TrainerFactory } from './trainer';

/** The fields of a batch a step reads (the permutation and crop stay here). */
function stepBatch(batch: TrainingBatch): TrainingBatch {
  return { n: batch.n, grid: batch.grid, size: batch.size, montages: batch.montages, clusterLabels: batch.clusterLabels, locationLabels: batch.locationLabels };
}

/** A JigClu run whose model and optimizer live in the compute host; the schedule is kept here. */
export class RemoteTrainer implements PretrainTrainer {
  /** tfjs's own gradients: the closed-form ones read tensors back synchronously, which WebGPU cannot. */
  readonly convGrad = 'native' as const;
  /** One more step is queued before the previous one's losses are read (the batch uploads meanwhile). */
  readonly pipelineDepth = 2;
  private lastRead = 0;

  private constructor(
    private readonly client: GpuHostClient,
    readonly config: PretrainConfig,
    public position: TrainingPosition,
    private readonly created: GpuResults['create'],
  ) {}

  /** A new model for `config` in the host, or one holding a checkpoint's tensors at its position. */
  static async create(client: GpuHostClient, config: PretrainConfig, from?: Pick<ReturnType<typeof parseCheckpoint>, 'tensors' | 'position'>): Promise<RemoteTrainer> {
    const created = await client.request({ type: 'create', config, ...(from ? { state: [...from.tensors.values()] } : {}) });
    return new RemoteTrainer(client, config, from ? { ...from.position } : { epoch: 0, stepInEpoch: 0, globalStep: 0 }, created);
  }

  get featureDim(): number {
    return this.created.featureDim;
  }

  sizes(): { trainableTensors: number; backboneWeights: number } {
    return { trainableTensors: this.created.trainableTensors, backboneWeights: this.created.backboneWeights };
  }

  currentLr(): number {
    return learningRateAt(this.config, this.position.epoch);
  }

  launch(batch: JigsawBatch | TrainingBatch, epochSteps: number): LaunchedStep {
    const started = performance.now();
    const position = { ...this.position };
    advancePosition(this.position, epochSteps);
    const reading = this.client.request({ type: 'step', batch: stepBatch(batch), position, epochSteps });
    reading.catch(() => undefined);
    return {
      read: async () => {
        const result = await reading;
        const now = performance.now();
        // As JigCluTraining: from its launch, or from the previous step's result when they overlapped.
        const computeSeconds = (now - Math.max(started, this.lastRead)) / 1000;
        this.lastRead = now;
        return { ...result, computeSeconds };
      },
    };
  }

  done(): boolean {
    return this.position.epoch >= this.config.epochs;
  }

  /** The checkpoint file, as JigCluTrainer writes it: the host's tensors with the config and position. */
  async serialize(extra: Record<string, string> = {}): Promise<Buffer> {
    const tensors = await this.client.request({ type: 'state' });
    return encodeSafetensors(tensors, checkpointMetadata(this.config, this.position, extra));
  }

  features(images: Float32Array, count: number, size: number, batch = 64): Promise<Float32Array> {
    return this.client.request({ type: 'features', images, count, size, batch });
  }

  inspectOutputs(batch: JigsawBatch | TrainingBatch, k: number): Promise<InspectOutputs> {
    return this.client.request({ type: 'inspect', batch: stepBatch(batch), k });
  }

  /** Frees the host's model (nothing to free when the host already went away). */
  async dispose(): Promise<void> {
    if (this.client.open) await this.client.request({ type: 'dispose' }).catch(() => undefined);
  }
}

/** Trainers in the compute host behind `client`. */
export function remoteTrainers(client: GpuHostClient): TrainerFactory {
  return {
    create: (config) => RemoteTrainer.create(client, config),
    resume: (checkpoint, overrides) => {
      const parsed = parseCheckpoint(checkpoint, overrides.epochs);
      return RemoteTrainer.create(client, parsed.config, parsed);
    },
  };
}

/**
 * A backbone in the compute host for embedding images: a checkpoint's weights (its optimizer
 * state stays behind), or a fresh one of `config`'s architecture.
 */
export async function remoteBackbone(client: GpuHostClient, checkpoint: Buffer | undefined, config: PretrainConfig): Promise<{ dim: number; config: PretrainConfig; features: RemoteTrainer['features']; dispose(): Promise<void> }> {
  let trainer: RemoteTrainer;
  if (checkpoint) {
    const parsed = parseCheckpoint(checkpoint);
    const weights = new Map([...parsed.tensors].filter(([name]) => !name.startsWith(momentumPrefix)));
    trainer = await RemoteTrainer.create(client, parsed.config, { tensors: weights, position: parsed.position });
  } else {
    trainer = await RemoteTrainer.create(client, config);
  }
  return { dim: trainer.featureDim, config: trainer.config, features: (...args) => trainer.features(...args), dispose: () => trainer.dispose() };
}

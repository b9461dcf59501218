/**
 * Data-parallel JigClu training on two cores, with the loss over the WHOLE batch (as the
 * reference computes it across GPUs). Two replica worker threads (replica-thread.ts), each with
 * its own tfjs backend and identical model, train one step together: replica r runs the
 * backbone on montages [r*n/2, (r+1)*n/2) with its own BatchNorm batch statistics (per-GPU BN,
 * as in the reference's DistributedDataParallel), the patch features of both halves are
 * exchanged through shared memory, and each replica computes the whole-batch loss (SupClu over
 * all n*m*m embeddings, location cross entropy) with its own features differentiable. The sum
 * of the two backbone gradients is the exact gradient of the whole-batch loss; both replicas
 * apply the same SGD update, so they stay bit-identical; BatchNorm running statistics follow
 * the average of the two halves' batch statistics.
 *
 * The thread that calls `step` (the coordinator) only hands out batches and collects losses.
 */
import fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import * as tf from './tfjs';
import { learningRateAt, pretrainConfigSchema, type PretrainConfig } from '../common/pretrain-config';
import type { JigsawBatch } from '../data/jigsaw';
import type { ConvGradMode } from './conv';
import type { ReplicaInfo, ReplicaInit, ReplicaRequest, ReplicaStepReply } from './replica-thread';
import { advancePosition, JigCluTrainer, type StepResult, type TrainingPosition } from './trainer';

export interface ParallelOptions {
  /** The built replica entry (out/main/replica-thread.js). */
  replicaScript: string;
  /** The replicas' tfjs backend; default: this thread's when it is wasm or cpu, else wasm. */
  backend?: 'wasm' | 'cpu';
}

export interface ParallelStepResult extends StepResult {
  /** Largest difference between the replicas' head gradients (0 when they agree exactly). */
  headGradMaxDiff: number;
  /** Milliseconds of each phase of the step, per replica. */
  phases: Record<string, number>[];
}

type Pending = { resolve: (value: unknown) => void; reject: (error: Error) => void };

/** The request shapes without their id (the RPC adds it). */
type RequestBody = ReplicaRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

/** One replica worker and its request/reply bookkeeping. */
class Replica {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private failure?: Error;

  constructor(
    readonly worker: Worker,
    onFailure: () => void,
  ) {
    worker.on('message', (reply: { id: number; ok: boolean; result?: unknown; error?: string }) => {
      const entry = this.pending.get(reply.id);
      if (!entry) return;
      this.pending.delete(reply.id);
      if (reply.ok) entry.resolve(reply.result);
      else entry.reject(new Error(reply.error));
    });
    const fail = (error: Error) => {
      this.failure = error;
      onFailure();
      for (const entry of this.pending.values()) entry.reject(error);
      this.pending.clear();
    };
    worker.on('error', (error) => fail(error instanceof Error ? error : new Error(String(error))));
    worker.on('exit', (code) => fail(new Error(`a training replica thread exited (code ${code})`)));
  }

  request<T>(body: RequestBody, transfer: ArrayBuffer[] = []): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.worker.postMessage({ ...body, id }, transfer);
    });
  }
}

export class ParallelTrainer {
  position: TrainingPosition = { epoch: 0, stepInEpoch: 0, globalStep: 0 };
  /** Number of trainable parameter tensors and of backbone weights (for logs). */
  readonly trainableTensors: number;
  readonly backboneWeights: number;
  private featureCapacity = 0;
  /** Two exchange slots (one per replica): gradients, then BatchNorm batch statistics. */
  private exchange!: SharedArrayBuffer;
  private disposed = false;

  private constructor(
    readonly config: PretrainConfig,
    readonly convGrad: ConvGradMode,
    private readonly replicas: Replica[],
    private readonly control: Int32Array,
    private readonly info: ReplicaInfo,
  ) {
    this.trainableTensors = info.trainableTensors;
    this.backboneWeights = info.backboneWeights;
  }

  /** Starts two replicas with the seeded initialisation of `config` (identical in both). */
  static async create(config: PretrainConfig, convGrad: ConvGradMode, options: ParallelOptions): Promise<ParallelTrainer> {
    return ParallelTrainer.start(config, convGrad, options);
  }

  /** Starts two replicas from a `serialize` (or JigCluTrainer.serialize) checkpoint. */
  static async deserialize(buffer: Buffer, overrides: { convGrad: ConvGradMode; epochs?: number }, options: ParallelOptions): Promise<ParallelTrainer> {
    const { config: stored, position } = JigCluTrainer.readMetadata(buffer);
    const config = pretrainConfigSchema.parse({ ...stored, ...(overrides.epochs ? { epochs: overrides.epochs } : {}) });
    const trainer = await ParallelTrainer.start(config, overrides.convGrad, options, { checkpoint: new Uint8Array(buffer), epochs: overrides.epochs });
    trainer.position = { ...position };
    return trainer;
  }

  private static async start(config: PretrainConfig, convGrad: ConvGradMode, options: ParallelOptions, from?: { checkpoint: Uint8Array; epochs?: number }): Promise<ParallelTrainer> {
    if (config.batch % 2 !== 0) throw new Error(`Two replicas need an even batch size; got ${config.batch}.`);
    if (!fs.existsSync(options.replicaScript)) throw new Error(`The replica thread script ${options.replicaScript} is missing: build the app first.`);
    const current = tf.getBackend();
    const backend = options.backend ?? (current === 'cpu' || current === 'wasm' ? current : 'wasm');
    const controlBuffer = new SharedArrayBuffer(3 * Int32Array.BYTES_PER_ELEMENT);
    const control = new Int32Array(controlBuffer);
    const replicas: Replica[] = [];
    const abort = () => {
      Atomics.store(control, 2, 1);
      Atomics.notify(control, 0);
      Atomics.notify(control, 1);
    };
    for (const index of [0, 1] as const) {
      const workerData: ReplicaInit = { index, backend, config, convGrad, control: controlBuffer, ...(from ? { checkpoint: from.checkpoint, epochs: from.epochs } : {}) };
      replicas.push(new Replica(new Worker(options.replicaScript, { workerData }), abort));
    }
    try {
      const infos = await Promise.all(replicas.map((replica) => replica.request<ReplicaInfo>({ type: 'info' })));
      if (infos[0]!.checksum !== infos[1]!.checksum) {
        throw new Error(`The two replicas did not start with identical weights (checksums ${infos[0]!.checksum} and ${infos[1]!.checksum}).`);
      }
      const exchange = new SharedArrayBuffer(2 * infos[0]!.exchangeFloats * Float32Array.BYTES_PER_ELEMENT);
      const trainer = new ParallelTrainer(config, convGrad, replicas, control, infos[0]!);
      trainer.exchange = exchange;
      await trainer.ensureFeatureBuffer(config.batch);
      return trainer;
    } catch (error) {
      abort();
      await Promise.all(replicas.map((replica) => replica.worker.terminate()));
      throw error;
    }
  }

  /** (Re)allocates the shared feature buffer for a batch of n montages. */
  private async ensureFeatureBuffer(n: number): Promise<void> {
    const m = this.config.grid;
    const needed = n * m * m * this.info.featureDim;
    if (needed <= this.featureCapacity) return;
    const features = new SharedArrayBuffer(needed * Float32Array.BYTES_PER_ELEMENT);
    await Promise.all(this.replicas.map((replica) => replica.request({ type: 'attach', features, exchange: this.exchange })));
    this.featureCapacity = needed;
  }

  /** The learning rate of the current epoch. */
  currentLr(): number {
    return learningRateAt(this.config, this.position.epoch);
  }

  /** One optimisation step on a jigsaw batch (both cores); advances the position by one step. */
  async step(batch: JigsawBatch, epochSteps: number): Promise<ParallelStepResult> {
    if (this.disposed) throw new Error('this parallel trainer was disposed');
    if (batch.n % 2 !== 0) throw new Error(`Two replicas need an even batch; got ${batch.n} montages.`);
    const started = performance.now();
    const lr = this.currentLr();
    await this.ensureFeatureBuffer(batch.n);
    const half = batch.n / 2;
    const perMontage = batch.size * batch.size * 3;
    const replies = await Promise.all(
      this.replicas.map((replica, r) => {
        const montages = batch.montages.slice(r * half * perMontage, (r + 1) * half * perMontage);
        return replica.request<ReplicaStepReply>(
          {
            type: 'step',
            step: { montages, halfN: half, size: batch.size, clusterLabels: batch.clusterLabels, locationLabels: batch.locationLabels, lr },
          },
          [montages.buffer as ArrayBuffer],
        );
      }),
    );
    const [first] = replies as [ReplicaStepReply, ReplicaStepReply];
    this.advance(epochSteps);
    return {
      total: first.total,
      cluster: first.cluster,
      location: first.location,
      lr,
      computeSeconds: (performance.now() - started) / 1000,
      headGradMaxDiff: first.headGradMaxDiff,
      phases: replies.map((reply) => reply.phases),
    };
  }

  private advance(epochSteps: number): void {
    advancePosition(this.position, epochSteps);
  }

  /** True once every epoch has run. */
  done(): boolean {
    return this.position.epoch >= this.config.epochs;
  }

  /** The training state in JigCluTrainer.serialize's format (from replica 0). */
  async serialize(extra: Record<string, string> = {}): Promise<Buffer> {
    const bytes = await this.replicas[0]!.request<Uint8Array>({ type: 'serialize', position: { ...this.position }, extra });
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Every parameter and momentum buffer of replica r (tests: the replicas stay identical). */
  async weights(replica: 0 | 1): Promise<Record<string, Float32Array>> {
    return this.replicas[replica]!.request({ type: 'weights' });
  }

  /** tf.memory().numTensors in each replica (tests: no leak). */
  async replicaTensorCounts(): Promise<number[]> {
    return Promise.all(this.replicas.map((replica) => replica.request<number>({ type: 'memory' })));
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    Atomics.store(this.control, 2, 1);
    Atomics.notify(this.control, 0);
    Atomics.notify(this.control, 1);
    await Promise.all(this.replicas.map((replica) => replica.worker.terminate()));
  }
}

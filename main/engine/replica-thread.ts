/**
 * Worker-thread entry of one data-parallel replica (see parallel-trainer.ts). Each replica has
 * its own tfjs backend and its own copy of the model and optimizer (a JigCluTrainer, used for
 * its model, optimizer and checkpoint format). A step trains on half the montages: the
 * backbone runs on this replica's half with its own BatchNorm batch statistics (per-GPU BN, as
 * in the reference's DDP), the patch features of both halves meet in shared memory, and each
 * replica computes the loss over the WHOLE batch with its own features differentiable and the
 * other's constant. The backbone gradients of the two replicas (each the part of the full
 * gradient that flows through its own features) are summed through shared memory; the head
 * gradients, identical in both, are taken from replica 0. Both replicas apply the same SGD
 * update from the same numbers, so their weights stay bit-identical.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from './tfjs';
import type { PretrainConfig } from '../common/pretrain-config';
import type { ConvGradMode } from './conv';
import { locationLoss, supCluLoss } from './losses';
import type { BatchNormUpdate } from './resnet';
import { JigCluTrainer, type TrainingPosition } from './trainer';

export interface ReplicaInit {
  index: 0 | 1;
  backend: 'wasm' | 'cpu';
  config: PretrainConfig;
  convGrad: ConvGradMode;
  /** Int32Array over it: [arrivals of replica 0, arrivals of replica 1, abort flag]. */
  control: SharedArrayBuffer;
  /** A checkpoint to start from instead of the seeded initialisation. */
  checkpoint?: Uint8Array;
  epochs?: number;
}

/** What a replica tells the coordinator about its model once built. */
export interface ReplicaInfo {
  featureDim: number;
  /** Floats of one replica's exchange slot: all trainable gradients, then BN means and variances. */
  exchangeFloats: number;
  trainableTensors: number;
  backboneWeights: number;
  /** A hash of every parameter's bytes (replicas must start identical). */
  checksum: string;
}

export interface ReplicaStepRequest {
  /** This replica's half of the montages, [halfN, size, size, 3]. */
  montages: Float32Array;
  halfN: number;
  size: number;
  /** The whole batch's labels ([n*m*m]). */
  clusterLabels: Int32Array;
  locationLabels: Int32Array;
  lr: number;
}

export interface ReplicaStepReply {
  total: number;
  cluster: number;
  location: number;
  /** Largest |difference| between the two replicas' head gradients (replica 0 only; expected 0). */
  headGradMaxDiff: number;
  /** Milliseconds of each phase of the step in this replica (waits are time spent at a barrier). */
  phases: Record<string, number>;
}

export type ReplicaRequest =
  | { id: number; type: 'attach'; features: SharedArrayBuffer; exchange: SharedArrayBuffer }
  | { id: number; type: 'step'; step: ReplicaStepRequest }
  | { id: number; type: 'serialize'; position: TrainingPosition; extra: Record<string, string> }
  | { id: number; type: 'load'; checkpoint: Uint8Array; epochs?: number }
  | { id: number; type: 'weights' }
  | { id: number; type: 'memory' }
  | { id: number; type: 'info' };

const init = workerData as ReplicaInit;
const index = init.index;
const other = 1 - index;
const control = new Int32Array(init.control);
const abortSlot = 2;

let trainer!: JigCluTrainer;
/**
 * The optimizer state of the trainable parameters as plain arrays, in trainable() order: SGD
 * runs on these in JavaScript (one pass instead of ~8 tfjs kernels per parameter) with
 * Sgd.step's float32 arithmetic; the momentum goes back to trainer.optimizer for checkpoints.
 */
let sgdMirror: { weights: Float32Array[]; momentum: (Float32Array | undefined)[] } | undefined;
let features: Float32Array | undefined;
let exchange: Float32Array[] = [];

/** Waits until the other replica has arrived at the same point; throws if it failed. */
function barrier(): void {
  const mine = Atomics.add(control, index, 1) + 1;
  Atomics.notify(control, index);
  for (;;) {
    if (Atomics.load(control, abortSlot) !== 0) throw new Error('the other replica failed; this step was abandoned');
    const seen = Atomics.load(control, other);
    if (seen >= mine) return;
    Atomics.wait(control, other, seen, 1000);
  }
}

function abort(): void {
  Atomics.store(control, abortSlot, 1);
  Atomics.notify(control, 0);
  Atomics.notify(control, 1);
}

function checksum(): string {
  // FNV-1a over every parameter's bytes, in the checkpoint order.
  let hash = 0x811c9dc5;
  for (const [, variable] of trainer.model.allParameters()) {
    const bytes = new Uint8Array((variable.dataSync() as Float32Array).slice().buffer);
    for (let i = 0; i < bytes.length; i += 1) hash = Math.imul(hash ^ bytes[i]!, 0x01000193);
  }
  return (hash >>> 0).toString(16).padStart(8, '0');
}

function bnChannels(): number {
  let total = 0;
  for (const name of trainer.model.backbone.params.buffers) {
    if (name.endsWith('.running_mean')) total += trainer.model.backbone.params.get(name).size;
  }
  return total;
}

function info(): ReplicaInfo {
  const trainable = trainer.model.trainable();
  return {
    featureDim: trainer.model.backbone.outChannels,
    exchangeFloats: trainable.reduce((sum, [, v]) => sum + v.size, 0) + 2 * bnChannels(),
    trainableTensors: trainable.length,
    backboneWeights: trainer.model.backbone.params.count(),
    checksum: checksum(),
  };
}

function step(request: ReplicaStepRequest): ReplicaStepReply {
  const model = trainer.model;
  const config = trainer.config;
  const m = config.grid;
  const d = model.backbone.outChannels;
  const rows = request.halfN * m * m;
  if (!features || features.length < 2 * rows * d) throw new Error('the shared feature buffer is missing or too small');
  const trainable = model.trainable();
  const backboneCount = model.backbone.params.trainable().length;
  const nameOf = new Map(trainable.map(([name, variable]) => [variable.name, name]));
  const updates: BatchNormUpdate[] = [];
  const [mySlot, slot0, slot1] = [exchange[index]!, exchange[0]!, exchange[1]!];
  let headGradMaxDiff = 0;
  const phases: Record<string, number> = {};
  let mark = performance.now();
  const lap = (name: string) => {
    const now = performance.now();
    phases[name] = (phases[name] ?? 0) + now - mark;
    mark = now;
  };

  const values = tf.tidy(() => {
    const montages = tf.tensor4d(request.montages, [request.halfN, request.size, request.size, 3]);
    const clusterLabels = tf.tensor1d(request.clusterLabels, 'int32');
    const locationLabels = tf.tensor1d(request.locationLabels, 'int32');
    let parts: tf.Scalar[] = [];
    const { value, grads } = tf.variableGrads(() => {
      const own = model.patchFeatures(montages, true, trainer.convGrad, updates);
      features!.set(own.dataSync() as Float32Array, index * rows * d);
      lap('forward');
      barrier(); // both halves' features are in shared memory
      lap('featureWait');
      const otherRows = tf.tensor2d(features!.slice(other * rows * d, (other + 1) * rows * d), [rows, d]);
      // Replica 0's rows first: the whole batch in the order of the labels.
      const all = (index === 0 ? tf.concat([own, otherRows]) : tf.concat([otherRows, own])) as tf.Tensor2D;
      const cluster = supCluLoss(model.clusterEmbeddings(all), clusterLabels, config.temperature);
      const location = locationLoss(model.locationLogits(all), locationLabels);
      parts = [tf.keep(cluster), tf.keep(location)];
      return tf.add(tf.mul(cluster, config.alpha), tf.mul(location, config.beta)) as tf.Scalar;
    }, trainable.map(([, variable]) => variable));

    lap('lossAndBackward');
    // Exchange: this replica's gradients and BatchNorm batch statistics into its slot.
    let offset = 0;
    for (const [, variable] of trainable) {
      const grad = grads[variable.name];
      if (!grad) throw new Error(`no gradient for ${nameOf.get(variable.name)}`);
      mySlot.set(grad.dataSync() as Float32Array, offset);
      offset += variable.size;
    }
    for (const update of updates) {
      mySlot.set(update.mean.dataSync() as Float32Array, offset);
      offset += update.mean.size;
      mySlot.set(update.variance.dataSync() as Float32Array, offset);
      offset += update.variance.size;
    }
    lap('gradientRead');
    barrier(); // both slots written
    lap('gradientWait');

    // Both replicas combine the same numbers the same way (backbone g0 + g1, heads g0) and
    // apply the same SGD update to their weight mirrors, then load the new weights.
    const mirror = sgdMirror!;
    const lr = Math.fround(request.lr);
    const momentum = Math.fround(trainer.optimizer.momentum);
    const decay = Math.fround(trainer.optimizer.weightDecay);
    offset = 0;
    trainable.forEach(([, variable], i) => {
      const size = variable.size;
      const w = mirror.weights[i]!;
      const first = !mirror.momentum[i];
      const buffer = (mirror.momentum[i] ??= new Float32Array(size));
      const summed = i < backboneCount;
      for (let k = 0; k < size; k += 1) {
        const g = summed ? Math.fround(slot0[offset + k]! + slot1[offset + k]!) : slot0[offset + k]!;
        if (!summed && index === 0) headGradMaxDiff = Math.max(headGradMaxDiff, Math.abs(g - slot1[offset + k]!));
        // Sgd.step's float32 operations, one rounding each: d = g + wd w; b = m b + d; w -= lr b.
        const d = decay ? Math.fround(g + Math.fround(w[k]! * decay)) : g;
        const b = first ? d : Math.fround(Math.fround(buffer[k]! * momentum) + d);
        buffer[k] = b;
        w[k] = Math.fround(w[k]! - Math.fround(b * lr));
      }
      variable.assign(tf.tensor(w.slice(), variable.shape));
      offset += size;
    });
    // BatchNorm running statistics from the average of the two replicas' batch statistics.
    for (const update of updates) {
      const size = update.mean.size;
      const mean = new Float32Array(size);
      const variance = new Float32Array(size);
      for (let k = 0; k < size; k += 1) {
        mean[k] = 0.5 * (slot0[offset + k]! + slot1[offset + k]!);
        variance[k] = 0.5 * (slot0[offset + size + k]! + slot1[offset + size + k]!);
      }
      offset += 2 * size;
      update.mean.dispose();
      update.variance.dispose();
      update.mean = tf.keep(tf.tensor1d(mean));
      update.variance = tf.keep(tf.tensor1d(variance));
    }
    lap('sgd');
    const stacked = tf.stack([value, ...parts]);
    for (const part of parts) part.dispose();
    return stacked;
  });
  model.backbone.applyBatchNormUpdates(updates);
  const [total, cluster, location] = Array.from(values.dataSync());
  values.dispose();
  lap('batchNorm');
  return { total: total!, cluster: cluster!, location: location!, headGradMaxDiff, phases };
}

/** Reads the weights and momentum buffers into the SGD mirror (after init or a load). */
function buildMirror(): void {
  const trainable = trainer.model.trainable();
  sgdMirror = {
    weights: trainable.map(([, variable]) => (variable.dataSync() as Float32Array).slice()),
    momentum: trainable.map(([name]) => (trainer.optimizer.buffers.get(name)?.dataSync() as Float32Array | undefined)?.slice()),
  };
}

/** Writes the mirror's momentum into trainer.optimizer (its checkpoint format). */
function syncOptimizer(): void {
  const mirror = sgdMirror!;
  tf.tidy(() => {
    trainer.model.trainable().forEach(([name, variable], i) => {
      const momentum = mirror.momentum[i];
      if (!momentum) return;
      const value = tf.tensor(momentum.slice(), variable.shape);
      const existing = trainer.optimizer.buffers.get(name);
      if (existing) existing.assign(value);
      else trainer.optimizer.buffers.set(name, tf.variable(value, false, `sgd_${name}_${Math.random().toString(36).slice(2, 8)}`));
    });
  });
}

function weights(): Record<string, Float32Array> {
  syncOptimizer();
  const out: Record<string, Float32Array> = {};
  for (const [name, variable] of trainer.model.allParameters()) out[name] = (variable.dataSync() as Float32Array).slice();
  for (const [name, buffer] of trainer.optimizer.buffers) out[`optimizer.momentum.${name}`] = (buffer.dataSync() as Float32Array).slice();
  return out;
}

function load(checkpoint: Uint8Array, epochs?: number): void {
  const next = JigCluTrainer.deserialize(Buffer.from(checkpoint.buffer, checkpoint.byteOffset, checkpoint.byteLength), { convGrad: init.convGrad, epochs });
  trainer?.dispose();
  trainer = next;
  buildMirror();
}

function handle(request: ReplicaRequest): unknown {
  switch (request.type) {
    case 'attach':
      features = new Float32Array(request.features);
      exchange = [0, 1].map((r) => new Float32Array(request.exchange, (r * request.exchange.byteLength) / 2, request.exchange.byteLength / 8));
      return null;
    case 'step':
      return step(request.step);
    case 'serialize': {
      trainer.position = { ...request.position };
      syncOptimizer();
      return trainer.serialize(request.extra).then((buffer) => new Uint8Array(buffer));
    }
    case 'load':
      load(request.checkpoint, request.epochs);
      return info();
    case 'weights':
      return weights();
    case 'memory':
      return tf.memory().numTensors;
    case 'info':
      return info();
  }
}

async function start(): Promise<void> {
  if (init.backend === 'wasm') {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const { wasmDirectory } = await import('./backend');
    wasm.setWasmPaths(wasmDirectory());
  }
  if (!(await tf.setBackend(init.backend))) throw new Error(`replica ${index}: the ${init.backend} backend did not initialise`);
  await tf.ready();
  if (init.checkpoint) load(init.checkpoint, init.epochs);
  else {
    trainer = new JigCluTrainer(init.config, init.convGrad);
    buildMirror();
  }
}

const started = start();

parentPort?.on('message', (request: ReplicaRequest) => {
  started
    .then(async () => {
      const result = await handle(request);
      parentPort?.postMessage({ id: request.id, ok: true, result });
    })
    .catch((error: unknown) => {
      if (request.type === 'step') abort();
      parentPort?.postMessage({ id: request.id, ok: false, error: String((error as Error)?.stack ?? (error as Error)?.message ?? error) });
    });
});

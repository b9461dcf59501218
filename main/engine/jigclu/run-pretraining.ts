import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '../backend/tfjs';
import { threadsLabel, type EngineReport } from '../../common/engine';
import { evalSizeFor, gpuBatchProblem, type PretrainConfig } from '../../common/pretrain-config';
import type { RunMetric } from '../../common/runs';
import { JigsawBatchSource, type RejectedFile } from '../../data/batch-source';
import { referenceAugmentation } from '../../data/augment';
import { defaultConvGradMode, type ConvGradMode } from '../nn/conv';
import { advancePosition, JigCluTrainer, localTrainers, stepsPerEpoch, type PretrainTrainer, type StepResult, type TrainerFactory, type TrainingPosition } from './trainer';
import { writeFileAtomic } from '../../data/atomic-file';
import { checkpointPath, checkpointsDir, removePartialCheckpoints, writeCheckpoint } from '../weights/checkpoints';
import { assertWebGpuHealthy } from '../backend/webgpu';
import { inspectBatch, loadMonitorImages, monitorAccuracy, type BatchInspection, type MonitorImages, type MonitorSet } from './monitor';

/** The numbers of one training step, as stored in the run's metrics (step: the global step after it, 1 for the first; epoch: 0-based). */
export type StepMetric = RunMetric;

/** A request of the montage inspector, answered between two steps (or while paused). */
export interface InspectRequest {
  id: number;
  /** 1-based training step whose batch to show; the last one trained when left out. */
  step?: number;
  count: number;
}

/** What a pretraining run reports while it runs (at most ~5 progress reports a second). */
export interface PretrainProgress {
  phase: 'preparing' | 'training';
  /** Preparing: images decoded so far / total. Training: global step / total steps. */
  done: number;
  total: number;
  epoch: number;
  epochs: number;
  stepInEpoch: number;
  stepsPerEpoch: number;
  losses?: { total: number; cluster: number; location: number };
  lr?: number;
  imagesPerSecond?: number;
  etaSeconds?: number;
  /** Seconds spent training in this process so far (pauses excluded). */
  elapsedSeconds?: number;
  locationAccuracy?: number;
  clusterAccuracy?: number;
  /** Every step since the previous report (training phase). */
  steps?: StepMetric[];
}

export interface CheckpointWritten {
  file: string;
  kind: 'step' | 'epoch' | 'final' | 'stop';
  globalStep: number;
  epoch: number;
}

export interface PretrainHooks {
  progress?(progress: PretrainProgress): void;
  log?(level: 'info' | 'warn', message: string): void;
  checkpoint?(written: CheckpointWritten): void;
  /** Polled between steps: 'stop' checkpoints and returns; 'pause' waits until it changes. */
  control?(): 'run' | 'pause' | 'stop';
  /** Polled between steps and while paused: a montage inspector request to answer. */
  takeInspectRequest?(): InspectRequest | undefined;
  inspected?(id: number, outcome: { result: BatchInspection } | { error: string }): void;
  /** The kNN monitor's accuracy before training (epoch 0) and after each epoch. */
  knn?(metric: { epoch: number; step: number; accuracy: number }): void;
}

export interface PretrainRequest {
  config: PretrainConfig;
  /** Image files to train on. */
  files: string[];
  /** The run's folder: checkpoints/ and run.json are written here. */
  runDir: string;
  /** A checkpoint to continue from (its config is used; `config.epochs` may extend it). */
  resumeFrom?: string;
  engine: EngineReport;
  /** Folder for the on-disk cache of resized images (optional). */
  cacheDir?: string;
  /** A labelled subset of the images for the kNN monitor (after each epoch). */
  monitor?: MonitorSet;
  /** Waits this long after each step (demos and end-to-end tests slow training down with it). */
  stepDelayMs?: number;
  /**
   * Makes the trainer: on this process's engine by default; the desktop app's WebGPU host in a
   * hidden window (remote-trainer.ts) when the engine is webgpu there.
   */
  trainers?: TrainerFactory;
}

export interface PretrainOutcome {
  status: 'finished' | 'stopped';
  lastCheckpoint?: string;
  position: { epoch: number; globalStep: number };
  lastLosses?: StepResult;
  rejected: RejectedFile[];
  imageCount: number;
  /**
   * Steps trained in this call, the wall time they took (batches, steps, checkpoints; pauses
   * left out) and how long the step waited for a batch, after the first (which nothing made
   * ahead): near 0 when the batch worker keeps up. cpuSeconds is the CPU time of this process
   * (every thread: the step's pool, the batch worker) in that wall time: cpuSeconds / seconds
   * is the cores training got, less than the threads where other processes share the CPUs.
   */
  training: { steps: number; seconds: number; dataWaitSeconds: number; cpuSeconds: number };
}

export { latestCheckpoint, listCheckpoints } from '../weights/checkpoints';

function resolveConvGrad(config: PretrainConfig): ConvGradMode {
  // Our 'fast' gradients read tensors back synchronously, which WebGPU in Node cannot: tfjs's
  // own kernels there (also for a run started on wasm with --conv-grad fast).
  if (tf.getBackend() === 'webgpu') return 'native';
  return config.convGrad === 'auto' ? defaultConvGradMode(tf.getBackend()) : config.convGrad;
}

/**
 * Runs (or continues) JigClu pretraining on the current tfjs backend: decodes the images once,
 * then trains epoch by epoch, writing a checkpoint every `checkpointEvery` steps, at every
 * epoch end and when asked to stop, keeping the last `keepCheckpoints` (plus epoch ends).
 */
export async function runPretraining(request: PretrainRequest, hooks: PretrainHooks = {}): Promise<PretrainOutcome> {
  const log = hooks.log ?? (() => undefined);
  const convGradFor = (config: PretrainConfig) => resolveConvGrad(config);
  const planned = request.resumeFrom ? JigCluTrainer.readMetadata(fs.readFileSync(request.resumeFrom)).config : request.config;
  // On WebGPU one tensor is one buffer: one over the adapter's limit would fail validation and read
  // back zeros, so refuse the batch before anything starts.
  const adapter = request.engine.chosen === 'webgpu' ? request.engine.candidates.find((c) => c.name === 'webgpu')?.adapter : undefined;
  const tooBig = adapter ? gpuBatchProblem(planned, adapter.limits) : undefined;
  if (tooBig) throw new Error(`${tooBig}${request.resumeFrom ? ' The checkpoints are kept.' : ''}`);
  const trainers = request.trainers ?? localTrainers;
  let trainer: PretrainTrainer;
  if (request.resumeFrom) {
    const overrides = { convGrad: convGradFor(request.config), epochs: request.config.epochs };
    trainer = await trainers.resume(fs.readFileSync(request.resumeFrom), overrides);
    log('info', `Resuming from ${path.basename(request.resumeFrom)} at epoch ${trainer.position.epoch + 1}, step ${trainer.position.globalStep}.`);
  } else {
    trainer = await trainers.create(request.config, convGradFor(request.config));
  }
  const config = trainer.config;
  const sizes = trainer.sizes();
  fs.mkdirSync(checkpointsDir(request.runDir), { recursive: true });
  for (const stale of removePartialCheckpoints(request.runDir)) log('warn', `Removed ${stale}, a checkpoint left half-written when an earlier run was killed.`);
  writeFileAtomic(path.join(request.runDir, 'run.json'), JSON.stringify({ config, engine: request.engine.chosen, files: request.files.length }, null, 2));
  log('info', `Engine ${request.engine.chosen}${request.engine.threads ? ` (${threadsLabel(request.engine.threads)})` : ''}${request.engine.fallbackReason ? ` (${request.engine.fallbackReason})` : ''}; conv gradient: ${trainer.convGrad}; ${sizes.trainableTensors} parameter tensors, ${(sizes.backboneWeights / 1e6).toFixed(2)} M backbone weights.`);

  const source = new JigsawBatchSource(request.files, {
    jigsaw: { grid: config.grid, crop: config.crop, cross: config.cross, augmentation: referenceAugmentation },
    batch: config.batch,
    seed: config.seed,
    cacheShortSide: config.crop * 2,
    diskCache: request.cacheDir,
    prefetch: 2,
    workerScript: path.join(path.dirname(fileURLToPath(import.meta.url)), 'batch-worker.js'),
  });
  let lastReport = 0;
  const imageCount = await source.prepare((done, total) => {
    const now = performance.now();
    if (now - lastReport > 200 || done === total) {
      lastReport = now;
      hooks.progress?.({ phase: 'preparing', done, total, epoch: trainer.position.epoch, epochs: config.epochs, stepInEpoch: 0, stepsPerEpoch: 0 });
    }
  });
  for (const rejected of source.rejected) log('warn', `Skipped ${rejected.file}: ${rejected.reason}`);
  log('info', `${imageCount} images ready; batches are made ${source.threaded ? 'in a worker thread' : 'between steps'}.`);
  const epochSteps = stepsPerEpoch(imageCount, config.batch);
  if (imageCount === 0) {
    throw new Error('No usable image: none of the images could be decoded (each is named above with its reason); add images that can be read.');
  }
  if (epochSteps < 1) {
    throw new Error(`Only ${imageCount} usable images for a batch of ${config.batch}: lower the batch size or add images.`);
  }
  let monitor: MonitorImages | undefined;
  if (request.monitor && request.monitor.files.length > 0) {
    monitor = await loadMonitorImages(request.monitor, evalSizeFor(config));
    log('info', `kNN monitor: ${monitor.queries.labels.length} held-out images voted on by ${monitor.bank.labels.length} labelled ones (${monitor.classes} classes), checked after each epoch${monitor.skipped ? `; ${monitor.skipped} could not be decoded` : ''}.`);
  }
  const runKnn = async (): Promise<void> => {
    if (!monitor) return;
    const accuracy = await monitorAccuracy(trainer, monitor);
    hooks.knn?.({ epoch: trainer.position.epoch, step: trainer.position.globalStep, accuracy });
    log('info', `kNN accuracy after epoch ${trainer.position.epoch}: ${(accuracy * 100).toFixed(1)}% of ${monitor.queries.labels.length} held-out images.`);
  };
  const answerInspect = async (): Promise<void> => {
    const inspect = hooks.takeInspectRequest?.();
    if (!inspect) return;
    // The inspector shows the weights of the last step trained: read every queued step first.
    await drain();
    try {
      const step = inspect.step ?? Math.max(1, trainer.position.globalStep);
      if (step > totalSteps) throw new Error(`step ${step} is beyond the run's ${totalSteps} steps`);
      const epoch = Math.floor((step - 1) / epochSteps);
      const stepInEpoch = (step - 1) % epochSteps;
      const batch = await source.batch(epoch, stepInEpoch);
      const indices = source.batchIndices(epoch, stepInEpoch);
      const result = await inspectBatch(trainer, batch, inspect.count, { step, epoch: epoch + 1, stepInEpoch: stepInEpoch + 1 }, (sourceIndex) => source.fileIndices[indices[sourceIndex]!]!);
      hooks.inspected?.(inspect.id, { result });
    } catch (error) {
      hooks.inspected?.(inspect.id, { error: (error as Error).message });
    }
  };
  const totalSteps = epochSteps * config.epochs;
  /** Reads back every queued step (set up with the training loop below). */
  let drain = async (): Promise<void> => undefined;
  let lastCheckpoint: string | undefined;
  let lastLosses: StepResult | undefined;

  const saveCheckpoint = async (kind: CheckpointWritten['kind']): Promise<void> => {
    // Written whole and checked before the oldest is removed; a full disk throws, keeping them all.
    const file = writeCheckpoint(request.runDir, trainer.position.globalStep, await trainer.serialize({ kind, files: String(imageCount) }), config.keepCheckpoints);
    lastCheckpoint = file;
    hooks.checkpoint?.({ file, kind, globalStep: trainer.position.globalStep, epoch: trainer.position.epoch });
  };

  try {
    // Images/s over a sliding window of recent steps (the first step includes warm-up).
    const window: { time: number; images: number }[] = [];
    let lastProgress = 0;
    let pending: StepMetric[] = [];
    let report: PretrainProgress | undefined;
    // Steps not reported yet go out before a pause or a stop, so the stored curves are whole.
    const flush = (): void => {
      if (pending.length === 0 || !report) return;
      const last = pending.at(-1)!;
      hooks.progress?.({ ...report, done: last.step, losses: { total: last.total, cluster: last.cluster, location: last.location }, lr: last.lr, steps: pending, elapsedSeconds: trainingSeconds });
      pending = [];
    };
    let trainingSeconds = 0;
    const training = { steps: 0, seconds: 0, dataWaitSeconds: 0, cpuSeconds: 0 };
    let batchesMade = 0;
    // Steps queued and not yet read back. On WebGPU one more step is queued before the previous
    // one's losses are read (no GPU-to-CPU wait between steps; the next batch uploads while the
    // GPU computes); elsewhere each step is read at once. A step after which a checkpoint, the
    // epoch's end or the run's end comes is read before anything else is queued, so checkpoints,
    // the kNN monitor and the inspector always see the weights of the step they name.
    const depth = trainer.pipelineDepth;
    const inFlight: { read: () => Promise<StepResult>; position: TrainingPosition; epoch: number; boundary: boolean }[] = [];
    const finishOldest = async (): Promise<void> => {
      const queued = inFlight.shift()!;
      const result = await queued.read();
      const position = queued.position;
      if (adapter) assertWebGpuHealthy(`at step ${position.globalStep} (batch ${config.batch})`);
      trainingSeconds += result.computeSeconds;
      lastLosses = result;
      if (!Number.isFinite(result.total)) {
        throw new Error(`The loss became ${result.total} at step ${position.globalStep}: lower the learning rate (--lr) and resume from the last checkpoint.`);
      }
      const now = performance.now();
      window.push({ time: now, images: config.batch });
      while (window.length > 20) window.shift();
      const elapsed = window.length > 1 ? (now - window[0]!.time) / 1000 : result.computeSeconds;
      const imagesPerSecond = window.length > 1 ? window.slice(1).reduce((sum, w) => sum + w.images, 0) / elapsed : config.batch / result.computeSeconds;
      pending.push({
        step: position.globalStep,
        epoch: queued.epoch,
        total: result.total,
        cluster: result.cluster,
        location: result.location,
        lr: result.lr,
        imagesPerSecond: window.length > 1 ? imagesPerSecond : null,
        locationAccuracy: result.locationAccuracy ?? null,
        clusterAccuracy: result.clusterAccuracy ?? null,
      });
      const epochEnded = position.stepInEpoch === 0;
      const finished = position.epoch >= config.epochs;
      if (epochEnded || position.globalStep % config.checkpointEvery === 0) await saveCheckpoint(epochEnded ? 'epoch' : 'step');
      if (now - lastProgress > 200 || epochEnded || finished) {
        lastProgress = now;
        const remaining = totalSteps - position.globalStep;
        report = {
          phase: 'training',
          done: position.globalStep,
          total: totalSteps,
          epoch: position.epoch,
          epochs: config.epochs,
          stepInEpoch: position.stepInEpoch,
          stepsPerEpoch: epochSteps,
          losses: { total: result.total, cluster: result.cluster, location: result.location },
          lr: result.lr,
          imagesPerSecond,
          etaSeconds: (remaining * config.batch) / imagesPerSecond,
          elapsedSeconds: trainingSeconds,
          locationAccuracy: result.locationAccuracy,
          clusterAccuracy: result.clusterAccuracy,
          steps: pending,
        };
        hooks.progress?.(report);
        pending = [];
      }
      if (epochEnded) {
        log('info', `Epoch ${position.epoch}/${config.epochs} done: loss ${result.total.toFixed(4)} (cluster ${result.cluster.toFixed(4)}, location ${result.location.toFixed(4)}), ${imagesPerSecond.toFixed(1)} images/s.`);
        await runKnn();
      }
      training.steps += 1;
      if (request.stepDelayMs) await new Promise((resolve) => setTimeout(resolve, request.stepDelayMs));
    };
    drain = async () => {
      while (inFlight.length > 0) await finishOldest();
    };
    if (trainer.position.globalStep === 0) await runKnn();
    while (!trainer.done() || inFlight.length > 0) {
      const iterationStarted = performance.now();
      const cpuStarted = process.cpuUsage();
      // Wall and CPU time of the loop but its pauses (and the stop's checkpoint, which comes after the last step).
      const timed = (): void => {
        training.seconds += (performance.now() - iterationStarted) / 1000;
        const cpu = process.cpuUsage(cpuStarted);
        training.cpuSeconds += (cpu.user + cpu.system) / 1e6;
      };
      // Let pending I/O (a stop or pause message) in: a prefetched batch and the step resolve
      // as microtasks only, which never yield to the event loop.
      await new Promise((resolve) => setImmediate(resolve));
      await answerInspect();
      const control = hooks.control?.() ?? 'run';
      if (control !== 'run') {
        await drain();
        flush();
        timed();
      }
      if (control === 'stop') {
        if (trainer.position.globalStep > 0 && lastCheckpoint !== checkpointPath(request.runDir, trainer.position.globalStep)) await saveCheckpoint('stop');
        return { status: 'stopped', lastCheckpoint, position: trainer.position, lastLosses, rejected: source.rejected, imageCount, training };
      }
      if (control === 'pause') {
        await new Promise((resolve) => setTimeout(resolve, 100));
        // Images/s restarts after a pause.
        window.length = 0;
        continue;
      }
      if (inFlight.at(-1)?.boundary || trainer.done()) {
        await drain();
        timed();
        continue;
      }
      const { epoch, stepInEpoch } = trainer.position;
      const asked = performance.now();
      const batch = await source.batch(epoch, stepInEpoch);
      if (batchesMade > 0) training.dataWaitSeconds += (performance.now() - asked) / 1000;
      batchesMade += 1;
      const position = { ...trainer.position };
      advancePosition(position, epochSteps);
      const boundary = position.stepInEpoch === 0 || position.globalStep % config.checkpointEvery === 0 || position.epoch >= config.epochs;
      inFlight.push({ ...trainer.launch(batch, epochSteps), position, epoch, boundary });
      if (inFlight.length >= depth) await finishOldest();
      timed();
    }
    return { status: 'finished', lastCheckpoint, position: trainer.position, lastLosses, rejected: source.rejected, imageCount, training };
  } finally {
    await trainer.dispose();
    await source.close();
  }
}

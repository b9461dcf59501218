/**
 * Entry of the trainer process (a child process of the app under Node; an Electron
 * utilityProcess in the desktop app, see main/jobs/launcher.ts). It owns tfjs: selects the
 * engine, runs pretraining or a compute job, and reports to its parent with numbered messages.
 * A crash or out-of-memory kills only this process; the app keeps running.
 */
import { localEngine, selectEngine } from '../engine/backend/backend';
import { computeWindowFor } from '../engine/backend/gpu-host-connection';
import { RemoteTrainer, remoteTrainers } from '../engine/jigclu/remote-trainer';
import { runComputeJob } from '../engine/compute/compute-runner';
import { defaultConvGradMode } from '../engine/nn/conv';
import { measureStepSeconds } from '../engine/jigclu/monitor';
import { runPretraining, type InspectRequest } from '../engine/jigclu/run-pretraining';
import * as tf from '../engine/backend/tfjs';
import { releaseWebGpu } from '../engine/backend/webgpu';
import { parentChannel } from './launcher';
import { isToTrainer, type FromTrainer, type MeasureSpeed, type StartPretraining, type ToTrainer } from './protocol';

const parent = parentChannel();

let seq = 0;
let control: 'run' | 'pause' | 'stop' = 'run';
let running = false;
const inspectRequests: InspectRequest[] = [];

type Payload = FromTrainer extends infer M ? (M extends unknown ? Omit<M, 'seq'> : never) : never;

function send(message: Payload): void {
  seq += 1;
  void parent.send({ ...message, seq });
}

/** Sends the job's final message and leaves once it is out of the process. */
function sendLastAndExit(message: Payload): void {
  seq += 1;
  void parent.send({ ...message, seq }).then(exit);
}

/** Leaves the process; a WebGPU device is destroyed first (Dawn's binding may hang or crash at exit with one open). */
function exit(): void {
  releaseWebGpu(tf);
  process.exit(0);
}

function isOutOfMemory(error: unknown): boolean {
  const message = String((error as Error)?.message ?? error);
  return /out of memory|OOM|Array buffer allocation failed|allocation failed|Invalid typed array length/i.test(message);
}

async function start(request: StartPretraining): Promise<void> {
  running = true;
  try {
    const engine = await selectEngine(request.engine, { threads: request.threads });
    // Inside the desktop app WebGPU trains in the compute window; elsewhere on this process's engine.
    const computeWindow = await computeWindowFor(engine);
    send({ type: 'ready', engine, pid: process.pid });
    const outcome = await runPretraining(
      {
        config: request.config,
        files: request.files,
        runDir: request.runDir,
        resumeFrom: request.resumeFrom,
        engine,
        cacheDir: request.cacheDir,
        monitor: request.monitor,
        stepDelayMs: request.stepDelayMs,
        ...(computeWindow ? { trainers: remoteTrainers(computeWindow) } : {}),
      },
      {
        progress: (progress) => send({ type: 'progress', progress }),
        log: (level, message) => send({ type: 'log', level, message }),
        checkpoint: (checkpoint) => send({ type: 'checkpoint', checkpoint }),
        control: () => control,
        takeInspectRequest: () => inspectRequests.shift(),
        inspected: (id, outcome) => send({ type: 'inspection', id, ...outcome }),
        knn: (metric) => send({ type: 'knn', ...metric }),
      },
    );
    sendLastAndExit({
      type: 'finished',
      status: outcome.status,
      lastCheckpoint: outcome.lastCheckpoint,
      globalStep: outcome.position.globalStep,
      epoch: outcome.position.epoch,
      rejected: outcome.rejected.length,
      imageCount: outcome.imageCount,
      training: outcome.training,
    });
  } catch (error) {
    sendLastAndExit({
      type: 'failed',
      error: { code: isOutOfMemory(error) ? 'OUT_OF_MEMORY' : 'TRAINING_FAILED', message: String((error as Error)?.message ?? error) },
    });
  } finally {
    running = false;
  }
}

async function measure(request: MeasureSpeed): Promise<void> {
  running = true;
  try {
    const engine = await selectEngine(request.engine, { threads: request.threads });
    const computeWindow = await computeWindowFor(engine);
    send({ type: 'ready', engine, pid: process.pid });
    // tfjs's own gradients on webgpu (ours read tensors back synchronously).
    const convGrad = computeWindow || tf.getBackend() === 'webgpu' ? 'native' : request.config.convGrad === 'auto' ? defaultConvGradMode(tf.getBackend()) : request.config.convGrad;
    const { secondsPerStep, warmupSeconds } = await measureStepSeconds(request.config, convGrad, request.steps ?? 3, computeWindow ? (config) => RemoteTrainer.create(computeWindow, config) : undefined);
    sendLastAndExit({ type: 'measured', secondsPerStep, warmupSeconds, engine });
  } catch (error) {
    sendLastAndExit({ type: 'failed', error: { code: isOutOfMemory(error) ? 'OUT_OF_MEMORY' : 'TRAINING_FAILED', message: String((error as Error)?.message ?? error) } });
  } finally {
    running = false;
  }
}

async function job(request: Extract<ToTrainer, { type: 'job' }>): Promise<void> {
  running = true;
  try {
    const probed = await selectEngine(request.engine, { threads: request.threads });
    // The compute window runs pretraining (with its monitor and inspector), speed checks and
    // embeddings; the other jobs run on this process's best CPU engine inside the desktop app, and say so.
    const computeWindow = request.job.kind === 'embed' ? await computeWindowFor(probed) : undefined;
    const local = localEngine(probed);
    const engine = computeWindow || local === probed.chosen ? probed : { ...probed, chosen: local, fallbackReason: `Inside the desktop app WebGPU runs pretraining and embeddings in the app's compute window; this job runs on ${local}.` };
    send({ type: 'ready', engine, pid: process.pid });
    const result = await runComputeJob(
      request.job,
      {
        progress: (done, total, message) => send({ type: 'job-progress', done, total, message }),
        chunk: (chunk) => send({ type: 'job-chunk', chunk }),
      },
      computeWindow,
    );
    sendLastAndExit({ type: 'job-result', result });
  } catch (error) {
    sendLastAndExit({ type: 'failed', error: { code: isOutOfMemory(error) ? 'OUT_OF_MEMORY' : 'TRAINING_FAILED', message: String((error as Error)?.message ?? error) } });
  } finally {
    running = false;
  }
}

parent.onMessage((message: unknown) => {
  if (!isToTrainer(message)) return;
  const m = message as ToTrainer;
  switch (m.type) {
    case 'start':
      if (running) send({ type: 'failed', error: { code: 'BAD_REQUEST', message: 'This trainer process is already training.' } });
      else void start(m);
      break;
    case 'measure':
      if (running) send({ type: 'failed', error: { code: 'BAD_REQUEST', message: 'This trainer process is already busy.' } });
      else void measure(m);
      break;
    case 'job':
      if (running) send({ type: 'failed', error: { code: 'BAD_REQUEST', message: 'This trainer process is already busy.' } });
      else void job(m);
      break;
    case 'inspect':
      if (!running) send({ type: 'inspection', id: m.id, error: 'the trainer is not training' });
      else inspectRequests.push({ id: m.id, step: m.step, count: m.count });
      break;
    case 'pause':
      control = 'pause';
      send({ type: 'paused' });
      break;
    case 'resume':
      control = 'run';
      send({ type: 'resumed' });
      break;
    case 'stop':
      control = 'stop';
      break;
  }
});

// The parent went away: stop cleanly (a checkpoint is written at the next step boundary).
parent.onDisconnect(() => {
  control = 'stop';
  if (!running) exit();
});

/**
 * The WebGPU compute host: runs in the desktop app's hidden compute window (its page is
 * gpu-host/page.ts) on Chromium's navigator.gpu, because Dawn's Node binding cannot map GPU
 * buffers inside Electron's Node. It answers the trainer process's requests (protocol.ts) over
 * one message port: it opens the GPU, holds one model with its optimizer (jigclu-training.ts,
 * the same code the trainer process runs on its own engines) and computes training steps,
 * features and the inspector's outputs. Data, schedule, checkpoint files and metrics stay in
 * the trainer process. No Node API here: this module is bundled into the page.
 */
import type * as tfCore from '@tensorflow/tfjs-core';
import type { PretrainConfig } from '../common/pretrain-config';
import { JigCluTraining, type TrainingBatch, type TrainingPosition } from '../engine/jigclu/jigclu-training';
import type { NamedTensor } from '../engine/weights/safetensors';
import {
  checkTfjsWebGpu,
  defaultApi,
  deviceProblem,
  firstLine,
  noAdapterRemedy,
  openWatchedDevice,
  registerTfjsWebGpu,
  WebGpuUnavailable,
  type WatchedDevice,
} from '../engine/backend/webgpu-device';
import { isToGpuHost, type FromGpuHost, type GpuError, type GpuPort, type GpuRequest, type GpuResults, type ToGpuHost } from './protocol';

type TfCore = typeof tfCore;

/** A request the host refuses: its fields are not what the protocol says. */
class BadRequest extends Error {}

function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new BadRequest(message);
}

const isCount = (value: unknown, min = 0): value is number => Number.isInteger(value) && (value as number) >= min;

function checkBatch(batch: TrainingBatch | undefined): TrainingBatch {
  check(typeof batch === 'object' && batch !== null, 'the batch is missing');
  check(isCount(batch.n, 1) && isCount(batch.grid, 1) && isCount(batch.size, 1), 'the batch needs whole n, grid and size');
  check(batch.montages instanceof Float32Array && batch.montages.length === batch.n * batch.size * batch.size * 3, `the montages must be a Float32Array of n x size x size x 3 = ${batch.n * batch.size * batch.size * 3} values`);
  const slots = batch.n * batch.grid * batch.grid;
  check(batch.clusterLabels instanceof Int32Array && batch.clusterLabels.length === slots, `the cluster labels must be an Int32Array of ${slots} values`);
  check(batch.locationLabels instanceof Int32Array && batch.locationLabels.length === slots, `the location labels must be an Int32Array of ${slots} values`);
  return batch;
}

function checkTensors(tensors: NamedTensor[] | undefined): Map<string, NamedTensor> {
  check(Array.isArray(tensors), 'the tensors must be a list');
  const byName = new Map<string, NamedTensor>();
  for (const tensor of tensors) {
    check(typeof tensor?.name === 'string' && Array.isArray(tensor.shape) && tensor.shape.every((d) => isCount(d)), 'each tensor needs a name and a shape of whole numbers');
    check(tensor.data instanceof Float32Array && tensor.data.length === tensor.shape.reduce((a, b) => a * b, 1), `${tensor.name}'s data must be a Float32Array of its shape's size`);
    byName.set(tensor.name, tensor);
  }
  return byName;
}

const numericConfigFields = ['width', 'grid', 'crop', 'batch', 'projectionDim', 'temperature', 'alpha', 'beta', 'seed', 'lr', 'epochs', 'momentum', 'weightDecay'] as const;

function checkConfig(config: PretrainConfig | undefined): PretrainConfig {
  check(typeof config === 'object' && config !== null && typeof config.arch === 'string' && typeof config.decoupling === 'string', 'the config needs an architecture and a decoupling');
  for (const field of numericConfigFields) check(Number.isFinite(config[field]), `the config's ${field} must be a number`);
  return config;
}

function checkPosition(position: TrainingPosition | undefined): TrainingPosition {
  check(isCount(position?.epoch) && isCount(position.stepInEpoch) && isCount(position.globalStep), 'the position needs whole epoch, stepInEpoch and globalStep');
  return { epoch: position.epoch, stepInEpoch: position.stepInEpoch, globalStep: position.globalStep };
}

/** Where the host finds WebGPU and tfjs (the page passes navigator.gpu and its bundled tfjs). */
export interface GpuHostEnvironment {
  tf: TfCore;
  gpu(): GPU | undefined;
}

/**
 * Serves the compute host's protocol on `port` until the port closes. Requests run in arrival
 * order; a step's GPU work is queued at once and its losses are answered when read back, so the
 * trainer can have the next step queued meanwhile (a later request's GPU work still comes after
 * it). Every failure is answered as data.
 */
export function serveGpuHost(port: GpuPort, env: GpuHostEnvironment): void {
  const { tf } = env;
  let seq = 0;
  let watched: WatchedDevice | undefined;
  let trainer: JigCluTraining | undefined;

  const send = (message: FromGpuHost extends infer M ? (M extends unknown ? Omit<M, 'seq'> : never) : never): void => {
    seq += 1;
    port.postMessage({ ...message, seq });
  };

  const open = async (platform: string): Promise<GpuResults['open']> => {
    if (watched && !watched.lost) return { adapter: watched.adapter };
    const gpu = env.gpu();
    const remedy = noAdapterRemedy(platform);
    if (!gpu) throw new WebGpuUnavailable('This Chromium offers no WebGPU (navigator.gpu is missing in the compute window).', remedy);
    watched = await openWatchedDevice(gpu, { api: defaultApi[platform] ?? 'vulkan', remedy });
    try {
      await registerTfjsWebGpu(tf, watched);
      await checkTfjsWebGpu(tf);
    } catch (error) {
      throw new WebGpuUnavailable(`WebGPU failed on its adapter: ${firstLine(error)}`, undefined, watched.adapter);
    }
    return { adapter: watched.adapter };
  };

  const model = (): JigCluTraining => {
    check(trainer !== undefined, 'no model: send create first');
    return trainer;
  };

  const healthy = (context: string): void => {
    const problem = watched ? deviceProblem(watched, context) : undefined;
    if (problem) throw Object.assign(new Error(problem), { code: 'DEVICE_LOST' as const });
  };

  /** Runs one request; its GPU work is queued before this returns to the event loop's next task. */
  const handle = async (request: GpuRequest): Promise<unknown> => {
    if (request.type === 'open') {
      check(typeof request.platform === 'string', 'open needs the platform');
      return open(request.platform);
    }
    if (request.type === 'memory') {
      const memory = tf.memory() as tfCore.MemoryInfo & { numBytesInGPU?: number };
      return { numTensors: memory.numTensors, numBytes: memory.numBytes, ...(memory.numBytesInGPU !== undefined ? { numBytesInGPU: memory.numBytesInGPU } : {}) };
    }
    if (request.type === 'dispose') {
      trainer?.dispose();
      trainer = undefined;
      return null;
    }
    check(watched !== undefined && tf.getBackend() === 'webgpu', 'the GPU is not open: send open first');
    healthy('before this request');
    switch (request.type) {
      case 'create': {
        const config = checkConfig(request.config);
        const state = request.state ? checkTensors(request.state) : undefined;
        trainer?.dispose();
        trainer = undefined;
        // tfjs's own gradients on WebGPU (the closed-form ones read tensors back synchronously).
        const created = new JigCluTraining(config, 'native');
        try {
          if (state) created.loadState(state);
        } catch (error) {
          created.dispose();
          throw new BadRequest((error as Error).message);
        }
        trainer = created;
        return { ...created.sizes(), featureDim: created.featureDim };
      }
      case 'step': {
        const batch = checkBatch(request.batch);
        const position = checkPosition(request.position);
        check(isCount(request.epochSteps, 1), 'epochSteps must be a whole number of at least 1');
        const training = model();
        training.position = position;
        const launched = training.launch(batch, request.epochSteps);
        const { computeSeconds: _ignored, ...losses } = await launched.read();
        healthy(`at step ${position.globalStep + 1} (batch ${batch.n})`);
        return losses;
      }
      case 'state':
        return model().state();
      case 'load':
        model().loadState(checkTensors(request.tensors));
        return null;
      case 'features': {
        const { images, count, size, batch } = request;
        check(isCount(count) && isCount(size, 1) && isCount(batch, 1), 'features needs whole count, size and batch');
        check(images instanceof Float32Array && images.length >= count * size * size * 3, `the images must be a Float32Array of at least count x size x size x 3 = ${count * size * size * 3} values`);
        const features = await model().features(images, count, size, batch);
        healthy('computing features');
        return features;
      }
      case 'inspect': {
        const batch = checkBatch(request.batch);
        check(isCount(request.k, 1) && request.k < batch.n * batch.grid * batch.grid, 'k must be a whole number below the batch\'s patch count');
        return model().inspectOutputs(batch, request.k);
      }
    }
  };

  const failure = (error: unknown): GpuError => {
    if (error instanceof BadRequest) return { code: 'BAD_REQUEST', message: `Bad request to the compute window: ${error.message}.` };
    if (error instanceof WebGpuUnavailable) {
      return { code: 'GPU_UNAVAILABLE', message: error.message, ...(error.remedy ? { remedy: error.remedy } : {}), ...(error.adapter ? { adapter: error.adapter } : {}) };
    }
    const code = (error as { code?: unknown })?.code === 'DEVICE_LOST' ? 'DEVICE_LOST' : 'FAILED';
    return { code, message: String((error as Error)?.message ?? error) };
  };

  // Requests start in arrival order. A step does not hold the queue up: its GPU work is queued
  // synchronously when it starts, so whatever comes next is computed after it.
  let queue: Promise<unknown> = Promise.resolve();
  port.onMessage((message) => {
    if (!isToGpuHost(message)) {
      const re = Number.isInteger((message as { seq?: unknown })?.seq) ? (message as { seq: number }).seq : 0;
      send({ type: 'failed', re, error: { code: 'BAD_REQUEST', message: 'Bad request to the compute window: not a message of its protocol.' } });
      return;
    }
    const request = message as ToGpuHost;
    queue = queue.then(() => {
      const outcome = handle(request).then(
        (result) => send({ type: 'result', re: request.seq, result }),
        (error: unknown) => send({ type: 'failed', re: request.seq, error: failure(error) }),
      );
      return request.type === 'step' ? undefined : outcome;
    });
  });
}

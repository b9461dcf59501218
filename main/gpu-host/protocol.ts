import type { GpuAdapterReport } from '../common/engine';
import type { PretrainConfig } from '../common/pretrain-config';
import type { StepLosses } from '../engine/jigclu/jigclu-model';
import type { InspectOutputs, TrainingBatch, TrainingPosition } from '../engine/jigclu/jigclu-training';
import type { NamedTensor } from '../engine/weights/safetensors';

/**
 * Messages between the trainer process and the WebGPU compute host (a hidden window of the
 * desktop app whose page runs tfjs on Chromium's WebGPU; host.ts). The trainer keeps the data,
 * the schedule and the files; the host holds the model and computes. Every message carries a
 * sequence number (`seq`, increasing per sender); an answer names the request it answers
 * (`re`); errors travel as data. Typed arrays travel as structured clones.
 */

/** What the trainer asks the compute host. */
export type GpuRequest =
  /** Opens the GPU (the adapter, a device with raised limits, tfjs's webgpu backend) and runs a test op. */
  | { type: 'open'; platform: string }
  /** A new model and optimizer for `config` (replacing any), with a checkpoint's tensors if given. */
  | { type: 'create'; config: PretrainConfig; state?: NamedTensor[] }
  /** One training step at `position` (the schedule's learning rate follows from it). */
  | { type: 'step'; batch: TrainingBatch; position: TrainingPosition; epochSteps: number }
  /** Every tensor of the training state (weights, BatchNorm statistics, momentum), for a checkpoint. */
  | { type: 'state' }
  /** Sets the training state (a checkpoint's tensors). */
  | { type: 'load'; tensors: NamedTensor[] }
  /** Backbone features of whole images (kNN monitor, embeddings). */
  | { type: 'features'; images: Float32Array; count: number; size: number; batch: number }
  /** The montage inspector's outputs on one batch. */
  | { type: 'inspect'; batch: TrainingBatch; k: number }
  /** tfjs's tensor and byte counts (memory stays flat over steps). */
  | { type: 'memory' }
  /** Frees the model and optimizer. */
  | { type: 'dispose' };

export type GpuRequestType = GpuRequest['type'];

/** The answer to each request. */
export interface GpuResults {
  open: { adapter: GpuAdapterReport };
  create: { trainableTensors: number; backboneWeights: number; featureDim: number };
  step: StepLosses & { lr: number };
  state: NamedTensor[];
  load: null;
  features: Float32Array;
  inspect: InspectOutputs;
  memory: { numTensors: number; numBytes: number; numBytesInGPU?: number };
  dispose: null;
}

/** Why a request failed: the host has no GPU, the device was lost, the request was malformed, or the computation failed. */
export type GpuErrorCode = 'GPU_UNAVAILABLE' | 'DEVICE_LOST' | 'BAD_REQUEST' | 'FAILED';

export interface GpuError {
  code: GpuErrorCode;
  message: string;
  /** What to do about it, when known. */
  remedy?: string;
  /** The adapter, when one was found (e.g. it refused a device). */
  adapter?: GpuAdapterReport;
}

export type ToGpuHost = { seq: number } & GpuRequest;

export type FromGpuHost = { seq: number } & ({ type: 'result'; re: number; result: unknown } | { type: 'failed'; re: number; error: GpuError });

const requestTypes: readonly GpuRequestType[] = ['open', 'create', 'step', 'state', 'load', 'features', 'inspect', 'memory', 'dispose'];

/** Type guard for requests arriving at the host (their fields are checked by the host's handlers). */
export function isToGpuHost(message: unknown): message is ToGpuHost {
  const m = message as { seq?: unknown; type?: unknown };
  return typeof m === 'object' && m !== null && Number.isInteger(m.seq) && requestTypes.includes(m.type as GpuRequestType);
}

/** Type guard for answers arriving at the trainer. */
export function isFromGpuHost(message: unknown): message is FromGpuHost {
  const m = message as { seq?: unknown; type?: unknown; re?: unknown; error?: unknown };
  if (typeof m !== 'object' || m === null || !Number.isInteger(m.seq) || !Number.isInteger(m.re)) return false;
  if (m.type === 'result') return 'result' in m;
  return m.type === 'failed' && typeof (m.error as GpuError | undefined)?.message === 'string';
}

/** One end of a message channel (a DOM MessagePort, Electron's MessagePortMain, a test bridge). */
export interface GpuPort {
  postMessage(message: unknown): void;
  onMessage(listener: (message: unknown) => void): void;
  /** Called once when the other end went away (its window or process ended); optional. */
  onClose?(listener: () => void): void;
  close(): void;
}

/** The message the compute window's page waits for (window.postMessage, with the port transferred). */
export const gpuHostPortMessage = 'jigclu-gpu-host-port';

/** What a utility process (trainer, probe) sends the desktop app's main process to get a compute window. */
export const gpuHostOpenRequest = 'jigclu-gpu-host-open';
/** The main process's answer: `{ type: gpuHostPortReply }` with the window's port transferred, or with `error`. */
export const gpuHostPortReply = 'jigclu-gpu-host-port';
/** The IPC channel on which the main process hands the compute window's preload its port. */
export const gpuHostPortChannel = 'jigclu-gpu-host-port';

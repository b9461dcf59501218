import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '../../../main/engine/backend/tfjs';
import '@tensorflow/tfjs-backend-cpu';
import { resolvePretrainConfig } from '../../../main/common/pretrain-config';
import { conv2d, type ConvGradMode } from '../../../main/engine/nn/conv';
import { locationLoss, supCluLoss } from '../../../main/engine/jigclu/losses';
import { maxPool } from '../../../main/engine/nn/ops';
import { decouple } from '../../../main/engine/jigclu/decouple';
import { batchNormTraining, globalAveragePool } from '../../../main/engine/nn/resnet';
import { JigCluTrainer } from '../../../main/engine/jigclu/trainer';
import { decodeSafetensors } from '../../../main/engine/weights/safetensors';
import { Sgd } from '../../../main/engine/nn/sgd';
import type { EngineReport } from '../../../main/common/engine';
import { wasmDirectory } from '../../../main/engine/backend/backend';
import { listCheckpoints, runPretraining } from '../../../main/engine/jigclu/run-pretraining';
import { probeWebGpu, releaseWebGpu, simulateDeviceLoss } from '../../../main/engine/backend/webgpu';
import { seeded } from '../../helpers/engine';
import { relativeError, tinyJigsawBatch, tinyStepConfig, webGpuUnavailableReason } from '../../helpers/webgpu';

/**
 * The webgpu engine against tfjs's cpu backend on Chromium's SwiftShader adapter (no GPU here):
 * every layer type of a JigClu step forward and backward, one whole step with SGD, and memory
 * over 50 steps. SwiftShader runs shaders on the CPU and is slow: shapes are tiny.
 */
const unavailable = webGpuUnavailableReason();
if (unavailable) console.warn(`Skipping the WebGPU exactness tests: ${unavailable}`);
const tolerance = 1e-4;
const tinyDir = path.resolve('../shared/datasets/tiny');

function random(shape: number[], seed: number, scale = 1): Float32Array {
  const next = seeded(seed);
  return Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (next() * 2 - 1) * scale);
}

/**
 * A layer's output and the gradients of sum(output * r) with respect to every input, computed on
 * `backend` from the same arrays; read back asynchronously (WebGPU in Node has no sync reads).
 */
async function forwardBackward(
  backend: string,
  inputs: { shape: number[]; data: Float32Array }[],
  layer: (...xs: tf.Tensor[]) => tf.Tensor,
): Promise<Float32Array[]> {
  expect(await tf.setBackend(backend)).toBe(true);
  const outputs = tf.tidy(() => {
    const xs = inputs.map((input) => tf.tensor(input.data, input.shape));
    const y = layer(...xs);
    const r = tf.tensor(random(y.shape, 99), y.shape);
    const grads = tf.grads((...args: tf.Tensor[]) => tf.sum(tf.mul(layer(...args), r)))(xs);
    return [y, ...grads];
  });
  const values = await Promise.all(outputs.map(async (t) => (await t.data()) as Float32Array));
  for (const t of outputs) t.dispose();
  return values;
}

describe.skipIf(unavailable !== undefined)('webgpu engine on SwiftShader', () => {
  beforeAll(async () => {
    const candidate = await probeWebGpu(tf);
    if (!candidate.available) throw new Error(`webgpu did not probe: ${candidate.reason}`);
  }, 60_000);
  afterAll(async () => {
    await tf.setBackend('cpu');
    releaseWebGpu(tf);
  });

  it('reports the adapter: vendor, architecture, description, API and limits; software, so only when asked for', async () => {
    await tf.setBackend('cpu');
    const candidate = await probeWebGpu(tf);
    expect(candidate.available).toBe(true);
    expect(candidate.onlyWhenAsked).toBe(true);
    expect(candidate.adapter).toMatchObject({ vendor: 'google', architecture: 'swiftshader', api: 'Vulkan', software: true });
    expect(candidate.adapter!.description).toMatch(/SwiftShader/);
    expect(candidate.adapter!.limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 * 2 ** 20);
    expect(candidate.reason).toMatch(/software adapter.*only when asked for/i);
  }, 60_000);

  it('says inside Electron, without the compute window of the app to reach, where WebGPU runs', async () => {
    const candidate = await probeWebGpu(tf, { electron: '45.4.0' });
    expect(candidate.available).toBe(false);
    expect(candidate.reason).toMatch(/Inside the desktop app \(Electron 45\.4\.0\) WebGPU runs in the app's compute window, which this process cannot reach/);
    expect(candidate.remedy).toContain('--engine webgpu');
  });

  const cases: [string, { shape: number[]; data: Float32Array }[], (...xs: tf.Tensor[]) => tf.Tensor][] = [
    ['conv 3x3 stride 1', [{ shape: [2, 6, 6, 4], data: random([2, 6, 6, 4], 1) }, { shape: [3, 3, 4, 8], data: random([3, 3, 4, 8], 2, 0.3) }], (x, w) => conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 1, 'native')],
    ['conv 7x7 stride 2 (stem)', [{ shape: [2, 16, 16, 3], data: random([2, 16, 16, 3], 3) }, { shape: [7, 7, 3, 4], data: random([7, 7, 3, 4], 4, 0.2) }], (x, w) => conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 2, 3, 'native')],
    ['conv 3x3 stride 2', [{ shape: [2, 8, 8, 4], data: random([2, 8, 8, 4], 5) }, { shape: [3, 3, 4, 8], data: random([3, 3, 4, 8], 6, 0.3) }], (x, w) => conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 2, 1, 'native')],
    ['conv 1x1 stride 2 (downsample)', [{ shape: [2, 8, 8, 4], data: random([2, 8, 8, 4], 7) }, { shape: [1, 1, 4, 8], data: random([1, 1, 4, 8], 8, 0.5) }], (x, w) => conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 2, 0, 'native')],
    ['BatchNorm (training, closed-form gradient)', [{ shape: [2, 4, 4, 8], data: random([2, 4, 4, 8], 9, 3) }, { shape: [8], data: random([8], 10) }, { shape: [8], data: random([8], 11) }], (x, g, b) => batchNormTraining(x as tf.Tensor4D, g as tf.Tensor1D, b as tf.Tensor1D).y],
    ['BatchNorm (inference)', [{ shape: [2, 4, 4, 8], data: random([2, 4, 4, 8], 12, 3) }, { shape: [8], data: random([8], 13) }], (x, g) => tf.batchNorm4d(x as tf.Tensor4D, tf.zeros([8]) as tf.Tensor1D, tf.ones([8]) as tf.Tensor1D, tf.zeros([8]) as tf.Tensor1D, g as tf.Tensor1D, 1e-5)],
    ['ReLU', [{ shape: [2, 4, 4, 8], data: random([2, 4, 4, 8], 14) }], (x) => tf.relu(x)],
    ['max pool 3x3 stride 2', [{ shape: [2, 8, 8, 4], data: random([2, 8, 8, 4], 15) }], (x) => maxPool(x as tf.Tensor4D, 3, 2, 1, 'native')],
    ['residual add', [{ shape: [2, 4, 4, 8], data: random([2, 4, 4, 8], 16) }, { shape: [2, 4, 4, 8], data: random([2, 4, 4, 8], 17) }], (a, b) => tf.relu(tf.add(a, b))],
    ['decoupling: bilinear to 8x8, average-pooled to 2x2 (batched matMul)', [{ shape: [2, 3, 3, 8], data: random([2, 3, 3, 8], 18) }], (x) => decouple(x as tf.Tensor4D, 2, 'interpolate')],
    ['decoupling: adaptive pooling to 3x3 (older runs)', [{ shape: [2, 4, 4, 8], data: random([2, 4, 4, 8], 19) }], (x) => decouple(x as tf.Tensor4D, 3, 'pool')],
    ['global average pool', [{ shape: [2, 4, 4, 8], data: random([2, 4, 4, 8], 20) }], (x) => globalAveragePool(x as tf.Tensor4D)],
    ['linear + L2 norm (cluster head)', [{ shape: [8, 16], data: random([8, 16], 21) }, { shape: [16, 8], data: random([16, 8], 22, 0.3) }, { shape: [8], data: random([8], 23) }], (x, w, b) => {
      const z = tf.add(tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D), b);
      return tf.div(z, tf.maximum(tf.norm(z, 2, 1, true), 1e-12));
    }],
    ['SupClu loss', [{ shape: [8, 6], data: random([8, 6], 24) }], (z) => supCluLoss(tf.div(z, tf.norm(z, 2, 1, true)) as tf.Tensor2D, tf.tensor1d([0, 0, 0, 0, 1, 1, 1, 1], 'int32'), 0.07)],
    ['location loss (cross entropy)', [{ shape: [8, 4], data: random([8, 4], 25, 2) }], (logits) => locationLoss(logits as tf.Tensor2D, tf.tensor1d([0, 1, 2, 3, 0, 1, 2, 3], 'int32'))],
  ];

  it.each(cases)('%s: forward and backward match the cpu backend to 1e-4', async (_, inputs, layer) => {
    const expected = await forwardBackward('cpu', inputs, layer);
    const actual = await forwardBackward('webgpu', inputs, layer);
    expect(actual).toHaveLength(expected.length);
    actual.forEach((values, i) => expect(relativeError(values, expected[i]!), i === 0 ? 'output' : `gradient ${i}`).toBeLessThan(tolerance));
  }, 60_000);

  it('updates SGD with two kernels per parameter, as the cpu backend does with six ops', async () => {
    const shapes = [[3, 3, 4, 8], [8]];
    const results: Float32Array[][] = [];
    let kernels = 0;
    for (const backend of ['cpu', 'webgpu']) {
      expect(await tf.setBackend(backend)).toBe(true);
      const params: [string, tf.Variable][] = shapes.map((shape, i) => [`p${i}`, tf.variable(tf.tensor(random(shape, 40 + i), shape))]);
      const optimizer = new Sgd(0.9, 1e-4);
      for (let step = 0; step < 3; step += 1) {
        const grads = Object.fromEntries(shapes.map((shape, i) => [`p${i}`, tf.tensor(random(shape, 50 + 10 * step + i), shape)]));
        if (backend === 'webgpu' && step === 2) {
          // Every WebGPU dispatch goes through runWebGPUProgram: count them over one update.
          const gpu = tf.backend() as unknown as { runWebGPUProgram: (...args: unknown[]) => unknown };
          const original = gpu.runWebGPUProgram;
          gpu.runWebGPUProgram = function (this: unknown, ...args: unknown[]) {
            kernels += 1;
            return original.apply(this, args);
          };
          try {
            optimizer.step(params, grads, 0.1);
          } finally {
            gpu.runWebGPUProgram = original;
          }
        } else optimizer.step(params, grads, 0.1);
        tf.dispose(Object.values(grads));
      }
      results.push(await Promise.all([...params.map(([, v]) => v), ...optimizer.buffers.values()].map(async (t) => (await t.data()) as Float32Array)));
      for (const [, v] of params) v.dispose();
      optimizer.dispose();
    }
    results[1]!.forEach((values, i) => expect(relativeError(values, results[0]![i]!)).toBeLessThan(tolerance));
    expect(kernels).toBe(2 * shapes.length);
  }, 60_000);

  const config = tinyStepConfig;
  const batchOf = tinyJigsawBatch;

  /** A trainer on `backend` holding the weights of `initial` (the cpu trainer's, read back). */
  async function trainerOn(backend: string, initial: Map<string, { shape: number[]; data: Float32Array }>, convGrad: ConvGradMode): Promise<JigCluTrainer> {
    expect(await tf.setBackend(backend)).toBe(true);
    const trainer = new JigCluTrainer(config, convGrad);
    tf.tidy(() => {
      for (const [name, variable] of trainer.model.allParameters()) variable.assign(tf.tensor(initial.get(name)!.data, initial.get(name)!.shape));
    });
    return trainer;
  }

  async function stateOf(trainer: JigCluTrainer): Promise<Map<string, Float32Array>> {
    const file = decodeSafetensors(await trainer.serialize());
    return new Map([...file.tensors].map(([name, t]) => [name, t.data as Float32Array]));
  }

  it('one whole cpu-small JigClu step (losses, gradients, weights after SGD, BatchNorm statistics) matches the cpu engine to 1e-4; tensors flat over the next steps', async () => {
    await tf.setBackend('cpu');
    const start = new JigCluTrainer(config, 'fast');
    const initial = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const [name, variable] of start.model.allParameters()) initial.set(name, { shape: variable.shape, data: (await variable.data()) as Float32Array });
    start.dispose();
    // The cpu engine as it trains (our closed-form conv and pool gradients) against webgpu's kernels.
    const cpuTrainer = await trainerOn('cpu', initial, 'fast');
    const cpuResult = await cpuTrainer.step(batchOf(5), 10);
    const cpu = await stateOf(cpuTrainer);
    cpuTrainer.dispose();
    const gpuTrainer = await trainerOn('webgpu', initial, 'native');
    try {
      const gpuResult = await gpuTrainer.step(batchOf(5), 10);
      const gpu = await stateOf(gpuTrainer);
      const losses = (r: typeof cpuResult) => [r.total, r.cluster, r.location];
      expect(relativeError(losses(gpuResult), losses(cpuResult))).toBeLessThan(tolerance);
      expect([...gpu.keys()]).toEqual([...cpu.keys()]);
      let checked = 0;
      for (const [name, expected] of cpu) {
        const actual = gpu.get(name)!;
        // After one step the momentum buffer is the gradient (plus weight decay); the weights and
        // BatchNorm statistics are after the SGD step (their change alone is too small for float32
        // to carry 1e-4 of it: the gradients check that).
        expect(relativeError(actual, expected), name.startsWith('optimizer.momentum.') ? `gradient ${name}` : `${name} after the step`).toBeLessThan(tolerance);
        checked += 1;
      }
      expect(checked).toBeGreaterThan(100);
      // Two more steps: no tensor is left behind.
      const tensors = tf.memory().numTensors;
      await gpuTrainer.step(batchOf(6), 10);
      await gpuTrainer.step(batchOf(7), 10);
      expect(tf.memory().numTensors).toBe(tensors);
    } finally {
      gpuTrainer.dispose();
    }
  }, 180_000);

  it('continues a run started on webgpu on wasm and back: checkpoints are engine-independent', async () => {
    // The smallest config a checkpoint accepts (32 px patches); 2 montages a batch.
    const small = { ...resolvePretrainConfig('cpu-small'), width: 0.0625, batch: 2, epochs: 3, seed: 8 };
    const batches = [11, 12, 13].map((seed) => ({ ...batchOf(seed), n: 2, crop: 32, size: 64, montages: random([2, 64, 64, 3], seed), clusterLabels: Int32Array.from([0, 0, 0, 0, 1, 1, 1, 1]), locationLabels: Int32Array.from([2, 0, 3, 1, 1, 3, 0, 2]) }));
    await tf.setBackend('cpu');
    const reference = new JigCluTrainer(small, 'fast');
    const start = await reference.serialize();
    for (const batch of batches) await reference.step(batch, 1);
    const expected = decodeSafetensors(await reference.serialize());
    reference.dispose();
    // One step on each engine, through a checkpoint between them.
    let checkpoint = start;
    for (const [index, backend] of (['webgpu', 'wasm', 'webgpu'] as const).entries()) {
      if (backend === 'wasm') {
        await import('@tensorflow/tfjs-backend-wasm').then((wasm) => wasm.setWasmPaths(wasmDirectory()));
      }
      expect(await tf.setBackend(backend)).toBe(true);
      const trainer = JigCluTrainer.deserialize(checkpoint, { convGrad: backend === 'webgpu' ? 'native' : 'fast' });
      expect(trainer.position.globalStep).toBe(index);
      await trainer.step(batches[index]!, 1);
      checkpoint = await trainer.serialize();
      trainer.dispose();
    }
    const resumed = decodeSafetensors(checkpoint);
    expect(JSON.parse(resumed.metadata.position!)).toEqual(JSON.parse(expected.metadata.position!));
    // Three steps on three engines (rounding differs per engine and compounds through momentum):
    // 1e-3. A weight, BatchNorm statistic or momentum buffer lost in a checkpoint would be off by
    // its whole size.
    for (const [name, tensor] of expected.tensors) {
      expect(relativeError(resumed.tensors.get(name)!.data as Float32Array, tensor.data as Float32Array), name).toBeLessThan(1e-3);
    }
  }, 120_000);

  it('keeps the tensor count and tf.memory() flat over 50 steps of a conv/BatchNorm/pool/head network with SGD', async () => {
    // The JigClu step takes seconds on SwiftShader; this network has one of each of its layer
    // kinds, its losses and its optimizer, and runs 50 steps in a few seconds.
    expect(await tf.setBackend('webgpu')).toBe(true);
    const params: [string, tf.Variable][] = [
      ['conv', tf.variable(tf.tensor4d(random([3, 3, 3, 8], 30, 0.3), [3, 3, 3, 8]))],
      ['gamma', tf.variable(tf.ones([8]))],
      ['beta', tf.variable(tf.zeros([8]))],
      ['head', tf.variable(tf.tensor2d(random([8, 4], 31, 0.3), [8, 4]))],
    ];
    const optimizer = new Sgd(0.9, 1e-4);
    const x = tf.tensor4d(random([4, 8, 8, 3], 32), [4, 8, 8, 3]);
    const labels = tf.tensor1d([0, 0, 1, 1], 'int32');
    const locations = tf.tensor1d([0, 1, 2, 3], 'int32');
    try {
      const samples: { tensors: number; bytes: number; gpuBytes: number }[] = [];
      for (let step = 0; step < 50; step += 1) {
        const loss = tf.tidy(() => {
          const { value, grads } = tf.variableGrads(() => {
            const normalized = batchNormTraining(conv2d(x, params[0]![1] as tf.Tensor4D, 1, 1, 'native'), params[1]![1] as tf.Tensor1D, params[2]![1] as tf.Tensor1D);
            // The batch statistics are kept for the running averages; not used here.
            tf.dispose([normalized.mean, normalized.variance]);
            const y = maxPool(tf.relu(normalized.y), 3, 2, 1, 'native');
            const logits = tf.matMul(globalAveragePool(y), params[3]![1] as tf.Tensor2D);
            return tf.add(supCluLoss(tf.div(logits, tf.norm(logits, 2, 1, true)) as tf.Tensor2D, labels, 0.07), locationLoss(logits as tf.Tensor2D, locations)) as tf.Scalar;
          }, params.map(([, v]) => v));
          const byName: Record<string, tf.Tensor> = {};
          for (const [name, variable] of params) byName[name] = grads[variable.name]!;
          optimizer.step(params, byName, 0.01);
          return value;
        });
        expect(Number.isFinite((await loss.data())[0])).toBe(true);
        loss.dispose();
        const memory = tf.memory() as tf.MemoryInfo & { numBytesAllocatedInGPU?: number };
        samples.push({ tensors: memory.numTensors, bytes: memory.numBytes, gpuBytes: memory.numBytesAllocatedInGPU ?? 0 });
      }
      // After the first steps (momentum buffers made, buffer pools filled), nothing grows.
      const settled = samples[2]!;
      for (const sample of samples.slice(3)) {
        expect(sample.tensors).toBe(settled.tensors);
        expect(sample.bytes).toBe(settled.bytes);
        expect(sample.gpuBytes).toBeLessThanOrEqual(settled.gpuBytes);
      }
      expect(settled.gpuBytes).toBeGreaterThan(0);
    } finally {
      for (const [, v] of params) v.dispose();
      optimizer.dispose();
      tf.dispose([x, labels, locations]);
    }
  }, 120_000);

  describe('a run on webgpu', () => {
    const files = fs.readdirSync(tinyDir, { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.png') || file.endsWith('.jpg')).map((file) => path.join(tinyDir, file));
    let runDir: string;
    beforeAll(() => {
      runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-webgpu-run-'));
    });
    afterAll(() => {
      simulateDeviceLoss(undefined);
      fs.rmSync(runDir, { recursive: true, force: true });
    });
    // The checks are the engine's; the arithmetic runs on the cpu backend to keep the test fast.
    const report = async (): Promise<EngineReport> => ({ chosen: 'webgpu', requested: 'webgpu', candidates: [await probeWebGpu(tf)], probeMs: 0 });

    it('refuses a batch whose largest buffer exceeds the adapter limit, naming the batch size and the limit', async () => {
      const engine = await report();
      await tf.setBackend('cpu');
      const config = { ...resolvePretrainConfig('paper'), batch: 512 };
      await expect(runPretraining({ config, files, runDir, engine })).rejects.toThrow(/A batch of 512 needs a \d+ MiB feature map, over the GPU adapter's limit of 1024 MiB per buffer: use a batch of at most 334\./);
    });

    it('ends the run with a clear error when the device is lost, keeping the last checkpoint', async () => {
      const engine = await report();
      await tf.setBackend('cpu');
      const config = { ...resolvePretrainConfig('cpu-small'), width: 0.0625, batch: 4, epochs: 1, checkpointEvery: 2 };
      const run = runPretraining({ config, files, runDir, engine }, { checkpoint: () => simulateDeviceLoss('test: the driver was reset') });
      await expect(run).rejects.toThrow(/The GPU device was lost at step 3 \(batch 4\) \(test: the driver was reset\)\. The last checkpoint is kept/);
      expect(listCheckpoints(runDir).map((file) => path.basename(file))).toEqual(['step-00000002.safetensors']);
    }, 60_000);
  });
});


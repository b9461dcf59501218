import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '../../main/engine/backend/tfjs';
import '@tensorflow/tfjs-backend-cpu';
import type { EngineReport } from '../../main/common/engine';
import { GpuHostClient, GpuHostError } from '../../main/gpu-host/client';
import { RemoteTrainer, remoteTrainers } from '../../main/engine/jigclu/remote-trainer';
import { checkpointMetadata, JigCluTrainer } from '../../main/engine/jigclu/trainer';
import { listCheckpoints, runPretraining } from '../../main/engine/jigclu/run-pretraining';
import { measureStepSeconds } from '../../main/engine/jigclu/monitor';
import { probeRemoteWebGpu } from '../../main/engine/backend/webgpu';
import { embedFiles, type EmbedChunk } from '../../main/engine/compute/compute-jobs';
import { decodeSafetensors, encodeSafetensors, type NamedTensor } from '../../main/engine/weights/safetensors';
import { gpuHostPageUnavailable, openGpuHostPage } from '../helpers/gpu-host-page';
import { relativeError, seededValues, tinyJigsawBatch, tinyStepConfig } from '../helpers/webgpu';

/**
 * The desktop app's WebGPU compute host (the page of its hidden window, out/gpu-host, built by
 * `npm run build`) in Debian's Chromium with the switches the app sets, on SwiftShader (no GPU
 * here). The trainer side talks to it over a message port exactly as in the app; only the port
 * crosses through Playwright instead of Electron. Shapes are tiny: SwiftShader computes on the CPU.
 */
const unavailable = gpuHostPageUnavailable();
if (unavailable) console.warn(`Skipping the WebGPU compute-host tests: ${unavailable}`);
const tolerance = 1e-4;

const random = seededValues;
const config = tinyStepConfig;
const batchOf = tinyJigsawBatch;

/** The images of the tiny dataset, in a fixed order. */
function tinyFiles(): string[] {
  const tinyDir = path.resolve('../shared/datasets/tiny');
  return fs.readdirSync(tinyDir, { recursive: true, encoding: 'utf8' }).filter((file) => /\.(png|jpe?g)$/.test(file)).sort().map((file) => path.join(tinyDir, file));
}

function bytesOf(tensor: NamedTensor): Buffer {
  return Buffer.from(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
}

describe.skipIf(unavailable !== undefined)('the WebGPU compute host (the desktop app\'s hidden window) in Chromium', () => {
  let page: Awaited<ReturnType<typeof openGpuHostPage>>;
  let client: GpuHostClient;

  beforeAll(async () => {
    await tf.setBackend('cpu');
    page = await openGpuHostPage();
    client = new GpuHostClient(page.port);
    // Each test needs the GPU open (as the probe leaves it in the app); opening again is a no-op.
    await client.request({ type: 'open', platform: process.platform });
  }, 60_000);
  afterAll(async () => {
    client?.close();
    await page?.close();
  });

  it('probes Chromium\'s adapter through the host: vendor, architecture, limits; a software one, so only when asked for', async () => {
    const candidate = await probeRemoteWebGpu(async () => client, '45.4.1');
    expect(candidate.available, candidate.reason).toBe(true);
    expect(candidate.onlyWhenAsked).toBe(true);
    expect(candidate.adapter).toMatchObject({ vendor: 'google', architecture: 'swiftshader', api: process.platform === 'linux' ? 'Vulkan' : expect.any(String), software: true });
    expect(candidate.adapter!.limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 * 2 ** 20);
    expect(candidate.reason).toMatch(/^Only a software adapter in the desktop app's compute window \(Chromium's WebGPU, Electron 45\.4\.1\): .*only when asked for/);
  }, 60_000);

  it('runs a RemoteTrainer step like the cpu engine to 1e-4 (losses, weights, momentum, BatchNorm statistics); weights round-trip bit for bit; no tensor left behind', async () => {
    const local = new JigCluTrainer(config, 'fast');
    const initial = await local.state();
    const remote = await RemoteTrainer.create(client, config, { tensors: new Map(initial.map((t) => [t.name, t])), position: { epoch: 0, stepInEpoch: 0, globalStep: 0 } });
    try {
      expect(remote.sizes()).toEqual(local.sizes());
      expect(remote.featureDim).toBe(local.featureDim);
      // The weights the host holds are the ones sent, byte for byte, and so is its checkpoint.
      const held = decodeSafetensors(await remote.serialize());
      expect([...held.tensors.keys()]).toEqual(initial.map((t) => t.name));
      for (const tensor of initial) expect(bytesOf(held.tensors.get(tensor.name)!).equals(bytesOf(tensor)), tensor.name).toBe(true);

      const expected = await local.step(batchOf(5), 10);
      const actual = await remote.launch(batchOf(5), 10).read();
      expect(relativeError([actual.total, actual.cluster, actual.location], [expected.total, expected.cluster, expected.location])).toBeLessThan(tolerance);
      expect(actual.lr).toBe(expected.lr);
      expect(remote.position).toEqual(local.position);
      const after = decodeSafetensors(await remote.serialize());
      const localAfter = await local.state();
      expect([...after.tensors.keys()]).toEqual(localAfter.map((t) => t.name));
      for (const tensor of localAfter) {
        // After one step the momentum buffer is the gradient (plus weight decay).
        expect(relativeError(after.tensors.get(tensor.name)!.data, tensor.data), tensor.name).toBeLessThan(tolerance);
      }
      expect(JSON.parse(after.metadata.position!)).toEqual(local.position);

      // Two steps in flight at once (as pretraining queues them), then nothing grows.
      const tensors = (await client.request({ type: 'memory' })).numTensors;
      const first = remote.launch(batchOf(6), 10);
      const second = remote.launch(batchOf(7), 10);
      const [a, b] = await Promise.all([first.read(), second.read()]);
      expect(Number.isFinite(a.total) && Number.isFinite(b.total)).toBe(true);
      expect((await client.request({ type: 'memory' })).numTensors).toBe(tensors);
    } finally {
      local.dispose();
      await remote.dispose();
    }
  }, 240_000);

  it('computes the kNN monitor\'s features, the inspector\'s outputs and an embedding job like the cpu engine', async () => {
    const local = new JigCluTrainer(config, 'fast');
    const initial = await local.state();
    const remote = await RemoteTrainer.create(client, config, { tensors: new Map(initial.map((t) => [t.name, t])), position: local.position });
    try {
      // As the kNN monitor asks for them in the run below (8 images a pass): the shapes, and so the shaders, are the same.
      const images = random(8 * 32 * 32 * 3, 21, 2);
      const features = await remote.features(images, 8, 32, 64);
      expect(features).toHaveLength(8 * local.featureDim);
      expect(relativeError(features, await local.features(images, 8, 32, 64))).toBeLessThan(tolerance);
      const inspected = await remote.inspectOutputs(batchOf(8), 3);
      const reference = await local.inspectOutputs(batchOf(8), 3);
      expect(relativeError(inspected.values, reference.values)).toBeLessThan(tolerance);
      expect([inspected.location, inspected.cluster]).toEqual([reference.location, reference.cluster]);
      expect(inspected.predicted).toHaveLength(reference.predicted.length);

      // The app's embedding job with a checkpoint, on the compute window and here (8 images of 32 px: the shapes above).
      // The window holds one model at a time (one job per trainer process): the job's replaces this one.
      await remote.dispose();
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-gpu-host-embed-'));
      try {
        const checkpoint = path.join(dir, 'step.safetensors');
        // A checkpoint must hold a config a run can have (crops of 32 px or more); the backbone is the same at any crop.
        fs.writeFileSync(checkpoint, encodeSafetensors(await local.state(), checkpointMetadata({ ...config, crop: 32 }, local.position)));
        const job = { kind: 'embed' as const, checkpoint, config, files: tinyFiles().slice(0, 8), size: 32, batch: 64 };
        const embed = async (onWindow: boolean): Promise<{ dim: number; chunks: EmbedChunk[] }> => {
          const chunks: EmbedChunk[] = [];
          const { dim } = await embedFiles(job, { progress: () => undefined, chunk: (chunk) => chunks.push(chunk) }, onWindow ? client : undefined);
          return { dim, chunks };
        };
        const before = (await client.request({ type: 'memory' })).numTensors;
        const [here, there] = [await embed(false), await embed(true)];
        // The job's model was freed in the window.
        expect((await client.request({ type: 'memory' })).numTensors).toBe(before);
        expect(there.dim).toBe(here.dim);
        expect(there.chunks.map((c) => c.indices)).toEqual([[0, 1, 2, 3, 4, 5, 6, 7]]);
        expect(relativeError(there.chunks[0]!.vectors, here.chunks[0]!.vectors)).toBeLessThan(tolerance);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    } finally {
      local.dispose();
      await remote.dispose();
    }
  }, 240_000);

  it('answers a malformed request with an error as data and keeps serving', async () => {
    await expect(client.request({ type: 'features', images: new Float32Array(32 * 32 * 3), count: 1, size: 32, batch: 1 })).rejects.toThrow(/no model: send create first/);
    const bad = client.request({ type: 'create', config: { ...config, width: 'wide' as unknown as number } });
    await expect(bad).rejects.toBeInstanceOf(GpuHostError);
    await expect(bad).rejects.toMatchObject({ code: 'BAD_REQUEST', message: expect.stringMatching(/config's width must be a number/) });
    const remote = await RemoteTrainer.create(client, config);
    try {
      await expect(client.request({ type: 'step', batch: { ...batchOf(1), montages: new Float32Array(7) }, position: remote.position, epochSteps: 1 })).rejects.toThrow(/montages must be a Float32Array of n x size x size x 3 = 12288 values/);
      expect(Number.isFinite((await remote.launch(batchOf(2), 10).read()).total)).toBe(true);
    } finally {
      await remote.dispose();
    }
  }, 60_000);

  it('trains a run with checkpoints, the kNN monitor and the montage inspector; its checkpoints are ordinary ones', async () => {
    // 12 images: 3 steps of 4 (the shapes of the tests above, so no new shader is compiled).
    const files = tinyFiles().slice(0, 12);
    const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-gpu-host-run-'));
    try {
      const adapter = (await client.request({ type: 'open', platform: process.platform })).adapter;
      const engine: EngineReport = { chosen: 'webgpu', requested: 'webgpu', candidates: [{ name: 'webgpu', available: true, adapter, reason: 'test' }], probeMs: 0 };
      const run = { ...config, epochs: 1, checkpointEvery: 2 };
      const monitor = files.slice(0, 8);
      const knn: number[] = [];
      const inspected: unknown[] = [];
      let asked = false;
      const outcome = await runPretraining(
        { config: run, files, runDir, engine, trainers: remoteTrainers(client), monitor: { files: monitor, labels: monitor.map((_, i) => i % 2), query: monitor.map((_, i) => i < 2), classes: 2 } },
        {
          knn: ({ accuracy }) => knn.push(accuracy),
          takeInspectRequest: () => (asked ? undefined : ((asked = true), { id: 1, count: 2 })),
          inspected: (_, result) => inspected.push(result),
        },
      );
      expect(outcome.status).toBe('finished');
      expect(outcome.position.globalStep).toBe(3);
      expect(Number.isFinite(outcome.lastLosses?.total)).toBe(true);
      // Before training and after its one epoch.
      expect(knn).toHaveLength(2);
      expect(inspected).toEqual([{ result: expect.objectContaining({ montages: [expect.any(Uint8ClampedArray), expect.any(Uint8ClampedArray)], weightsStep: expect.any(Number) }) }]);
      expect(listCheckpoints(runDir).map((file) => path.basename(file))).toEqual(['step-00000002.safetensors', 'step-00000003.safetensors']);
      // Every tensor of the model and its optimizer, with the config and position, as on any engine.
      const written = decodeSafetensors(fs.readFileSync(outcome.lastCheckpoint!));
      expect(written.metadata).toMatchObject({ format: 'jigclu-checkpoint-v1', position: JSON.stringify({ epoch: 1, stepInEpoch: 0, globalStep: 3 }) });
      const local = new JigCluTrainer(run, 'fast');
      await local.step(batchOf(1), 10);
      expect([...written.tensors.keys()]).toEqual((await local.state()).map((t) => t.name));
      local.dispose();
      // The run estimate's speed check, on the window too (a warm-up step and one timed step).
      const tensors = (await client.request({ type: 'memory' })).numTensors;
      const speed = await measureStepSeconds(run, 'native', 1, (c) => RemoteTrainer.create(client, c));
      expect(speed.secondsPerStep).toBeGreaterThan(0);
      expect(speed.warmupSeconds).toBeGreaterThan(0);
      expect((await client.request({ type: 'memory' })).numTensors).toBe(tensors);
    } finally {
      fs.rmSync(runDir, { recursive: true, force: true });
    }
  }, 240_000);
});

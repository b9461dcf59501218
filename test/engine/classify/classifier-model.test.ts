import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolvePretrainConfig } from '../../../main/common/pretrain-config';
import { listImageFiles } from '../../../main/data/files';
import { buildClassifierModel, loadClassifier, predictFiles, saveClassifier, type ClassifierLabels } from '../../../main/engine/classify/classifier-model';
import { classifyFiles, type ClassifyJob } from '../../../main/engine/compute/compute-jobs';
import type { LinearHead } from '../../../main/engine/classify/finetune';
import { predict } from '../../../main/engine/classify/finetune-backbone';
import { ResNet, type ResNetSpec } from '../../../main/engine/nn/resnet';
import * as tf from '../../../main/engine/backend/tfjs';
import { sharedDataset } from '../../helpers/built';
import { seeded, useCpuBackend, useWasmBackend } from '../../helpers/engine';

/**
 * The saved classifier (main/engine/classify/classifier-model.ts): its TF.js layers model computes what
 * ResNet.forward + the head compute, a classify job with saveTo writes one that reloads and
 * predicts the job's own predictions, broken folders fail with the file named, and predicting
 * leaks no tensors.
 */

beforeAll(useCpuBackend);

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-classifier-'));
  dirs.push(dir);
  return dir;
}

/** A backbone with non-trivial BatchNorm statistics and affine parameters (fresh ones are 0/1). */
function randomBackbone(spec: ResNetSpec, seed: number): ResNet {
  const backbone = new ResNet(spec, seed);
  const random = seeded(seed + 1);
  tf.tidy(() => {
    for (const [name, variable] of backbone.params.variables) {
      if (name.endsWith('.running_var')) variable.assign(tf.tensor1d(Float32Array.from({ length: variable.size }, () => 0.5 + random())));
      else if (name.endsWith('.running_mean')) variable.assign(tf.tensor1d(Float32Array.from({ length: variable.size }, () => (random() - 0.5) * 0.2)));
      else if (/\.(bn\d|downsample\.1|bn1)\.(weight|bias)$|^bn1\./.test(name)) {
        variable.assign(tf.tensor1d(Float32Array.from({ length: variable.size }, () => (name.endsWith('weight') ? 0.5 + random() : (random() - 0.5) * 0.2))));
      }
    }
  });
  return backbone;
}

function randomHead(dim: number, classes: number, input: LinearHead['input'], seed: number): LinearHead {
  const random = seeded(seed);
  const scale = input === 'pooled' ? 1 / Math.sqrt(dim) : 3;
  return {
    weights: Float32Array.from({ length: dim * classes }, () => (random() - 0.5) * 2 * scale),
    bias: Float32Array.from({ length: classes }, () => random() - 0.5),
    dim,
    classes,
    input,
  };
}

function randomPixels(n: number, size: number, seed: number): Float32Array {
  const random = seeded(seed);
  return Float32Array.from({ length: n * size * size * 3 }, () => (random() - 0.5) * 4);
}

describe('classifier layers model', () => {
  // The full-width backbone runs on wasm: both sides of the comparison run on the same engine
  // either way, and its convolutions take seconds on cpu but a fraction of that on wasm.
  const cases: [string, ResNetSpec, number, 'cpu' | 'wasm'][] = [
    ['resnet18 x0.125 (the tests’ backbone)', { arch: 'resnet18', width: 0.125 }, 64, 'cpu'],
    ['resnet18 x1 (torchvision’s widths, on wasm)', { arch: 'resnet18', width: 1 }, 64, 'wasm'],
    ['resnet50 x0.125 (bottleneck blocks)', { arch: 'resnet50', width: 0.125 }, 64, 'cpu'],
  ];
  it.each(cases)('%s: probabilities equal ResNet + head softmax', async (_, spec, size, engine) => {
    await (engine === 'wasm' ? useWasmBackend() : useCpuBackend());
    expect(tf.getBackend()).toBe(engine);
    const backbone = randomBackbone(spec, 11);
    try {
      const n = 3;
      const pixels = randomPixels(n, size, 5);
      for (const input of ['pooled', 'l2-normalized'] as const) {
        const head = randomHead(backbone.outChannels, 4, input, 7);
        const expected = await predict(backbone, head, { pixels, size }, size, { convGrad: 'native' });
        const model = buildClassifierModel(backbone, head, size);
        const output = tf.tidy(() => model.predict(tf.tensor4d(pixels, [n, size, size, 3])) as tf.Tensor);
        expect(output.shape).toEqual([n, 4]);
        const actual = output.dataSync() as Float32Array;
        output.dispose();
        model.dispose();
        let maxDiff = 0;
        for (let i = 0; i < actual.length; i += 1) maxDiff = Math.max(maxDiff, Math.abs(actual[i]! - expected.probabilities[i]!));
        expect(maxDiff, `${input} head`).toBeLessThan(1e-4);
        // Not a degenerate comparison: the probabilities differ between rows and classes.
        expect(Math.max(...actual) - Math.min(...actual)).toBeGreaterThan(0.05);
      }
    } finally {
      backbone.params.dispose();
      await useCpuBackend();
    }
  }, 120_000);
});

describe('classify job with saveTo', async () => {
  // Training and reloading agree on any engine; wasm trains several times faster than cpu.
  beforeAll(useWasmBackend);
  afterAll(useCpuBackend);
  const listed = (await listImageFiles(sharedDataset('tiny'))).sort((a, b) => a.file.localeCompare(b.file));
  const classNames = [...new Set(listed.map((item) => item.className))].sort();
  const seen = new Map<string, number>();
  const labels = listed.map((item) => {
    const count = (seen.get(item.className) ?? 0) + 1;
    seen.set(item.className, count);
    return count <= 4 ? classNames.indexOf(item.className) : -1;
  });
  const config = resolvePretrainConfig('cpu-small', { width: 0.125 });
  const files = listed.map((item) => item.file);
  const hooks = { progress: () => undefined, chunk: () => undefined };

  it.each(['linear-probe', 'fine-tune'] as const)('%s: the saved model reloads and predicts what the job predicted', async (mode) => {
    const dir = path.join(tempDir(), mode);
    const job: ClassifyJob = { kind: 'classify', mode, config, files, labels, classes: 3, size: 64, seed: 0, epochs: mode === 'fine-tune' ? 2 : 30, saveTo: dir, classNames };
    const result = await classifyFiles(job, hooks);
    expect(result.saved).toEqual(['model.json', 'weights.bin', 'labels.json']);
    for (const name of result.saved!) expect(fs.existsSync(path.join(dir, name))).toBe(true);
    expect(fs.readdirSync(dir).filter((name) => name.endsWith('.tmp'))).toEqual([]);
    const meta = JSON.parse(fs.readFileSync(path.join(dir, 'labels.json'), 'utf8')) as ClassifierLabels;
    expect(meta).toMatchObject({ format: 'jigclu-classifier-v1', createdBy: 'JigClu Studio', classes: classNames, input: { size: 64, channels: 3, layout: 'NHWC' } });
    expect(meta.input.preprocessing.mean).toEqual([0.485, 0.456, 0.406]);
    expect(meta.input.preprocessing.std).toEqual([0.229, 0.224, 0.225]);
    // Both take L2-normalised features: the fine-tune starts from the probe's head (LP-FT).
    expect(meta.model.head).toBe('l2-normalized');
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'))).toMatchObject({ format: 'layers-model', weightsManifest: [{ paths: ['weights.bin'] }] });

    const loaded = await loadClassifier(dir);
    try {
      expect(loaded.classes).toEqual(classNames);
      expect(loaded.size).toBe(64);
      const { predictions, skipped } = await predictFiles(loaded, files, { batch: 10 });
      expect(skipped).toEqual([]);
      expect(predictions.map((p) => p.index)).toEqual(files.map((_, i) => i));
      for (const p of predictions) {
        expect(p.predicted).toBe(result.predicted[p.index]);
        expect(Math.abs(p.confidence - result.confidence[p.index]!)).toBeLessThan(1e-4);
        expect(p.probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      }
    } finally {
      loaded.dispose();
    }
  }, 180_000);

  it('skips files that do not decode, and leaks no tensors over repeated calls', async () => {
    const dir = tempDir();
    const backbone = randomBackbone({ arch: 'resnet18', width: 0.125 }, 3);
    await saveClassifier(dir, backbone, randomHead(backbone.outChannels, 3, 'l2-normalized', 2), { classNames, size: 64 });
    backbone.params.dispose();
    const broken = path.join(tempDir(), 'broken.jpg');
    fs.writeFileSync(broken, 'not an image at all');
    const loaded = await loadClassifier(dir);
    try {
      const some = [files[0]!, broken, files[5]!];
      const first = await predictFiles(loaded, some, { batch: 2 });
      expect(first.predictions.map((p) => p.index)).toEqual([0, 2]);
      expect(first.skipped).toHaveLength(1);
      expect(first.skipped[0]).toMatchObject({ index: 1, file: broken });
      expect(first.skipped[0]!.reason).toMatch(/not an image/);
      const before = tf.memory().numTensors;
      const progress: number[] = [];
      for (let round = 0; round < 3; round += 1) await predictFiles(loaded, some, { batch: 2, onProgress: (done) => progress.push(done) });
      expect(tf.memory().numTensors).toBe(before);
      expect(progress.slice(0, 2)).toEqual([2, 3]);
    } finally {
      loaded.dispose();
    }
  }, 60_000);

  it('refuses a folder without labels.json, or one that is not a classifier, naming the file', async () => {
    const dir = tempDir();
    const backbone = randomBackbone({ arch: 'resnet18', width: 0.125 }, 3);
    await saveClassifier(dir, backbone, randomHead(backbone.outChannels, 3, 'pooled', 2), { classNames, size: 64 });
    backbone.params.dispose();
    fs.rmSync(path.join(dir, 'labels.json'));
    await expect(loadClassifier(dir)).rejects.toThrow(/labels\.json is missing: .* not a complete JigClu classifier/);

    const other = tempDir();
    fs.writeFileSync(path.join(other, 'labels.json'), JSON.stringify({ cat: 0, dog: 1 }));
    fs.writeFileSync(path.join(other, 'model.json'), '{}');
    await expect(loadClassifier(other)).rejects.toThrow(/labels\.json is not a JigClu classifier's/);
    fs.writeFileSync(path.join(other, 'labels.json'), '{ broken');
    await expect(loadClassifier(other)).rejects.toThrow(/labels\.json is not valid JSON/);
    await expect(loadClassifier(path.join(other, 'nowhere'))).rejects.toThrow(/is not a folder/);
    const truncated = tempDir();
    const small = randomBackbone({ arch: 'resnet18', width: 0.125 }, 4);
    await saveClassifier(truncated, small, randomHead(small.outChannels, 3, 'pooled', 2), { classNames, size: 64 });
    small.params.dispose();
    fs.truncateSync(path.join(truncated, 'weights.bin'), 100);
    await expect(loadClassifier(truncated)).rejects.toThrow(/weights\.bin holds 100 bytes/);
  }, 60_000);
});

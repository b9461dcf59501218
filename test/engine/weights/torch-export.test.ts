import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { globalAveragePool, ResNet } from '../../../main/engine/nn/resnet';
import { decodeSafetensors, encodeSafetensors } from '../../../main/engine/weights/safetensors';
import * as tf from '../../../main/engine/backend/tfjs';
import {
  decodeTorchSafetensors,
  exportTorchBackbone,
  importTorchBackbone,
  torchStateDict,
} from '../../../main/engine/weights/torch-export';
import { runTorchScript, torchUnavailable } from '../../helpers/torch-python';
import { seeded, useCpuBackend } from '../../helpers/engine';

beforeAll(useCpuBackend);

const checker = fileURLToPath(new URL('../../fixtures/check_torch_export.py', import.meta.url));

/**
 * torchvision.models.resnet18().state_dict() in its order, less fc.weight [1000, 512] and
 * fc.bias [1000]: written out from torchvision's architecture (BasicBlock: conv1, bn1, conv2,
 * bn2, downsample; each BatchNorm: weight, bias, running_mean, running_var, num_batches_tracked),
 * not derived from our ResNet.
 */
const torchvisionResnet18: [string, number[]][] = [
  ['conv1.weight', [64, 3, 7, 7]],
  ['bn1.weight', [64]],
  ['bn1.bias', [64]],
  ['bn1.running_mean', [64]],
  ['bn1.running_var', [64]],
  ['bn1.num_batches_tracked', []],
  ['layer1.0.conv1.weight', [64, 64, 3, 3]],
  ['layer1.0.bn1.weight', [64]],
  ['layer1.0.bn1.bias', [64]],
  ['layer1.0.bn1.running_mean', [64]],
  ['layer1.0.bn1.running_var', [64]],
  ['layer1.0.bn1.num_batches_tracked', []],
  ['layer1.0.conv2.weight', [64, 64, 3, 3]],
  ['layer1.0.bn2.weight', [64]],
  ['layer1.0.bn2.bias', [64]],
  ['layer1.0.bn2.running_mean', [64]],
  ['layer1.0.bn2.running_var', [64]],
  ['layer1.0.bn2.num_batches_tracked', []],
  ['layer1.1.conv1.weight', [64, 64, 3, 3]],
  ['layer1.1.bn1.weight', [64]],
  ['layer1.1.bn1.bias', [64]],
  ['layer1.1.bn1.running_mean', [64]],
  ['layer1.1.bn1.running_var', [64]],
  ['layer1.1.bn1.num_batches_tracked', []],
  ['layer1.1.conv2.weight', [64, 64, 3, 3]],
  ['layer1.1.bn2.weight', [64]],
  ['layer1.1.bn2.bias', [64]],
  ['layer1.1.bn2.running_mean', [64]],
  ['layer1.1.bn2.running_var', [64]],
  ['layer1.1.bn2.num_batches_tracked', []],
  ['layer2.0.conv1.weight', [128, 64, 3, 3]],
  ['layer2.0.bn1.weight', [128]],
  ['layer2.0.bn1.bias', [128]],
  ['layer2.0.bn1.running_mean', [128]],
  ['layer2.0.bn1.running_var', [128]],
  ['layer2.0.bn1.num_batches_tracked', []],
  ['layer2.0.conv2.weight', [128, 128, 3, 3]],
  ['layer2.0.bn2.weight', [128]],
  ['layer2.0.bn2.bias', [128]],
  ['layer2.0.bn2.running_mean', [128]],
  ['layer2.0.bn2.running_var', [128]],
  ['layer2.0.bn2.num_batches_tracked', []],
  ['layer2.0.downsample.0.weight', [128, 64, 1, 1]],
  ['layer2.0.downsample.1.weight', [128]],
  ['layer2.0.downsample.1.bias', [128]],
  ['layer2.0.downsample.1.running_mean', [128]],
  ['layer2.0.downsample.1.running_var', [128]],
  ['layer2.0.downsample.1.num_batches_tracked', []],
  ['layer2.1.conv1.weight', [128, 128, 3, 3]],
  ['layer2.1.bn1.weight', [128]],
  ['layer2.1.bn1.bias', [128]],
  ['layer2.1.bn1.running_mean', [128]],
  ['layer2.1.bn1.running_var', [128]],
  ['layer2.1.bn1.num_batches_tracked', []],
  ['layer2.1.conv2.weight', [128, 128, 3, 3]],
  ['layer2.1.bn2.weight', [128]],
  ['layer2.1.bn2.bias', [128]],
  ['layer2.1.bn2.running_mean', [128]],
  ['layer2.1.bn2.running_var', [128]],
  ['layer2.1.bn2.num_batches_tracked', []],
  ['layer3.0.conv1.weight', [256, 128, 3, 3]],
  ['layer3.0.bn1.weight', [256]],
  ['layer3.0.bn1.bias', [256]],
  ['layer3.0.bn1.running_mean', [256]],
  ['layer3.0.bn1.running_var', [256]],
  ['layer3.0.bn1.num_batches_tracked', []],
  ['layer3.0.conv2.weight', [256, 256, 3, 3]],
  ['layer3.0.bn2.weight', [256]],
  ['layer3.0.bn2.bias', [256]],
  ['layer3.0.bn2.running_mean', [256]],
  ['layer3.0.bn2.running_var', [256]],
  ['layer3.0.bn2.num_batches_tracked', []],
  ['layer3.0.downsample.0.weight', [256, 128, 1, 1]],
  ['layer3.0.downsample.1.weight', [256]],
  ['layer3.0.downsample.1.bias', [256]],
  ['layer3.0.downsample.1.running_mean', [256]],
  ['layer3.0.downsample.1.running_var', [256]],
  ['layer3.0.downsample.1.num_batches_tracked', []],
  ['layer3.1.conv1.weight', [256, 256, 3, 3]],
  ['layer3.1.bn1.weight', [256]],
  ['layer3.1.bn1.bias', [256]],
  ['layer3.1.bn1.running_mean', [256]],
  ['layer3.1.bn1.running_var', [256]],
  ['layer3.1.bn1.num_batches_tracked', []],
  ['layer3.1.conv2.weight', [256, 256, 3, 3]],
  ['layer3.1.bn2.weight', [256]],
  ['layer3.1.bn2.bias', [256]],
  ['layer3.1.bn2.running_mean', [256]],
  ['layer3.1.bn2.running_var', [256]],
  ['layer3.1.bn2.num_batches_tracked', []],
  ['layer4.0.conv1.weight', [512, 256, 3, 3]],
  ['layer4.0.bn1.weight', [512]],
  ['layer4.0.bn1.bias', [512]],
  ['layer4.0.bn1.running_mean', [512]],
  ['layer4.0.bn1.running_var', [512]],
  ['layer4.0.bn1.num_batches_tracked', []],
  ['layer4.0.conv2.weight', [512, 512, 3, 3]],
  ['layer4.0.bn2.weight', [512]],
  ['layer4.0.bn2.bias', [512]],
  ['layer4.0.bn2.running_mean', [512]],
  ['layer4.0.bn2.running_var', [512]],
  ['layer4.0.bn2.num_batches_tracked', []],
  ['layer4.0.downsample.0.weight', [512, 256, 1, 1]],
  ['layer4.0.downsample.1.weight', [512]],
  ['layer4.0.downsample.1.bias', [512]],
  ['layer4.0.downsample.1.running_mean', [512]],
  ['layer4.0.downsample.1.running_var', [512]],
  ['layer4.0.downsample.1.num_batches_tracked', []],
  ['layer4.1.conv1.weight', [512, 512, 3, 3]],
  ['layer4.1.bn1.weight', [512]],
  ['layer4.1.bn1.bias', [512]],
  ['layer4.1.bn1.running_mean', [512]],
  ['layer4.1.bn1.running_var', [512]],
  ['layer4.1.bn1.num_batches_tracked', []],
  ['layer4.1.conv2.weight', [512, 512, 3, 3]],
  ['layer4.1.bn2.weight', [512]],
  ['layer4.1.bn2.bias', [512]],
  ['layer4.1.bn2.running_mean', [512]],
  ['layer4.1.bn2.running_var', [512]],
  ['layer4.1.bn2.num_batches_tracked', []],
];

/** A hand-written safetensors reader: the header, checked against the format, and raw data views. */
function readSafetensors(file: string): {
  headerLength: number;
  metadata: Record<string, string>;
  entries: { name: string; dtype: string; shape: number[]; begin: number; end: number }[];
  bytes: Buffer;
  dataStart: number;
} {
  const bytes = fs.readFileSync(file);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  expect(8 + headerLength).toBeLessThanOrEqual(bytes.length);
  const text = bytes.subarray(8, 8 + headerLength).toString('utf8');
  expect(text.startsWith('{')).toBe(true);
  expect(text.trimEnd().length).toBeGreaterThanOrEqual(text.length - 7); // at most 7 spaces of padding
  const header = JSON.parse(text) as Record<string, unknown>;
  const metadata = header.__metadata__ as Record<string, string>;
  for (const value of Object.values(metadata)) expect(typeof value).toBe('string');
  const entries = Object.entries(header)
    .filter(([name]) => name !== '__metadata__')
    .map(([name, entry]) => {
      const {
        dtype,
        shape,
        data_offsets: offsets,
      } = entry as {
        dtype: string;
        shape: number[];
        data_offsets: [number, number];
      };
      return { name, dtype, shape, begin: offsets[0], end: offsets[1] };
    });
  return { headerLength, metadata, entries, bytes, dataStart: 8 + headerLength };
}

function hasPython(): string | undefined {
  const result = spawnSync('python3', ['--version'], { encoding: 'utf8' });
  if (result.error) return `python3 is not available (${result.error.message})`;
  if (result.status !== 0) return `python3 --version exited with ${result.status}`;
  return undefined;
}

describe('PyTorch (torchvision) export', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-torch-export-'));
  const file = path.join(dir, 'resnet18.safetensors');
  let net: ResNet;

  beforeAll(async () => {
    net = new ResNet({ arch: 'resnet18', width: 1 }, 5);
    await exportTorchBackbone(net, file, { sourceCheckpoint: 'checkpoint-000120.safetensors', step: 120 });
  });

  afterAll(() => {
    net?.params.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("has torchvision resnet18's state_dict names, shapes and order, less fc", async () => {
    expect(torchvisionResnet18).toHaveLength(120);
    const state = await torchStateDict(net, 3);
    expect(state.map((t) => [t.name, t.shape])).toEqual(torchvisionResnet18);
    for (const tensor of state) {
      if (tensor.name.endsWith('.num_batches_tracked')) {
        expect(tensor.dtype).toBe('I64');
        expect(Array.from(tensor.data as BigInt64Array)).toEqual([3n]);
      } else {
        expect(tensor.dtype).toBe('F32');
        expect(tensor.data).toBeInstanceOf(Float32Array);
      }
      expect(tensor.data.length).toBe(tensor.shape.reduce((a, b) => a * b, 1));
    }
  });

  it('transposes conv filters from HWIO to OIHW', async () => {
    const state = new Map((await torchStateDict(net)).map((t) => [t.name, t]));
    for (const name of ['conv1.weight', 'layer2.0.conv1.weight', 'layer3.0.downsample.0.weight']) {
      const source = net.params.get(name);
      const [kh, kw, cin, cout] = source.shape as [number, number, number, number];
      const hwio = source.dataSync();
      const oihw = state.get(name)!;
      expect(oihw.shape).toEqual([cout, cin, kh, kw]);
      let mismatches = 0;
      for (let o = 0; o < cout; o += 1) {
        for (let i = 0; i < cin; i += 1) {
          for (let h = 0; h < kh; h += 1) {
            for (let w = 0; w < kw; w += 1) {
              const exported = oihw.data[((o * cin + i) * kh + h) * kw + w];
              if (exported !== hwio[((h * kw + w) * cin + i) * cout + o]) mismatches += 1;
            }
          }
        }
      }
      expect(mismatches, name).toBe(0);
    }
    // One element by hand: [o=5][i=7][h=2][w=1] of layer2.0.conv1 (HWIO [3, 3, 64, 128]).
    const hwio = net.params.get('layer2.0.conv1.weight').arraySync() as number[][][][];
    const oihw = state.get('layer2.0.conv1.weight')!.data as Float32Array;
    expect(oihw[5 * 64 * 9 + 7 * 9 + 2 * 3 + 1]).toBe(hwio[2]![1]![7]![5]);
    // BatchNorm statistics are copied as they are.
    expect(Array.from(state.get('layer1.0.bn1.running_var')!.data as Float32Array)).toEqual(
      Array.from(net.params.get('layer1.0.bn1.running_var').dataSync()),
    );
  });

  it('writes a valid safetensors file: JSON header, 8-byte aligned, contiguous offsets, metadata', () => {
    const { metadata, entries, bytes, dataStart } = readSafetensors(file);
    expect(dataStart % 8).toBe(0);
    expect(entries.map((e) => [e.name, e.shape])).toEqual(torchvisionResnet18);
    let position = 0;
    for (const entry of entries) {
      expect(entry.begin, entry.name).toBe(position);
      const itemSize = entry.dtype === 'I64' ? 8 : 4;
      expect(entry.dtype).toBe(entry.name.endsWith('.num_batches_tracked') ? 'I64' : 'F32');
      expect(entry.end - entry.begin, entry.name).toBe(entry.shape.reduce((a, b) => a * b, 1) * itemSize);
      position = entry.end;
    }
    expect(dataStart + position).toBe(bytes.length);
    expect(metadata).toMatchObject({
      format: 'pytorch',
      arch: 'resnet18',
      width: '1',
      standard_width: 'true',
      source_checkpoint: 'checkpoint-000120.safetensors',
      step: '120',
    });
    expect(metadata.note).toBeUndefined();
    // Raw bytes: num_batches_tracked is the step as a little-endian int64; a conv's first value.
    const tracked = entries.find((e) => e.name === 'bn1.num_batches_tracked')!;
    expect(bytes.readBigInt64LE(dataStart + tracked.begin)).toBe(120n);
    const conv = entries.find((e) => e.name === 'layer1.0.conv1.weight')!;
    const hwio = net.params.get('layer1.0.conv1.weight').arraySync() as number[][][][];
    // OIHW [0][1][0][2] is HWIO [0][2][1][0]: element 1 * 9 + 2 of the OIHW data.
    expect(bytes.readFloatLE(dataStart + conv.begin + (1 * 9 + 2) * 4)).toBe(hwio[0]![2]![1]![0]);
  });

  it('round-trips through the decoders and back into a ResNet with the same features', async () => {
    const buffer = fs.readFileSync(file);
    const expected = await torchStateDict(net, 120);
    const decoded = decodeTorchSafetensors(buffer);
    expect([...decoded.tensors.keys()]).toEqual(expected.map((t) => t.name));
    for (const tensor of expected) {
      const got = decoded.tensors.get(tensor.name)!;
      expect(got.dtype, tensor.name).toBe(tensor.dtype);
      expect(got.shape, tensor.name).toEqual(tensor.shape);
      expect(Buffer.from(got.data.buffer).equals(Buffer.from(tensor.data.buffer)), tensor.name).toBe(true);
    }
    // The one codec reads only the dtypes it is asked for: by default tfjs's, so a PyTorch
    // file is refused naming I64; asked for F32 and I64 it reads what the torch decoder reads.
    expect(() => decodeSafetensors(buffer)).toThrow(/dtype I64 is not supported/);
    const asked = decodeSafetensors(buffer, ['F32', 'I64']);
    for (const tensor of expected) {
      expect(Buffer.from(asked.tensors.get(tensor.name)!.data.buffer).equals(Buffer.from(tensor.data.buffer)), tensor.name).toBe(true);
    }
    const loaded = importTorchBackbone(file);
    try {
      expect(loaded.spec).toEqual(net.spec);
      for (const [name, variable] of net.params.variables) {
        expect(
          Buffer.from(loaded.params.get(name).dataSync().buffer).equals(
            Buffer.from(variable.dataSync().buffer),
          ),
          name,
        ).toBe(true);
      }
      const x = tf.randomNormal([1, 32, 32, 3], 0, 1, 'float32', 2) as tf.Tensor4D;
      const a = net.forward(x, { training: false, convGrad: 'native' });
      const b = loaded.forward(x, { training: false, convGrad: 'native' });
      expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
      tf.dispose([x, a, b]);
    } finally {
      loaded.params.dispose();
    }
  });

  it('is accepted by an independent reader (Python standard library)', (context) => {
    const missing = hasPython();
    if (missing) {
      console.warn(`skipping the Python reader check: ${missing}`);
      context.skip();
      return;
    }
    const result = spawnSync('python3', [checker, '--json', file], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const parsed = JSON.parse(result.stdout) as {
      metadata: Record<string, string>;
      tensors: { name: string; dtype: string; shape: number[] }[];
    };
    expect(parsed.tensors.map((t) => [t.name, t.shape])).toEqual(torchvisionResnet18);
    expect(parsed.tensors.filter((t) => t.dtype === 'I64')).toHaveLength(20);
    expect(parsed.metadata.format).toBe('pytorch');
    const text = spawnSync('python3', [checker, file], { encoding: 'utf8' });
    expect(text.status).toBe(0);
    expect(text.stdout).toContain('layer2.0.downsample.0.weight F32 [128, 64, 1, 1]');
    expect(text.stdout).toContain('layer4.1.bn2.num_batches_tracked I64 []');
    // The checker does reject a broken file: one byte cut off the end.
    const broken = path.join(dir, 'broken.safetensors');
    const bytes = fs.readFileSync(file);
    fs.writeFileSync(broken, bytes.subarray(0, bytes.length - 1));
    const rejected = spawnSync('python3', [checker, broken], { encoding: 'utf8' });
    expect(rejected.status).toBe(1);
    expect(rejected.stderr).toMatch(/invalid/);
  });

  it('exports resnet50 with torchvision names (318 tensors, bottleneck downsample in layer1)', async () => {
    const big = new ResNet({ arch: 'resnet50', width: 1 }, 1);
    try {
      const state = await torchStateDict(big);
      // torchvision.models.resnet50().state_dict() has 320 entries; fc.weight and fc.bias are not ours.
      expect(state).toHaveLength(318);
      const shapes = new Map(state.map((t) => [t.name, t.shape]));
      expect(shapes.get('conv1.weight')).toEqual([64, 3, 7, 7]);
      expect(shapes.get('layer1.0.conv1.weight')).toEqual([64, 64, 1, 1]);
      expect(shapes.get('layer1.0.conv2.weight')).toEqual([64, 64, 3, 3]);
      expect(shapes.get('layer1.0.conv3.weight')).toEqual([256, 64, 1, 1]);
      expect(shapes.get('layer1.0.bn3.running_var')).toEqual([256]);
      expect(shapes.get('layer1.0.downsample.0.weight')).toEqual([256, 64, 1, 1]);
      expect(shapes.get('layer1.0.downsample.1.num_batches_tracked')).toEqual([]);
      expect(shapes.get('layer2.0.conv2.weight')).toEqual([128, 128, 3, 3]);
      expect(shapes.get('layer2.0.downsample.0.weight')).toEqual([512, 256, 1, 1]);
      expect(shapes.get('layer3.5.conv3.weight')).toEqual([1024, 256, 1, 1]);
      expect(shapes.get('layer4.2.bn3.weight')).toEqual([2048]);
      expect(shapes.has('layer1.1.downsample.0.weight')).toBe(false);
      expect(state.at(-1)!.name).toBe('layer4.2.bn3.num_batches_tracked');
      expect(state.filter((t) => t.name.endsWith('.num_batches_tracked'))).toHaveLength(53);
      expect(state.some((t) => t.name.startsWith('fc.'))).toBe(false);
    } finally {
      big.params.dispose();
    }
  });

  it('still exports a non-standard width, and says so in the metadata', async () => {
    const narrow = new ResNet({ arch: 'resnet18', width: 0.125 }, 3);
    const narrowFile = path.join(dir, 'narrow.safetensors');
    try {
      await exportTorchBackbone(narrow, narrowFile, { step: 7 });
      const { metadata, entries } = readSafetensors(narrowFile);
      expect(entries.map((e) => e.name)).toEqual(torchvisionResnet18.map(([name]) => name));
      expect(entries.find((e) => e.name === 'conv1.weight')!.shape).toEqual([8, 3, 7, 7]);
      expect(entries.find((e) => e.name === 'layer4.1.conv2.weight')!.shape).toEqual([64, 64, 3, 3]);
      expect(metadata).toMatchObject({
        format: 'pytorch',
        arch: 'resnet18',
        width: '0.125',
        standard_width: 'false',
        step: '7',
      });
      expect(metadata.note).toMatch(/width multiplier 0\.125/);
      const loaded = importTorchBackbone(narrowFile);
      expect(loaded.spec).toEqual({ arch: 'resnet18', width: 0.125 });
      loaded.params.dispose();
    } finally {
      narrow.params.dispose();
    }
  });
});

const torchMissing = torchUnavailable();
if (torchMissing) console.warn(`torch-export.test.ts: skipping the torchvision comparisons: ${torchMissing}`);

describe.skipIf(Boolean(torchMissing))("the export in torchvision's own ResNets (Debian's torch 1.13 / torchvision 0.14)", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-torchvision-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** Every BatchNorm given non-trivial scale, shift and running statistics, so the export of each is seen. */
  function randomiseBatchNorms(net: ResNet, seed: number): void {
    const random = seeded(seed);
    tf.tidy(() => {
      for (const [name, variable] of net.params.variables) {
        if (variable.rank !== 1) continue;
        const [low, high] = name.endsWith('.running_var') || name.endsWith('.weight') ? [0.5, 1.5] : [-0.3, 0.3];
        variable.assign(tf.tensor1d(Array.from({ length: variable.size }, () => low + random() * (high - low))));
      }
    });
  }

  it.each(['resnet18', 'resnet50'] as const)('%s: loads with only fc missing and gives our features to 1e-4', async (arch) => {
    const net = new ResNet({ arch, width: 1 }, 17);
    try {
      randomiseBatchNorms(net, 3);
      const file = await exportTorchBackbone(net, path.join(dir, `${arch}.safetensors`), { step: 1 });
      const images = tf.randomNormal([2, 64, 48, 3], 0, 1, 'float32', 8) as tf.Tensor4D;
      const imagesFile = path.join(dir, `${arch}-images.safetensors`);
      fs.writeFileSync(imagesFile, encodeSafetensors([{ name: 'images', shape: images.shape, data: images.dataSync() as Float32Array }]));
      const ours = tf.tidy(() => globalAveragePool(net.forward(images, { training: false, convGrad: 'native' })).dataSync() as Float32Array);
      images.dispose();

      const featuresFile = path.join(dir, `${arch}-features.safetensors`);
      const run = runTorchScript(checker, ['--torchvision', '--features', imagesFile, featuresFile, file]);
      expect(run.stdout).toContain(`torchvision ${arch}: loaded with strict=False, missing only fc.weight and fc.bias`);
      expect(run.stdout).toContain(`torchvision ${arch}: features of 2 images written`);
      const theirs = decodeSafetensors(fs.readFileSync(featuresFile)).tensors.get('features')!;
      expect(theirs.shape).toEqual([2, net.outChannels]);
      let worst = 0;
      let largest = 0;
      for (let i = 0; i < ours.length; i += 1) {
        worst = Math.max(worst, Math.abs(ours[i]! - theirs.data[i]!));
        largest = Math.max(largest, Math.abs(ours[i]!));
      }
      expect(largest).toBeGreaterThan(0.01);
      expect(worst / Math.max(1, largest)).toBeLessThan(1e-4);
    } finally {
      net.params.dispose();
    }
  }, 180_000);
});

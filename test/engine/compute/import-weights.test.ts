import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Core } from '../../../main/core';
import { foreignLayout, locationRowOrder } from '../../../main/engine/weights/foreign-weights';
import { decodeSafetensors } from '../../../main/engine/weights/safetensors';
import { decodeTorchSafetensors } from '../../../main/engine/weights/torch-export';
import { toTorchLayout } from '../../../main/engine/weights/torch-layout';
import { dispatch } from '../../../main/services/dispatch';
import { repoRoot } from '../../helpers/built';
import { tinyLibraryCore } from '../../helpers/compute-host';
import { runTorchScript, torchUnavailable } from '../../helpers/torch-python';

/**
 * `jigclu import-weights` (issue 21): a torchvision ResNet-18 state dict and a checkpoint saved
 * as the reference's main.py saves it (.pth.tar, `module.encoder.*`, heads fc_clu / fc_loc)
 * become runs at step 0 whose checkpoints hold exactly the file's weights (the reference's
 * location rows reordered from its column-major numbering to ours), and training continues.
 */

const shapes = (entries: [string, number[]][]) => new Map(entries.map(([name, shape]) => [name, { shape }]));

describe('reading weights trained elsewhere by their names', () => {
  it("tells torchvision's, the reference's and our names apart, with the architecture and width", () => {
    const torchvision = foreignLayout(shapes([['conv1.weight', [64, 3, 7, 7]], ['layer1.0.conv1.weight', [64, 64, 3, 3]], ['bn1.num_batches_tracked', []], ['fc.weight', [1000, 512]]]), 'tv');
    expect(torchvision).toMatchObject({ source: 'torchvision', arch: 'resnet18', width: 1, reorderLocations: false });
    expect([...torchvision.names.keys()]).toEqual(['conv1.weight', 'layer1.0.conv1.weight']);
    const reference = foreignLayout(
      shapes([
        ['module.encoder.conv1.weight', [16, 3, 7, 7]],
        ['module.encoder.layer1.0.conv3.weight', [64, 16, 1, 1]],
        ['module.encoder.fc_clu.0.weight', [512, 512]],
        ['module.encoder.fc_clu.2.weight', [128, 512]],
        ['module.encoder.fc_loc.weight', [4, 512]],
      ]),
      'ref',
    );
    expect(reference).toMatchObject({ source: 'jigclu-reference', arch: 'resnet50', width: 0.25, grid: 2, projectionDim: 128, reorderLocations: true });
    expect(reference.names.get('location_head.weight')).toBe('module.encoder.fc_loc.weight');
    expect(reference.names.get('cluster_head.2.weight')).toBe('module.encoder.fc_clu.2.weight');
  });

  it('numbers the reference\'s locations (top-left, bottom-left, top-right, bottom-right) as ours (row-major)', () => {
    // Our row r*m + c takes the reference's row c*m + r.
    expect(locationRowOrder(2)).toEqual([0, 2, 1, 3]);
    expect(locationRowOrder(3)).toEqual([0, 3, 6, 1, 4, 7, 2, 5, 8]);
  });

  it('refuses what is not a ResNet-18 or ResNet-50, saying what it is', () => {
    expect(() => foreignLayout(shapes([['features.0.weight', [64, 3, 3, 3]]]), 'vgg.safetensors')).toThrow(/vgg\.safetensors has no conv1\.weight of a ResNet/);
    expect(() => foreignLayout(shapes([['conv1.weight', [64, 3, 7, 7]], ['layer1.2.conv1.weight', [64, 64, 3, 3]]]), 'r34')).toThrow(/ResNet-34/);
  });
});

const missing = torchUnavailable();
if (missing) console.warn(`import-weights.test.ts: skipping the import of files written by PyTorch: ${missing}`);

let work: string;
let core: Core;

beforeAll(async () => {
  if (missing) return;
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-weights-'));
  const written = runTorchScript(path.join(repoRoot, 'test', 'fixtures', 'foreign_weights.py'), [work]);
  expect(written.reason).toBeUndefined();
  core = await tinyLibraryCore(work);
}, 120_000);

afterAll(() => {
  core?.close();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

/** The run's step-0 checkpoint in PyTorch's layout, by our names. */
async function importedWeights(runId: number): Promise<Map<string, Float32Array>> {
  const details = await core.handlers.runGet({ runId, maxPoints: 10 });
  expect(details.checkpoints).toHaveLength(1);
  const { tensors } = decodeSafetensors(fs.readFileSync(details.checkpoints[0]!.file));
  return new Map([...tensors].map(([name, t]) => [name, toTorchLayout(t.shape, t.data as Float32Array)]));
}

describe.skipIf(missing !== undefined)('importing weights as a run', () => {
  it("takes torchvision's resnet18 state dict bit for bit, heads at random init", async () => {
    const file = path.join(work, 'torchvision-resnet18.safetensors');
    const imported = await core.handlers.weightsImport({ path: file });
    expect(imported).toMatchObject({ source: 'torchvision', heads: 'random' });
    expect(imported.run).toMatchObject({ status: 'finished', lastStep: 0, imageCount: 24, engine: 'imported (torchvision)' });
    expect(imported.run.config).toMatchObject({ preset: 'resnet18', arch: 'resnet18', width: 1, batch: 24 });
    const ours = await importedWeights(imported.run.id);
    const { tensors } = decodeTorchSafetensors(fs.readFileSync(file));
    let compared = 0;
    for (const [name, tensor] of tensors) {
      if (name.startsWith('fc.') || name.endsWith('num_batches_tracked')) continue;
      expect(Buffer.from(ours.get(name)!.buffer).equals(Buffer.from((tensor.data as Float32Array).buffer)), name).toBe(true);
      compared += 1;
    }
    expect(compared).toBe(100);
  }, 60_000);

  it("takes the reference's .pth.tar checkpoint (through Python's torch), reordering its location rows, and trains on from it", async () => {
    const imported = await core.handlers.weightsImport({ path: path.join(work, 'reference.pth.tar') });
    expect(imported).toMatchObject({ source: 'jigclu-reference', heads: 'imported' });
    expect(imported.run.config).toMatchObject({ arch: 'resnet18', width: 0.125, grid: 2, projectionDim: 32 });
    const ours = await importedWeights(imported.run.id);
    const reference = decodeTorchSafetensors(fs.readFileSync(path.join(work, 'reference.safetensors'))).tensors;
    const of = (name: string) => reference.get(`module.encoder.${name}`)!.data as Float32Array;
    expect(Array.from(ours.get('layer4.1.bn2.running_var')!)).toEqual(Array.from(of('layer4.1.bn2.running_var')));
    expect(Array.from(ours.get('cluster_head.2.weight')!)).toEqual(Array.from(of('fc_clu.2.weight')));
    const d = 64;
    const rows = (data: Float32Array) => [0, 1, 2, 3].map((k) => Array.from(data.subarray(k * d, (k + 1) * d)));
    const want = rows(of('fc_loc.weight'));
    expect(rows(ours.get('location_head.weight')!)).toEqual([want[0], want[2], want[1], want[3]]);
    const bias = Array.from(of('fc_loc.bias'));
    expect(Array.from(ours.get('location_head.bias')!)).toEqual([bias[0], bias[2], bias[1], bias[3]]);
    await core.handlers.pretrainContinue({ runId: imported.run.id, epochs: 1 });
    for (;;) {
      const run = await core.handlers.runGet({ runId: imported.run.id, maxPoints: 10 });
      if (!['running', 'paused'].includes(run.status)) {
        expect(run.status, run.error ?? '').toBe('finished');
        expect(run.lastStep).toBe(1);
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }, 90_000);

  it('refuses a file that is not a ResNet, naming it', async () => {
    const bogus = path.join(work, 'bogus.safetensors');
    fs.copyFileSync(path.join(work, 'torchvision-resnet18.safetensors'), bogus);
    const header = Buffer.from(JSON.stringify({ 'features.0.weight': { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }));
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(header.length));
    fs.writeFileSync(bogus, Buffer.concat([length, header, Buffer.alloc(4)]));
    const refused = await dispatch(core.handlers, 'weightsImport', { path: bogus });
    expect(refused).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
    expect(!refused.ok && refused.error.message).toContain(`${bogus} has no conv1.weight of a ResNet`);
  });
});

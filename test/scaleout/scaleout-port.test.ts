import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { learningRateAt } from '../../main/common/pretrain-config';
import { referenceAugmentation, toFloatImage } from '../../main/data/augment';
import { batchIndices, seedOf } from '../../main/data/batch-source';
import { makeJigsawBatch, patchRects } from '../../main/data/jigsaw';
import { Rng } from '../../main/data/rng';
import { runTorchScript, torchUnavailable } from '../helpers/torch-python';

/**
 * The DDP trainer's ports (scaleout/jigclu_ddp.py) against the app (issue 21): the generator's
 * words, ints, uniforms and permutations, the batch seeds and epoch orders, the patch
 * rectangles and the learning rate are EXACTLY the app's; whole augmented jigsaw batches made
 * in Python from the same 8-bit images have the app's labels and permutation exactly and its
 * pixels to 1e-5 (PyTorch sums in another order than the app's loops).
 */

const missing = torchUnavailable();
if (missing) console.warn(`scaleout-port.test.ts: skipping the Python port checks: ${missing}`);

interface Answer {
  streams: { words: number[]; ints: number[]; uniforms: number[]; permutation: number[]; state: number[] }[];
  seeds: number[];
  orders: number[][];
  rects: [number, number, number, number][][];
  lr: number[];
  batches: { montages: number[]; cluster: number[]; location: number[]; permutation: number[] }[];
}

const streams = [0, 1, 42, 2 ** 31 - 1, 2 ** 40 + 3, -7, 1.9, 16016].map((seed) => ({ seed, count: 40, ints: [1, 2, 3, 7, 100, 2 ** 31 + 5, 2 ** 32, 3 * 2 ** 30], permutation: 50 }));
const seeds: [number, number, number][] = [
  [0, 0, 0],
  [0, 0, 0x0dde],
  [7, 3, 11],
  [2 ** 31 - 1, 199, 5004],
  [123456, 0, 0x0dde],
];
const orders: [number, number, number, number, number][] = [
  [0, 32, 100, 0, 0],
  [0, 32, 100, 1, 2],
  [11, 4, 13, 5, 2],
  [3, 256, 1000, 7, 3],
];
const rects: [number, number, number, number][] = [];
for (const [w, h] of [
  [100, 100],
  [101, 77],
  [64, 48],
  [7, 5],
  [255, 3],
  [33, 90],
])
  for (const [grid, cross] of [
    [2, 0.3],
    [2, 0],
    [3, 0.1],
    [3, 0.3],
    [2, 0.45],
  ])
    rects.push([w!, h!, grid!, cross!]);
const rates: [number, number, number][] = [
  [0.03, 200, 0],
  [0.03, 200, 77],
  [0.1, 4, 3],
  [0.5, 3, 3],
];

function image(width: number, height: number, seed: number): { width: number; height: number; data: number[] } {
  const rng = new Rng(seed);
  // Smooth gradients plus noise, so crops, blur and resampling see structure, not only noise.
  const data = Array.from({ length: width * height * 3 }, (_, i) => {
    const p = Math.floor(i / 3);
    return Math.min(255, Math.floor(((p % width) / width) * 120 + (Math.floor(p / width) / height) * 90 + (i % 3) * 20 + rng.int(30)));
  });
  return { width, height, data };
}

const batches = [
  { seed: 5, grid: 2, crop: 32, cross: 0.3, augment: true, images: [image(64, 48, 1), image(40, 70, 2), image(96, 96, 3), image(50, 33, 4)] },
  { seed: 99, grid: 3, crop: 16, cross: 0.1, augment: true, images: [image(80, 60, 5), image(48, 48, 6), image(61, 90, 7)] },
  { seed: 3, grid: 2, crop: 24, cross: 0.3, augment: false, images: [image(30, 40, 8), image(64, 64, 9)] },
];

describe.skipIf(missing !== undefined)('the DDP trainer ports', () => {
  const script = path.resolve(__dirname, '../fixtures/scaleout_port.py');
  const answer = missing ? undefined : (JSON.parse(runTorchScript(script, [], JSON.stringify({ streams, seeds, orders, rects, lr: rates, batches })).stdout!) as Answer);

  it("draw exactly the app's generator words, ints, uniforms, permutations and final state for every seed", () => {
    streams.forEach((stream, i) => {
      const rng = new Rng(stream.seed);
      const want = {
        words: Array.from({ length: stream.count }, () => rng.nextUint32()),
        ints: stream.ints.map((n) => rng.int(n)),
        uniforms: Array.from({ length: 5 }, () => rng.uniform(-0.4, 1.7)),
        permutation: Array.from(rng.permutation(stream.permutation)),
        state: rng.state(),
      };
      expect(answer!.streams[i], `seed ${stream.seed}`).toEqual(want);
    });
  });

  it("give exactly the app's batch seeds, epoch orders, patch rectangles and learning rates", () => {
    expect(answer!.seeds).toEqual(seeds.map(([seed, epoch, b]) => seedOf(seed, epoch, b)));
    expect(answer!.orders).toEqual(orders.map(([seed, batch, count, epoch, b]) => Array.from(batchIndices({ seed, batch, jigsaw: { grid: 2, crop: 32, cross: 0.3 } }, count, epoch, b))));
    expect(answer!.rects).toEqual(rects.map(([w, h, grid, cross]) => patchRects(w, h, grid, cross).map((r) => [r.x, r.y, r.w, r.h])));
    expect(answer!.lr).toEqual(rates.map(([lr, epochs, epoch]) => learningRateAt({ lr, epochs }, epoch)));
  });

  it.each(batches.map((b, i) => [`m = ${b.grid}, crop ${b.crop}, ${b.augment ? 'the reference augmentation' : 'no augmentation'}`, i] as const))(
    'make the app\'s jigsaw batch (%s): labels and permutation exactly, pixels to 1e-5',
    (_, i) => {
      const spec = batches[i]!;
      const floats = spec.images.map((img) => toFloatImage(Uint8Array.from(img.data), img.width, img.height));
      const ours = makeJigsawBatch(floats, { grid: spec.grid, crop: spec.crop, cross: spec.cross, augmentation: spec.augment ? referenceAugmentation : null }, new Rng(spec.seed));
      const got = answer!.batches[i]!;
      expect(got.permutation).toEqual(Array.from(ours.permutation));
      expect(got.cluster).toEqual(Array.from(ours.clusterLabels));
      expect(got.location).toEqual(Array.from(ours.locationLabels));
      expect(got.montages.length).toBe(ours.montages.length);
      let worst = 0;
      got.montages.forEach((v, k) => (worst = Math.max(worst, Math.abs(v - ours.montages[k]!))));
      expect(worst).toBeLessThan(1e-5);
    },
  );
});

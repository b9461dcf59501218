import { describe, expect, it } from 'vitest';
import {
  cropRegion,
  imagenetMean,
  imagenetStd,
  referenceAugmentation,
  resizeBilinear,
  toFloatImage,
  type FloatImage,
} from '../../main/data/augment';
import {
  evalBatch,
  makeJigsawBatch,
  montageToRgba,
  patchRects,
  type JigsawBatch,
} from '../../main/data/jigsaw';
import { Rng } from '../../main/data/rng';

function randomImage(width: number, height: number, seed: number): FloatImage {
  const rng = new Rng(seed);
  const data = new Float32Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = rng.next();
  return { data, width, height };
}

function normalise(v: number, channel: number): number {
  // torchvision Normalize: (x - mean) / std (the pipeline multiplies by 1 / std: within 1 ulp)
  return Math.fround((v - imagenetMean[channel]!) / imagenetStd[channel]!);
}

/** The cell (b, k) of a batch's montages as a dense crop x crop x 3 array. */
function cell(batch: JigsawBatch, b: number, k: number): Float32Array {
  const { crop, size, grid } = batch;
  const out = new Float32Array(crop * crop * 3);
  const row = Math.floor(k / grid);
  const col = k % grid;
  for (let y = 0; y < crop; y++) {
    const from = ((b * size + row * crop + y) * size + col * crop) * 3;
    out.set(batch.montages.subarray(from, from + crop * 3), y * crop * 3);
  }
  return out;
}

const sizes: [number, number][] = [
  [40, 32],
  [31, 27],
  [64, 64],
  [25, 50],
  [48, 36],
  [33, 33],
];
const images = sizes.map(([w, h], i) => randomImage(w, h, 100 + i));

describe('patchRects', () => {
  it('m = 2, cross 0.3 on 100 x 100 gives [0, 80) and [20, 100) per axis, row-major', () => {
    expect(patchRects(100, 100, 2, 0.3)).toEqual([
      { x: 0, y: 0, w: 80, h: 80 },
      { x: 20, y: 0, w: 80, h: 80 },
      { x: 0, y: 20, w: 80, h: 80 },
      { x: 20, y: 20, w: 80, h: 80 },
    ]);
  });

  it('m = 2 matches the reference crop (W//2 +- c*W, Python round) on odd and uneven sizes', () => {
    // Expected values from Python: round(W // 2 + 0.3 * W), round(W // 2 - 0.3 * W).
    const reference: Record<number, [number, number]> = {
      75: [60, 14],
      99: [79, 19],
      101: [80, 20],
      64: [51, 13],
      128: [102, 26],
      51: [40, 10],
      57: [45, 11],
    };
    for (const [size, [end0, start1]] of Object.entries(reference)) {
      const w = Number(size);
      const rects = patchRects(w, 64, 2, 0.3);
      expect(rects[0]).toEqual({ x: 0, y: 0, w: end0, h: 51 });
      expect(rects[1]).toEqual({ x: start1, y: 0, w: w - start1, h: 51 });
      expect(rects[2]).toEqual({ x: 0, y: 13, w: end0, h: 51 });
      expect(rects[3]).toEqual({ x: start1, y: 13, w: w - start1, h: 51 });
    }
  });

  it('m = 3: disjoint thirds at cross 0, overlapping by cross*W at cross 0.1', () => {
    const spans = (rects: { x: number; w: number }[]): [number, number][] =>
      rects.slice(0, 3).map((r) => [r.x, r.x + r.w]);
    expect(spans(patchRects(100, 100, 3, 0))).toEqual([
      [0, 33],
      [33, 66],
      [66, 100],
    ]);
    expect(spans(patchRects(100, 100, 3, 0.1))).toEqual([
      [0, 43],
      [23, 76],
      [56, 100],
    ]);
    const rects = patchRects(90, 60, 3, 0.1);
    expect(rects).toHaveLength(9);
    // location r*3 + c: row from y, column from x
    expect(rects[5]).toEqual({ x: rects[2]!.x, y: rects[3]!.y, w: rects[2]!.w, h: rects[3]!.h });
    expect(rects[3]!.y).toBe(14); // floor(60 / 3) - 6
  });

  it('every rectangle lies inside the image and the grid covers it', () => {
    const rng = new Rng(1);
    for (let trial = 0; trial < 300; trial++) {
      const grid = 2 + rng.int(2);
      const w = grid + rng.int(300);
      const h = grid + rng.int(300);
      const cross = rng.uniform(0, 0.5);
      const rects = patchRects(w, h, grid, cross);
      expect(rects).toHaveLength(grid * grid);
      for (const r of rects) {
        expect(
          Number.isInteger(r.x) && Number.isInteger(r.y) && Number.isInteger(r.w) && Number.isInteger(r.h),
        ).toBe(true);
        expect(r.x).toBeGreaterThanOrEqual(0);
        expect(r.y).toBeGreaterThanOrEqual(0);
        expect(r.w).toBeGreaterThanOrEqual(1);
        expect(r.h).toBeGreaterThanOrEqual(1);
        expect(r.x + r.w).toBeLessThanOrEqual(w);
        expect(r.y + r.h).toBeLessThanOrEqual(h);
      }
      expect(rects[0]!.x).toBe(0);
      expect(rects[grid * grid - 1]!.x + rects[grid * grid - 1]!.w).toBe(w);
      expect(rects[grid * grid - 1]!.y + rects[grid * grid - 1]!.h).toBe(h);
    }
  });

  it('refuses a bad grid, cross or too small an image', () => {
    expect(() => patchRects(100, 100, 0, 0.3)).toThrow(RangeError);
    expect(() => patchRects(100, 100, 2, 0.6)).toThrow(RangeError);
    expect(() => patchRects(100, 100, 2, -0.1)).toThrow(RangeError);
    expect(() => patchRects(1, 100, 2, 0.3)).toThrow(RangeError);
  });
});

describe('makeJigsawBatch', () => {
  for (const grid of [2, 3]) {
    it(`m = ${grid}, no augmentation: each cell is exactly its labelled source patch, resized and normalised`, () => {
      const crop = 8;
      const batch = makeJigsawBatch(images, { grid, crop, cross: 0.3, augmentation: null }, new Rng(11));
      const cells = grid * grid;
      expect(batch.n).toBe(images.length);
      expect(batch.size).toBe(grid * crop);
      expect(batch.montages).toHaveLength(images.length * batch.size * batch.size * 3);
      for (let slot = 0; slot < images.length * cells; slot++) {
        const source = images[batch.clusterLabels[slot]!]!;
        const rect = patchRects(source.width, source.height, grid, 0.3)[batch.locationLabels[slot]!]!;
        const expected = resizeBilinear(cropRegion(source, rect.x, rect.y, rect.w, rect.h), crop, crop).data;
        const actual = cell(batch, Math.floor(slot / cells), slot % cells);
        for (let i = 0; i < actual.length; i++) {
          if (Math.abs(actual[i]! - normalise(expected[i]!, i % 3)) > 2e-6)
            throw new Error(`slot ${slot} value ${i}: ${actual[i]} != ${normalise(expected[i]!, i % 3)}`);
        }
      }
    });
  }

  it('every image contributes grid*grid patches, one per location, and the labels follow the permutation', () => {
    const grid = 2;
    const cells = grid * grid;
    const batch = makeJigsawBatch(
      images,
      { grid, crop: 6, cross: 0.3, augmentation: referenceAugmentation },
      new Rng(12),
    );
    const total = images.length * cells;
    expect(batch.clusterLabels).toHaveLength(total);
    expect(batch.locationLabels).toHaveLength(total);
    for (let image = 0; image < images.length; image++) {
      const locations: number[] = [];
      for (let slot = 0; slot < total; slot++)
        if (batch.clusterLabels[slot] === image) locations.push(batch.locationLabels[slot]!);
      expect(locations.sort()).toEqual([0, 1, 2, 3]);
    }
    for (let slot = 0; slot < total; slot++) {
      expect(batch.clusterLabels[slot]).toBe(Math.floor(batch.permutation[slot]! / cells));
      expect(batch.locationLabels[slot]).toBe(batch.permutation[slot]! % cells);
    }
  });

  it('uses ONE permutation of all n*m*m patches, mixing images within montages', () => {
    const many = Array.from({ length: 8 }, (_, i) => randomImage(32, 32, 200 + i));
    const batch = makeJigsawBatch(many, { grid: 2, crop: 4, cross: 0.3, augmentation: null }, new Rng(13));
    expect([...batch.permutation].sort((a, b) => a - b)).toEqual(Array.from({ length: 32 }, (_, i) => i));
    // With 8 images, a montage whose 4 cells all come from one image is rare (p = 1/8^3 each):
    // here most montages mix at least two, and some mix 3 or 4.
    const sources = Array.from(
      { length: 8 },
      (_, b) => new Set(batch.clusterLabels.subarray(b * 4, b * 4 + 4)).size,
    );
    expect(sources.filter((count) => count > 1).length).toBeGreaterThanOrEqual(6);
    expect(Math.max(...sources)).toBeGreaterThanOrEqual(3);
    // Across batches, slot 0 holds every image and every location (not a per-image shuffle).
    const seenImages = new Set<number>();
    const seenLocations = new Set<number>();
    const rng = new Rng(14);
    for (let i = 0; i < 200; i++) {
      const b = makeJigsawBatch(many, { grid: 2, crop: 2, cross: 0.3, augmentation: null }, rng);
      seenImages.add(b.clusterLabels[0]!);
      seenLocations.add(b.locationLabels[0]!);
    }
    expect(seenImages.size).toBe(8);
    expect(seenLocations.size).toBe(4);
  });

  it('is stable for a seed (identical arrays) and different for another seed', () => {
    const config = { grid: 2, crop: 16, cross: 0.3, augmentation: referenceAugmentation };
    const a = makeJigsawBatch(images, config, new Rng(21));
    const b = makeJigsawBatch(images, config, new Rng(21));
    const c = makeJigsawBatch(images, config, new Rng(22));
    expect(a.permutation).toEqual(b.permutation);
    expect(a.clusterLabels).toEqual(b.clusterLabels);
    expect(a.locationLabels).toEqual(b.locationLabels);
    expect(Buffer.from(a.montages.buffer).equals(Buffer.from(b.montages.buffer))).toBe(true);
    expect(a.permutation).not.toEqual(c.permutation);
    expect(Buffer.from(a.montages.buffer).equals(Buffer.from(c.montages.buffer))).toBe(false);
    // The stream continues: a second batch from the same generator differs from the first.
    const rng = new Rng(21);
    const first = makeJigsawBatch(images, config, rng);
    const second = makeJigsawBatch(images, config, rng);
    expect(Buffer.from(first.montages.buffer).equals(Buffer.from(second.montages.buffer))).toBe(false);
  });

  it('uses the reference augmentation when the config leaves it out', () => {
    const base = { grid: 2, crop: 10, cross: 0.3 };
    const implicit = makeJigsawBatch(images, base, new Rng(31));
    const explicit = makeJigsawBatch(images, { ...base, augmentation: referenceAugmentation }, new Rng(31));
    const plain = makeJigsawBatch(images, { ...base, augmentation: null }, new Rng(31));
    expect(Buffer.from(implicit.montages.buffer).equals(Buffer.from(explicit.montages.buffer))).toBe(true);
    expect(Buffer.from(implicit.montages.buffer).equals(Buffer.from(plain.montages.buffer))).toBe(false);
  });

  it('augmented montages stay within the normalised range of [0, 1] pixels', () => {
    const batch = makeJigsawBatch(
      images,
      { grid: 2, crop: 12, cross: 0.3, augmentation: referenceAugmentation },
      new Rng(23),
    );
    for (let i = 0; i < batch.montages.length; i++) {
      const c = i % 3;
      expect(batch.montages[i]).toBeGreaterThanOrEqual(normalise(0, c) - 1e-6);
      expect(batch.montages[i]).toBeLessThanOrEqual(normalise(1, c) + 1e-6);
    }
  });

  it('refuses an empty batch and bad settings', () => {
    expect(() => makeJigsawBatch([], { grid: 2, crop: 8, cross: 0.3 }, new Rng(1))).toThrow(RangeError);
    expect(() => makeJigsawBatch(images, { grid: 2, crop: 0, cross: 0.3 }, new Rng(1))).toThrow(RangeError);
    expect(() => makeJigsawBatch(images, { grid: 2, crop: 8, cross: 0.9 }, new Rng(1))).toThrow(RangeError);
    expect(() =>
      makeJigsawBatch(
        images,
        { grid: 2, crop: 8, cross: 0.3, augmentation: { ...referenceAugmentation, jitterP: 2 } },
        new Rng(1),
      ),
    ).toThrow(RangeError);
  });
});

describe('evalBatch and montageToRgba', () => {
  it('normalises a known pixel with the ImageNet mean and std', () => {
    const image = toFloatImage(new Uint8Array([255, 128, 0]), 1, 1);
    const out = evalBatch([image], 1);
    expect(out[0]).toBeCloseTo((1 - 0.485) / 0.229, 6);
    expect(out[1]).toBeCloseTo((128 / 255 - 0.456) / 0.224, 6);
    expect(out[2]).toBeCloseTo((0 - 0.406) / 0.225, 6);
  });

  it('has shape [n, size, size, 3]: short side resized then centre-cropped', () => {
    const out = evalBatch(images, 20);
    expect(out).toHaveLength(images.length * 20 * 20 * 3);
    // A 40 x 20 image: resized to 40 x 20 (already short side 20), centre crop x from 10.
    const wide = randomImage(40, 20, 300);
    const single = evalBatch([wide], 20);
    const expected = cropRegion(wide, 10, 0, 20, 20);
    for (let i = 0; i < single.length; i++) expect(single[i]).toBe(normalise(expected.data[i]!, i % 3));
    // A 30 x 60 image: resized to 20 x 40, centre rows 10..30.
    const tall = randomImage(30, 60, 301);
    const resized = resizeBilinear(tall, 20, 40);
    const crop = cropRegion(resized, 0, 10, 20, 20);
    const tallOut = evalBatch([tall], 20);
    for (let i = 0; i < tallOut.length; i++) expect(tallOut[i]).toBe(normalise(crop.data[i]!, i % 3));
  });

  it('montageToRgba un-normalises back to the source bytes', () => {
    const bytes = new Uint8Array(24 * 24 * 3);
    for (let i = 0; i < bytes.length; i += 3) bytes.set([200, 30, 120], i);
    const flat = toFloatImage(bytes, 24, 24);
    const batch = makeJigsawBatch(
      [flat, flat],
      { grid: 2, crop: 5, cross: 0.3, augmentation: null },
      new Rng(2),
    );
    const rgba = montageToRgba(batch, 1);
    expect(rgba).toHaveLength(10 * 10 * 4);
    for (let p = 0; p < 100; p++) expect([...rgba.subarray(p * 4, p * 4 + 4)]).toEqual([200, 30, 120, 255]);
    expect(() => montageToRgba(batch, 2)).toThrow(RangeError);
  });
});

import { describe, expect, it } from 'vitest';
import {
  adjustBrightness,
  adjustContrast,
  adjustHue,
  adjustSaturation,
  augmentPatch,
  boxBlurRadius,
  colorJitter,
  colorJitterParams,
  cropRegion,
  gaussianBlur,
  grayscale,
  horizontalFlip,
  imagenetMean,
  imagenetStd,
  randomResizedCrop,
  randomResizedCropBox,
  referenceAugmentation,
  resizeBilinear,
  roundHalfEven,
  toFloatImage,
  type FloatImage,
} from '../../main/data/augment';
import { Rng } from '../../main/data/rng';

function randomImage(width: number, height: number, seed: number): FloatImage {
  const rng = new Rng(seed);
  const data = new Float32Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = rng.next();
  return { data, width, height };
}

function constantImage(width: number, height: number, rgb: [number, number, number]): FloatImage {
  const data = new Float32Array(width * height * 3);
  for (let i = 0; i < data.length; i += 3) data.set(rgb, i);
  return { data, width, height };
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

function channelStats(image: FloatImage, channel: number): { mean: number; variance: number } {
  let sum = 0;
  let sumSq = 0;
  const n = image.width * image.height;
  for (let i = channel; i < image.data.length; i += 3) {
    sum += image.data[i]!;
    sumSq += image.data[i]! ** 2;
  }
  const mean = sum / n;
  return { mean, variance: sumSq / n - mean * mean };
}

describe('conversions and crops', () => {
  it('toFloatImage maps bytes to x / 255 like ToTensor', () => {
    const image = toFloatImage(new Uint8Array([0, 128, 255, 1, 2, 3]), 2, 1);
    expect([...image.data]).toEqual([0, 128 / 255, 1, 1 / 255, 2 / 255, 3 / 255].map(Math.fround));
    expect(() => toFloatImage(new Uint8Array(5), 2, 1)).toThrow(RangeError);
  });

  it('cropRegion copies exactly the rectangle and refuses one outside the image', () => {
    const image = randomImage(7, 5, 1);
    const crop = cropRegion(image, 2, 1, 4, 3);
    expect([crop.width, crop.height]).toEqual([4, 3]);
    for (let y = 0; y < 3; y++) {
      for (let x = 0; x < 4; x++) {
        for (let c = 0; c < 3; c++)
          expect(crop.data[(y * 4 + x) * 3 + c]).toBe(image.data[((y + 1) * 7 + x + 2) * 3 + c]);
      }
    }
    expect(() => cropRegion(image, 4, 0, 4, 1)).toThrow(RangeError);
    expect(() => cropRegion(image, 0, 0, 0, 1)).toThrow(RangeError);
  });

  it('ImageNet normalisation constants are the reference ones', () => {
    expect(imagenetMean).toEqual([0.485, 0.456, 0.406]);
    expect(imagenetStd).toEqual([0.229, 0.224, 0.225]);
  });

  it('roundHalfEven is Python round()', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, 2.4, 2.6, 59.5, 14.5].map((x) => roundHalfEven(x) + 0)).toEqual([
      0, 2, 2, 0, -2, 2, 3, 60, 14,
    ]);
  });
});

describe('resize (PIL bilinear)', () => {
  it('keeps a constant image constant and is the identity at the same size', () => {
    const flat = constantImage(13, 9, [0.2, 0.5, 0.9]);
    for (const [w, h] of [
      [5, 4],
      [20, 30],
      [13, 3],
    ] as const) {
      const out = resizeBilinear(flat, w, h);
      expect(maxAbsDiff(out.data, constantImage(w, h, [0.2, 0.5, 0.9]).data)).toBeLessThan(1e-6);
    }
    const image = randomImage(11, 6, 2);
    expect(maxAbsDiff(resizeBilinear(image, 11, 6).data, image.data)).toBe(0);
  });

  it('halving averages 2x2 blocks over the triangle filter, preserving the mean', () => {
    const image = randomImage(32, 32, 3);
    const half = resizeBilinear(image, 16, 16);
    for (let c = 0; c < 3; c++)
      expect(Math.abs(channelStats(half, c).mean - channelStats(image, c).mean)).toBeLessThan(0.01);
    // Antialiased: a downscale smooths, so the variance drops well below the input's.
    expect(channelStats(half, 0).variance).toBeLessThan(channelStats(image, 0).variance * 0.5);
  });
});

describe('randomResizedCrop', () => {
  it('gives size x size and area fractions within scale, about their mean on average', () => {
    const rng = new Rng(4);
    const image = randomImage(60, 45, 5);
    const fractions: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const box = randomResizedCropBox(60, 45, rng, [0.2, 1], [3 / 4, 4 / 3]);
      expect(box.x).toBeGreaterThanOrEqual(0);
      expect(box.y).toBeGreaterThanOrEqual(0);
      expect(box.x + box.w).toBeLessThanOrEqual(60);
      expect(box.y + box.h).toBeLessThanOrEqual(45);
      fractions.push((box.w * box.h) / (60 * 45));
    }
    // Rounding w and h moves the area a little off [0.2, 1]; the fallback (whole image) is 1.
    expect(Math.min(...fractions)).toBeGreaterThan(0.17);
    expect(Math.max(...fractions)).toBeLessThanOrEqual(1);
    const mean = fractions.reduce((a, b) => a + b, 0) / fractions.length;
    // Uniform area on [0.2, 1] would average 0.6; rejections of too-wide/tall crops pull large
    // areas down and the whole-image fallback pushes up; torchvision behaves the same.
    expect(mean).toBeGreaterThan(0.45);
    expect(mean).toBeLessThan(0.7);
    const out = randomResizedCrop(image, 24, rng);
    expect([out.width, out.height, out.data.length]).toEqual([24, 24, 24 * 24 * 3]);
  });

  it('falls back to the ratio-clamped centre crop after 10 failed attempts', () => {
    // A 100 x 10 strip cannot hold any crop of area >= 0.9 with ratio in [3/4, 4/3].
    const rng = new Rng(6);
    const box = randomResizedCropBox(100, 10, rng, [0.9, 1], [3 / 4, 4 / 3]);
    // in_ratio 10 > 4/3: h = 10, w = round(10 * 4/3) = 13, centred: x = (100 - 13) // 2
    expect(box).toEqual({ x: 43, y: 0, w: 13, h: 10 });
    const tall = randomResizedCropBox(10, 100, rng, [0.9, 1], [3 / 4, 4 / 3]);
    // in_ratio 0.1 < 3/4: w = 10, h = round(10 / 0.75) = 13
    expect(tall).toEqual({ x: 0, y: 43, w: 10, h: 13 });
  });

  it('is deterministic from the rng', () => {
    const image = randomImage(40, 40, 7);
    const a = randomResizedCrop(image, 16, new Rng(9));
    const b = randomResizedCrop(image, 16, new Rng(9));
    const c = randomResizedCrop(image, 16, new Rng(10));
    expect(maxAbsDiff(a.data, b.data)).toBe(0);
    expect(maxAbsDiff(a.data, c.data)).toBeGreaterThan(0);
  });
});

describe('colour ops', () => {
  it('colorJitter with all strengths 0 is the identity', () => {
    const image = randomImage(9, 7, 11);
    const out = colorJitter(image, new Rng(1), 0, 0, 0, 0);
    expect(maxAbsDiff(out.data, image.data)).toBe(0);
    expect(out.data).not.toBe(image.data);
  });

  it('colorJitter keeps values in [0, 1] and changes the image with the reference strengths', () => {
    const image = randomImage(9, 7, 12);
    const rng = new Rng(2);
    for (let i = 0; i < 50; i++) {
      const out = colorJitter(image, rng);
      for (const v of out.data) {
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(1);
      }
      expect(maxAbsDiff(out.data, image.data)).toBeGreaterThan(0);
    }
  });

  it('draws its parameters like torchvision: every order of the 4 ops, factors in range, none for a 0 strength', () => {
    const rng = new Rng(3);
    const orders = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const params = colorJitterParams(rng, 0.4, 0.4, 0.4, 0.1);
      orders.add(params.order.join(''));
      for (const factor of [params.brightness, params.contrast, params.saturation]) {
        expect(factor).toBeGreaterThanOrEqual(0.6);
        expect(factor).toBeLessThan(1.4);
      }
      expect(Math.abs(params.hue!)).toBeLessThanOrEqual(0.1);
    }
    expect(orders.size).toBe(24);
    const off = colorJitterParams(rng, 0, 0.5, 0, 0);
    expect([off.brightness, off.saturation, off.hue]).toEqual([null, null, null]);
    expect(off.contrast).toBeGreaterThanOrEqual(0.5);
    expect(() => colorJitterParams(rng, 0.4, 0.4, 0.4, 0.6)).toThrow(RangeError);
  });

  it('applies the four ops in the drawn order', () => {
    const image = randomImage(8, 6, 21);
    for (let seed = 0; seed < 30; seed++) {
      const params = colorJitterParams(new Rng(seed), 0.4, 0.4, 0.4, 0.1);
      let expected = image;
      for (const op of params.order) {
        if (op === 0) expected = adjustBrightness(expected, params.brightness!);
        else if (op === 1) expected = adjustContrast(expected, params.contrast!);
        else if (op === 2) expected = adjustSaturation(expected, params.saturation!);
        else expected = adjustHue(expected, params.hue!);
      }
      expect(maxAbsDiff(colorJitter(image, new Rng(seed)).data, expected.data)).toBe(0);
    }
  });

  it('brightness-only jitter scales every pixel by one factor in [0.6, 1.4]', () => {
    const image = randomImage(8, 8, 13);
    for (let seed = 0; seed < 20; seed++) {
      const out = colorJitter(image, new Rng(seed), 0.4, 0, 0, 0);
      // a pixel far from clipping gives the factor
      let factor = Number.NaN;
      for (let i = 0; i < image.data.length; i++) {
        if (image.data[i]! > 0.2 && image.data[i]! < 0.6) {
          factor = out.data[i]! / image.data[i]!;
          break;
        }
      }
      expect(factor).toBeGreaterThanOrEqual(0.6 - 1e-6);
      expect(factor).toBeLessThanOrEqual(1.4 + 1e-6);
      for (let i = 0; i < image.data.length; i++)
        expect(out.data[i]).toBeCloseTo(Math.min(1, image.data[i]! * factor), 5);
    }
  });

  it('adjust ops: brightness 0 is black, contrast 0 is the mean luma, saturation 0 is grayscale', () => {
    const image = randomImage(6, 5, 14);
    expect(maxAbsDiff(adjustBrightness(image, 0).data, new Float32Array(image.data.length))).toBe(0);
    const flat = adjustContrast(image, 0);
    let meanLuma = 0;
    for (let i = 0; i < image.data.length; i += 3)
      meanLuma += 0.299 * image.data[i]! + 0.587 * image.data[i + 1]! + 0.114 * image.data[i + 2]!;
    meanLuma /= 30;
    for (const v of flat.data) expect(v).toBeCloseTo(meanLuma, 6);
    expect(maxAbsDiff(adjustSaturation(image, 0).data, grayscale(image).data)).toBeLessThan(1e-6);
    expect(maxAbsDiff(adjustSaturation(image, 1).data, image.data)).toBeLessThan(1e-6);
    expect(maxAbsDiff(adjustContrast(image, 1).data, image.data)).toBeLessThan(1e-6);
  });

  it('hue rotation: red -> green at +1/3, keeps max and min per pixel and leaves greys alone', () => {
    const red = constantImage(2, 2, [1, 0, 0]);
    expect(maxAbsDiff(adjustHue(red, 1 / 3).data, constantImage(2, 2, [0, 1, 0]).data)).toBeLessThan(1e-6);
    expect(maxAbsDiff(adjustHue(red, -1 / 3).data, constantImage(2, 2, [0, 0, 1]).data)).toBeLessThan(1e-6);
    const image = randomImage(10, 10, 15);
    const shifted = adjustHue(image, 0.17);
    for (let i = 0; i < image.data.length; i += 3) {
      const before = [image.data[i]!, image.data[i + 1]!, image.data[i + 2]!];
      const after = [shifted.data[i]!, shifted.data[i + 1]!, shifted.data[i + 2]!];
      expect(Math.max(...after)).toBeCloseTo(Math.max(...before), 5);
      expect(Math.min(...after)).toBeCloseTo(Math.min(...before), 5);
    }
    expect(maxAbsDiff(adjustHue(adjustHue(image, 0.3), -0.3).data, image.data)).toBeLessThan(1e-5);
    const grey = constantImage(3, 3, [0.4, 0.4, 0.4]);
    expect(maxAbsDiff(adjustHue(grey, 0.25).data, grey.data)).toBe(0);
  });

  it('grayscale gives equal channels with ITU-R 601-2 luma', () => {
    const image = toFloatImage(new Uint8Array([255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 200, 90]), 4, 1);
    const gray = grayscale(image);
    const expected = [0.299, 0.587, 0.114, (0.299 * 10 + 0.587 * 200 + 0.114 * 90) / 255];
    for (let p = 0; p < 4; p++) {
      for (let c = 0; c < 3; c++) expect(gray.data[p * 3 + c]).toBeCloseTo(expected[p]!, 6);
    }
  });
});

describe('gaussianBlur (PIL extended box blur)', () => {
  it('keeps a constant image constant (edges replicated)', () => {
    const flat = constantImage(17, 11, [0.3, 0.6, 0.9]);
    for (const sigma of [0.1, 0.7, 2, 5])
      expect(maxAbsDiff(gaussianBlur(flat, sigma).data, flat.data)).toBeLessThan(1e-6);
  });

  it('reduces the variance of noise, more for a larger sigma, keeping the mean', () => {
    const noise = randomImage(64, 64, 16);
    const before = channelStats(noise, 1);
    const small = channelStats(gaussianBlur(noise, 0.5), 1);
    const large = channelStats(gaussianBlur(noise, 2), 1);
    expect(small.variance).toBeLessThan(before.variance * 0.8);
    expect(large.variance).toBeLessThan(small.variance * 0.5);
    expect(Math.abs(large.mean - before.mean)).toBeLessThan(0.01);
  });

  it('the impulse response sums to 1 and has variance sigma^2 per axis, like a Gaussian', () => {
    for (const sigma of [0.5, 1, 1.7, 2]) {
      const size = 41;
      const impulse = constantImage(size, size, [0, 0, 0]);
      const centre = 20;
      impulse.data[(centre * size + centre) * 3] = 1;
      const out = gaussianBlur(impulse, sigma);
      let total = 0;
      let varX = 0;
      let varY = 0;
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          const v = out.data[(y * size + x) * 3]!;
          total += v;
          varX += v * (x - centre) ** 2;
          varY += v * (y - centre) ** 2;
        }
      }
      expect(total).toBeCloseTo(1, 5);
      expect(varX).toBeCloseTo(sigma * sigma, 3);
      expect(varY).toBeCloseTo(sigma * sigma, 3);
    }
    // Pillow's radius for sigma 2: l = 1, a = 0.375
    expect(boxBlurRadius(2)).toBeCloseTo(1.375, 6);
  });
});

describe('flip and the whole patch pipeline', () => {
  it('flipping twice is the identity and once mirrors the columns', () => {
    const image = randomImage(5, 3, 17);
    const once = horizontalFlip(image);
    expect(maxAbsDiff(horizontalFlip(once).data, image.data)).toBe(0);
    expect(maxAbsDiff(once.data, image.data)).toBeGreaterThan(0);
    for (let c = 0; c < 3; c++) expect(once.data[(1 * 5 + 0) * 3 + c]).toBe(image.data[(1 * 5 + 4) * 3 + c]);
  });

  it('augmentPatch uses the reference settings, gives size x size in [0, 1], deterministic per seed', () => {
    expect(referenceAugmentation).toEqual({
      cropScale: [0.2, 1],
      jitter: [0.4, 0.4, 0.4, 0.1],
      jitterP: 0.8,
      grayscaleP: 0.2,
      blurSigma: [0.1, 2],
      blurP: 0.5,
      flipP: 0.5,
    });
    const patch = randomImage(51, 51, 18);
    const a = augmentPatch(patch, 32, new Rng(3));
    const b = augmentPatch(patch, 32, new Rng(3));
    expect([a.width, a.height]).toEqual([32, 32]);
    expect(maxAbsDiff(a.data, b.data)).toBe(0);
    for (const v of a.data) {
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThanOrEqual(1);
    }
  });

  it('augmentPatch with every op off and scale (1, 1) is a plain resize of a square patch', () => {
    const patch = randomImage(40, 40, 19);
    const none = {
      cropScale: [1, 1] as [number, number],
      jitter: [0.4, 0.4, 0.4, 0.1] as [number, number, number, number],
      jitterP: 0,
      grayscaleP: 0,
      blurSigma: [0.1, 2] as [number, number],
      blurP: 0,
      flipP: 0,
    };
    const out = augmentPatch(patch, 16, new Rng(4), none);
    expect(maxAbsDiff(out.data, resizeBilinear(patch, 16, 16).data)).toBe(0);
    // every op on: grayscale always -> equal channels; flip always -> mirrored
    const gray = augmentPatch(patch, 16, new Rng(4), { ...none, grayscaleP: 1 });
    for (let i = 0; i < gray.data.length; i += 3) expect(gray.data[i]).toBe(gray.data[i + 1]);
    const flipped = augmentPatch(patch, 16, new Rng(4), { ...none, flipP: 1 });
    expect(maxAbsDiff(flipped.data, horizontalFlip(out).data)).toBe(0);
    const blurred = augmentPatch(patch, 16, new Rng(4), { ...none, blurP: 1, blurSigma: [1.2, 1.2] });
    expect(maxAbsDiff(blurred.data, gaussianBlur(out, 1.2).data)).toBe(0);
  });

  it('applies colour jitter with p = 0.8 and blur with p = 0.5', () => {
    // With crop scale (1, 1) on a square patch, flip and grayscale off, an output differs from the
    // plain resize only when jitter (blur off) or blur (jitter off) was applied.
    const patch = randomImage(20, 20, 22);
    const plain = resizeBilinear(patch, 10, 10).data;
    const base = { ...referenceAugmentation, cropScale: [1, 1] as [number, number], grayscaleP: 0, flipP: 0 };
    const rate = (aug: typeof base, seed: number): number => {
      const rng = new Rng(seed);
      let changed = 0;
      for (let i = 0; i < 1000; i++)
        if (maxAbsDiff(augmentPatch(patch, 10, rng, aug).data, plain) > 0) changed++;
      return changed / 1000;
    };
    expect(Math.abs(rate({ ...base, blurP: 0 }, 1) - 0.8)).toBeLessThan(0.04);
    expect(Math.abs(rate({ ...base, jitterP: 0 }, 2) - 0.5)).toBeLessThan(0.05);
  });

  it('applies each random op at about its probability', () => {
    // Count grayscale outputs (all channels equal) over many patches: p = 0.2.
    const patch = randomImage(24, 24, 20);
    const rng = new Rng(5);
    let gray = 0;
    const trials = 600;
    for (let i = 0; i < trials; i++) {
      const out = augmentPatch(patch, 8, rng);
      let equal = true;
      for (let p = 0; p < out.data.length && equal; p += 3)
        equal = out.data[p] === out.data[p + 1] && out.data[p] === out.data[p + 2];
      if (equal) gray++;
    }
    expect(gray / trials).toBeGreaterThan(0.15);
    expect(gray / trials).toBeLessThan(0.25);
  });
});

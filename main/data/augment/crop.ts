/**
 * RandomResizedCrop: torchvision's `get_params` exactly (area uniform in scale, log-uniform aspect
 * ratio, Python's round-half-even, 10 attempts, then the ratio-clamped center crop), then
 * Pillow's BILINEAR resize.
 */
import type { Rng } from '../rng';
import { checkImage, type FloatImage } from './image';
import { resampleInto } from './resize';

/** torchvision RandomResizedCrop's default aspect ratio range. */
export const defaultCropRatio: [number, number] = [3 / 4, 4 / 3];

/** Python 3's round(): halves go to the even neighbour (torchvision's `int(round(...))`). */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

export interface CropBox {
  x: number;
  y: number;
  w: number;
  h: number;
}

/**
 * torchvision `RandomResizedCrop.get_params` for a width x height image: up to 10 attempts of
 * target area = area * U(scale) and aspect = exp(U(log ratio)), w = round(sqrt(area * aspect)),
 * h = round(sqrt(area / aspect)), accepted if 0 < w <= width and 0 < h <= height, then the top
 * (randint 0..height-h) and left (randint 0..width-w) in that order; otherwise the center crop
 * of the whole image with its aspect ratio clamped to `ratio`.
 */
export function randomResizedCropBox(
  width: number,
  height: number,
  rng: Rng,
  scale: [number, number],
  ratio: [number, number],
): CropBox {
  const area = width * height;
  const logLo = Math.log(ratio[0]);
  const logHi = Math.log(ratio[1]);
  for (let attempt = 0; attempt < 10; attempt++) {
    const targetArea = area * rng.uniform(scale[0], scale[1]);
    const aspect = Math.exp(rng.uniform(logLo, logHi));
    const w = roundHalfEven(Math.sqrt(targetArea * aspect));
    const h = roundHalfEven(Math.sqrt(targetArea / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const y = rng.int(height - h + 1);
      const x = rng.int(width - w + 1);
      return { x, y, w, h };
    }
  }
  const inRatio = width / height;
  const minRatio = Math.min(ratio[0], ratio[1]);
  const maxRatio = Math.max(ratio[0], ratio[1]);
  let w: number;
  let h: number;
  if (inRatio < minRatio) {
    w = width;
    h = roundHalfEven(w / minRatio);
  } else if (inRatio > maxRatio) {
    h = height;
    w = roundHalfEven(h * maxRatio);
  } else {
    w = width;
    h = height;
  }
  return { x: Math.floor((width - w) / 2), y: Math.floor((height - h) / 2), w, h };
}

/** torchvision RandomResizedCrop(size, scale, ratio) with PIL BILINEAR resize to size x size. */
export function randomResizedCrop(
  image: FloatImage,
  size: number,
  rng: Rng,
  scale: [number, number] = [0.2, 1.0], // the reference's (referenceAugmentation.cropScale)
  ratio: [number, number] = defaultCropRatio,
): FloatImage {
  checkImage(image);
  const box = randomResizedCropBox(image.width, image.height, rng, scale, ratio);
  const data = new Float32Array(size * size * 3);
  resampleInto(image.data, image.width, box.x, box.y, box.w, box.h, size, size, data);
  return { data, width: size, height: size };
}

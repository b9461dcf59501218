/**
 * The per-patch augmentations of Jigsaw Clustering, on float RGB images in [0, 1] (HWC,
 * 3 channels, Float32Array): plain typed-array code with no tfjs, so it runs in a worker thread.
 *
 * The reference (github.com/dvlab-research/JigsawClustering, main.py) builds, for every patch,
 *
 *   transforms.RandomResizedCrop(crop_size, scale=(0.2, 1.0)),
 *   transforms.RandomApply([transforms.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
 *   transforms.RandomGrayscale(p=0.2),
 *   transforms.RandomApply([GaussianBlur([.1, 2.])], p=0.5),   # PIL ImageFilter.GaussianBlur
 *   transforms.RandomHorizontalFlip(),
 *   transforms.ToTensor(),
 *   transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
 *
 * and runs it on PIL images. What we match, op by op:
 * - RandomResizedCrop: torchvision's `get_params` exactly (area uniform in scale, log-uniform
 *   aspect ratio, Python's round-half-even, 10 attempts, then the ratio-clamped center crop),
 *   then PIL's BILINEAR resize (a triangle filter widened by the downscale factor, i.e.
 *   antialiased, same support, bounds and normalisation as Pillow's Resample.c).
 * - ColorJitter: torchvision's order of draws (a random permutation of the four ops, then the
 *   brightness, contrast, saturation, hue factors, each only if its strength is non-zero), the
 *   factor ranges [max(0, 1-x), 1+x] and [-h, h], and the four ops as blends with black, with the
 *   mean luma, with the per-pixel luma, and a hue rotation in HSV (torchvision's _rgb2hsv /
 *   _hsv2rgb), each clamped to [0, 1].
 * - RandomGrayscale: ITU-R 601-2 luma (0.299, 0.587, 0.114), PIL's convert('L'), on 3 channels.
 * - GaussianBlur: PIL's ImageFilter.GaussianBlur(radius=sigma), which is NOT a sampled Gaussian
 *   kernel but Pillow's three passes of an "extended" box blur per axis (BoxBlur.c, Gwosdek et
 *   al. 2011) whose fractional radius makes the total variance exactly sigma^2, with edge pixels
 *   replicated. We implement that same filter.
 * - RandomHorizontalFlip p = 0.5, ToTensor (x / 255), Normalize ((x - mean) / std; jigsaw.ts
 *   multiplies by 1 / std, which is within a float32 ulp).
 *
 * Deliberate differences: PIL works on 8-bit images, so the reference rounds to 0..255 after
 * every op (and every blur pass); we stay in float32 between ops (test/data/reference.test.ts
 * measures at most about one 8-bit level per op against Pillow). PIL's contrast uses the
 * integer-rounded mean of the L image, and torchvision's PIL hue shift works on 8-bit HSV; we use
 * the exact float mean of the luma and torchvision's float HSV (its tensor path): against
 * ColorJitter's PIL path the hue op is about 2 levels off on average (PIL's H has 256 steps and
 * the shift is truncated to whole steps), whole jitter chains 1 to 2.5. Random numbers
 * come from our seeded `Rng`, not torch's stream: same distributions and order of draws, other
 * numbers.
 */
import type { Rng } from '../rng';
import { gaussianBlurInPlace } from './blur';
import { colorJitterInPlace } from './color-jitter';
import { defaultCropRatio, randomResizedCropBox } from './crop';
import { horizontalFlip } from './flip';
import { grayscaleInPlace } from './grayscale';
import { checkImage, type FloatImage } from './image';
import { resampleInto } from './resize';

// One module per transform; this one composes them into the per-patch pipeline and is where
// the rest of the app imports them from.
export { boxBlurRadius, gaussianBlur } from './blur';
export { adjustBrightness, adjustContrast, adjustHue, adjustSaturation, applyColorJitter, colorJitter, colorJitterParams, type ColorJitterParams } from './color-jitter';
export { defaultCropRatio, randomResizedCrop, randomResizedCropBox, roundHalfEven, type CropBox } from './crop';
export { horizontalFlip } from './flip';
export { grayscale } from './grayscale';
export { cropRegion, imagenetMean, imagenetStd, toFloatImage, type FloatImage } from './image';
export { resizeBilinear } from './resize';

/** The per-patch augmentation settings; `referenceAugmentation` holds the reference's. */
export interface PatchAugmentation {
  /** RandomResizedCrop area fraction range. */
  cropScale: [number, number];
  /** ColorJitter brightness, contrast, saturation, hue. */
  jitter: [number, number, number, number];
  jitterP: number;
  grayscaleP: number;
  /** GaussianBlur sigma range (PIL radius). */
  blurSigma: [number, number];
  blurP: number;
  flipP: number;
}

/** The reference's settings (frozen, arrays included: copy it to change a field). */
export const referenceAugmentation: PatchAugmentation = Object.freeze({
  cropScale: Object.freeze([0.2, 1.0]),
  jitter: Object.freeze([0.4, 0.4, 0.4, 0.1]),
  jitterP: 0.8,
  grayscaleP: 0.2,
  blurSigma: Object.freeze([0.1, 2.0]),
  blurP: 0.5,
  flipP: 0.5,
}) as unknown as PatchAugmentation;

/** Throws a RangeError naming the first setting out of range. */
export function checkAugmentation(aug: PatchAugmentation): void {
  const { cropScale, blurSigma } = aug;
  if (!(cropScale[0] > 0 && cropScale[0] <= cropScale[1] && cropScale[1] <= 1))
    throw new RangeError(`cropScale must satisfy 0 < min <= max <= 1, got ${cropScale.join(', ')}`);
  if (!(blurSigma[0] >= 0 && blurSigma[0] <= blurSigma[1]))
    throw new RangeError(`blurSigma must satisfy 0 <= min <= max, got ${blurSigma.join(', ')}`);
  for (const [name, p] of [
    ['jitterP', aug.jitterP],
    ['grayscaleP', aug.grayscaleP],
    ['blurP', aug.blurP],
    ['flipP', aug.flipP],
  ] as const) {
    if (!(p >= 0 && p <= 1)) throw new RangeError(`${name} must be a probability in [0, 1], got ${p}`);
  }
}

/**
 * Augments the rectangle (rx, ry, rw, rh) of `src` into `out` (size * size * 3, not normalised):
 * RandomResizedCrop -> ColorJitter (p) -> RandomGrayscale (p) -> GaussianBlur (p). Returns
 * whether the caller should flip horizontally (RandomHorizontalFlip is drawn last, as in the
 * reference, and left to the caller so it can be fused with the final copy).
 */
export function augmentRegionInto(
  src: Float32Array,
  srcWidth: number,
  rx: number,
  ry: number,
  rw: number,
  rh: number,
  size: number,
  rng: Rng,
  aug: PatchAugmentation,
  out: Float32Array,
): boolean {
  const box = randomResizedCropBox(rw, rh, rng, aug.cropScale, defaultCropRatio);
  resampleInto(src, srcWidth, rx + box.x, ry + box.y, box.w, box.h, size, size, out);
  const length = size * size * 3;
  if (rng.next() < aug.jitterP) {
    const [b, c, s, h] = aug.jitter;
    colorJitterInPlace(out, length, rng, b, c, s, h);
  }
  if (rng.next() < aug.grayscaleP) grayscaleInPlace(out, length);
  if (rng.next() < aug.blurP)
    gaussianBlurInPlace(out, size, size, rng.uniform(aug.blurSigma[0], aug.blurSigma[1]));
  return rng.next() < aug.flipP;
}

/**
 * The reference per-patch pipeline, in MoCo v2 order: RandomResizedCrop(size) -> ColorJitter
 * (p) -> RandomGrayscale (p) -> GaussianBlur (p) -> RandomHorizontalFlip; NOT normalised.
 */
export function augmentPatch(
  patch: FloatImage,
  size: number,
  rng: Rng,
  aug: PatchAugmentation = referenceAugmentation,
): FloatImage {
  checkImage(patch);
  checkAugmentation(aug);
  if (!Number.isInteger(size) || size < 1)
    throw new RangeError(`size must be a positive integer, got ${size}`);
  const data = new Float32Array(size * size * 3);
  const flip = augmentRegionInto(
    patch.data,
    patch.width,
    0,
    0,
    patch.width,
    patch.height,
    size,
    rng,
    aug,
    data,
  );
  const image = { data, width: size, height: size };
  return flip ? horizontalFlip(image) : image;
}

/**
 * The Jigsaw Clustering pretext batch, in plain typed arrays (no tfjs), so a worker thread can
 * prepare batches while the main thread trains.
 *
 * How this matches the reference (github.com/dvlab-research/JigsawClustering):
 * - Patches (JigCluTransform in JigClu/loader.py): for m = 2 the reference crops
 *   [0, W//2 + c*W) and [W//2 - c*W, W) per axis with PIL's `Image.crop`, which rounds the box
 *   with Python's round (half to even). `patchRects` computes floor(k*W/m) -/+ c*W and rounds the
 *   same way, so for m = 2 the rectangles are the reference's to the pixel (odd sizes included).
 *   m = 3 follows the same rule (the reference code only has m = 2).
 * - Each patch gets its own draw of the augmentation (augment.ts), then ImageNet normalisation.
 * - ONE permutation of all n*m*m patches of the batch (`torch.randperm(n*4)` in
 *   JigClu._batch_gather_ddp), tiled back into n montages of m x m cells.
 * Deliberate differences, none of which changes what the network sees or learns:
 * - Indexing. The reference stacks patches location-major (index = loc*n + image) and fills
 *   montage b's cell k (row-major) from permuted slot k*n + b; we index patches image-major
 *   (image*m*m + loc) and slots montage-major (b*m*m + k). Both are a uniformly random bijection
 *   between the n*m*m patches and the n*m*m montage cells, and the labels are kept per slot in the
 *   order the engine reads its m x m pooled features (montage b, cell k -> b*m*m + k).
 * - Location ids. Because the reference's loader reads `h, w = x.size` (PIL gives width, height),
 *   its four crops come out as top-left, bottom-left, top-right, bottom-right: location ids are
 *   column-major there. We number locations row-major (r*m + c); the ids are only class names
 *   for the location head, so this relabelling is immaterial.
 * - Order of random draws: we draw the permutation first and then the patch augmentations
 *   (image by image, location by location), so each patch can be written straight into its cell.
 */
import {
  augmentRegionInto,
  checkAugmentation,
  imagenetMean,
  imagenetStd,
  referenceAugmentation,
  resizeBilinear,
  roundHalfEven,
  type FloatImage,
  type PatchAugmentation,
} from './augment';
import type { Rng } from './rng';

export interface JigsawConfig {
  /** m: patches per side (2 is the reference, 3 allowed). */
  grid: number;
  /** s: the side of one augmented patch; montages are grid * crop pixels. */
  crop: number;
  /** c: the cross (overlap) ratio, 0.3 in the reference. */
  cross: number;
  /** The per-patch augmentation; left out = the reference's; null = none (plain resize), for tests and visualisation. */
  augmentation?: PatchAugmentation | null;
}

export interface PatchRect {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** One axis of `patchRects`: [floor(k*L/m) - cross*L, floor((k+1)*L/m) + cross*L) rounded half-even, clipped to [0, L]. */
function axisSpans(length: number, grid: number, cross: number): { start: number; size: number }[] {
  const overlap = cross * length;
  const spans: { start: number; size: number }[] = [];
  for (let k = 0; k < grid; k++) {
    const start = k === 0 ? 0 : Math.max(0, roundHalfEven(Math.floor((k * length) / grid) - overlap));
    const end =
      k === grid - 1
        ? length
        : Math.min(length, roundHalfEven(Math.floor(((k + 1) * length) / grid) + overlap));
    spans.push({ start, size: Math.max(1, end - start) });
  }
  return spans;
}

/**
 * The m*m overlapping patch rectangles of a W x H image: cell (row r, col c) spans
 * [c*W/m - cross*W, (c+1)*W/m + cross*W) clipped to [0, W], the same for rows, with the cell
 * boundaries floor(k*W/m) and the bounds rounded half to even exactly as the reference's PIL crop
 * does; for m = 2 that is the reference's [0, W//2 + cW) and [W//2 - cW, W). Location index = r*m + c.
 */
export function patchRects(width: number, height: number, grid: number, cross: number): PatchRect[] {
  checkGeometry(width, height, grid, cross);
  const xs = axisSpans(width, grid, cross);
  const ys = axisSpans(height, grid, cross);
  const rects: PatchRect[] = [];
  for (const row of ys)
    for (const col of xs) rects.push({ x: col.start, y: row.start, w: col.size, h: row.size });
  return rects;
}

function checkGeometry(width: number, height: number, grid: number, cross: number): void {
  if (!Number.isInteger(grid) || grid < 1)
    throw new RangeError(`grid must be a positive integer, got ${grid}`);
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < grid || height < grid) {
    throw new RangeError(`a ${width}x${height} image is too small for a ${grid}x${grid} grid`);
  }
  if (!(cross >= 0 && cross <= 0.5)) throw new RangeError(`cross must be in [0, 0.5], got ${cross}`);
}

export interface JigsawBatch {
  n: number;
  grid: number;
  crop: number;
  /** grid * crop: the montage side. */
  size: number;
  /** [n, size, size, 3] NHWC, ImageNet-normalised. */
  montages: Float32Array;
  /** [n*grid*grid]: montage b, cell k (row-major) at b*grid*grid + k -> source image 0..n-1. */
  clusterLabels: Int32Array;
  /** Same indexing -> the location 0..grid*grid-1 (r*grid + c) the patch had in its source. */
  locationLabels: Int32Array;
  /** Slot b*grid*grid + k holds original patch permutation[slot] (patch = image*grid*grid + location). */
  permutation: Int32Array;
}

let patchScratch = new Float32Array(0);

/**
 * Writes a size x size patch (dense HWC) into cell (row, col) of montage b, ImageNet-normalised,
 * mirrored if `flip`.
 */
function writeCell(
  patch: Float32Array,
  crop: number,
  montages: Float32Array,
  size: number,
  b: number,
  row: number,
  col: number,
  flip: boolean,
): void {
  const m0 = imagenetMean[0];
  const m1 = imagenetMean[1];
  const m2 = imagenetMean[2];
  const s0 = 1 / imagenetStd[0];
  const s1 = 1 / imagenetStd[1];
  const s2 = 1 / imagenetStd[2];
  const montageBase = b * size * size * 3;
  for (let y = 0; y < crop; y++) {
    let d = montageBase + ((row * crop + y) * size + col * crop) * 3;
    const rowStart = y * crop * 3;
    for (let x = 0; x < crop; x++, d += 3) {
      const s = rowStart + (flip ? crop - 1 - x : x) * 3;
      montages[d] = (patch[s]! - m0) * s0;
      montages[d + 1] = (patch[s + 1]! - m1) * s1;
      montages[d + 2] = (patch[s + 2]! - m2) * s2;
    }
  }
}

/**
 * Cuts each image into grid x grid overlapping patches, augments each patch independently,
 * shuffles ALL n*grid*grid patches with ONE permutation across the whole batch, and tiles them
 * back into n montages.
 */
export function makeJigsawBatch(images: FloatImage[], config: JigsawConfig, rng: Rng): JigsawBatch {
  const { grid, crop, cross } = config;
  const augmentation = config.augmentation === undefined ? referenceAugmentation : config.augmentation;
  const n = images.length;
  if (n < 1) throw new RangeError('a jigsaw batch needs at least one image');
  if (!Number.isInteger(crop) || crop < 1)
    throw new RangeError(`crop must be a positive integer, got ${crop}`);
  if (augmentation) checkAugmentation(augmentation);
  const cells = grid * grid;
  const size = grid * crop;
  const total = n * cells;

  const permutation = rng.permutation(total);
  const clusterLabels = new Int32Array(total);
  const locationLabels = new Int32Array(total);
  const slotOf = new Int32Array(total);
  for (let slot = 0; slot < total; slot++) {
    const patch = permutation[slot]!;
    clusterLabels[slot] = Math.floor(patch / cells);
    locationLabels[slot] = patch % cells;
    slotOf[patch] = slot;
  }

  const montages = new Float32Array(n * size * size * 3);
  const patchLength = crop * crop * 3;
  if (patchScratch.length < patchLength) patchScratch = new Float32Array(patchLength);
  const patch = patchScratch;
  for (let image = 0; image < n; image++) {
    const source = images[image]!;
    if (source.data.length !== source.width * source.height * 3)
      throw new RangeError(
        `image ${image} has ${source.data.length} values, expected ${source.width}x${source.height}x3`,
      );
    const rects = patchRects(source.width, source.height, grid, cross);
    for (let location = 0; location < cells; location++) {
      const rect = rects[location]!;
      let flip = false;
      if (augmentation) {
        flip = augmentRegionInto(
          source.data,
          source.width,
          rect.x,
          rect.y,
          rect.w,
          rect.h,
          crop,
          rng,
          augmentation,
          patch,
        );
      } else {
        const cropped = cropAndResize(source, rect, crop);
        patch.set(cropped);
      }
      const slot = slotOf[image * cells + location]!;
      const b = Math.floor(slot / cells);
      const k = slot % cells;
      writeCell(patch, crop, montages, size, b, Math.floor(k / grid), k % grid, flip);
    }
  }
  return { n, grid, crop, size, montages, clusterLabels, locationLabels, permutation };
}

/** The un-augmented patch: the rectangle resized to crop x crop (PIL bilinear). */
function cropAndResize(image: FloatImage, rect: PatchRect, crop: number): Float32Array {
  const { x, y, w, h } = rect;
  const region = new Float32Array(w * h * 3);
  for (let row = 0; row < h; row++) {
    const from = ((y + row) * image.width + x) * 3;
    region.set(image.data.subarray(from, from + w * 3), row * w * 3);
  }
  return resizeBilinear({ data: region, width: w, height: h }, crop, crop).data;
}

/**
 * Whole-image evaluation input, like torchvision Resize(size) + CenterCrop(size): the short side
 * resized to `size` (long side int(size * long / short)), PIL bilinear, then the centre
 * size x size (offsets round((L - size) / 2)); ImageNet-normalised, NHWC [n, size, size, 3].
 */
export function evalBatch(images: FloatImage[], size: number): Float32Array {
  if (!Number.isInteger(size) || size < 1)
    throw new RangeError(`size must be a positive integer, got ${size}`);
  const out = new Float32Array(images.length * size * size * 3);
  const plane = size * size * 3;
  for (let i = 0; i < images.length; i++) {
    const image = images[i]!;
    const short = Math.min(image.width, image.height);
    const long = Math.max(image.width, image.height);
    const newLong = Math.trunc((size * long) / short);
    const newWidth = image.width <= image.height ? size : newLong;
    const newHeight = image.width <= image.height ? newLong : size;
    const resized =
      newWidth === image.width && newHeight === image.height
        ? image
        : resizeBilinear(image, newWidth, newHeight);
    const top = roundHalfEven((newHeight - size) / 2);
    const left = roundHalfEven((newWidth - size) / 2);
    const patch = new Float32Array(plane);
    for (let y = 0; y < size; y++) {
      const from = ((top + y) * newWidth + left) * 3;
      patch.set(resized.data.subarray(from, from + size * 3), y * size * 3);
    }
    const base = i * plane;
    for (let p = 0; p < plane; p += 3) {
      out[base + p] = (patch[p]! - imagenetMean[0]) / imagenetStd[0];
      out[base + p + 1] = (patch[p + 1]! - imagenetMean[1]) / imagenetStd[1];
      out[base + p + 2] = (patch[p + 2]! - imagenetMean[2]) / imagenetStd[2];
    }
  }
  return out;
}

/** For display: one montage un-normalised to RGBA bytes (size x size x 4) for a canvas or PNG. */
export function montageToRgba(batch: JigsawBatch, index: number): Uint8ClampedArray {
  if (!Number.isInteger(index) || index < 0 || index >= batch.n)
    throw new RangeError(`montage index ${index} is not in 0..${batch.n - 1}`);
  const { size } = batch;
  const pixels = size * size;
  const out = new Uint8ClampedArray(pixels * 4);
  const base = index * pixels * 3;
  const src = batch.montages;
  for (let p = 0; p < pixels; p++) {
    const s = base + p * 3;
    const d = p * 4;
    // Uint8ClampedArray clamps to 0..255 and rounds half to even.
    out[d] = (src[s]! * imagenetStd[0] + imagenetMean[0]) * 255;
    out[d + 1] = (src[s + 1]! * imagenetStd[1] + imagenetMean[1]) * 255;
    out[d + 2] = (src[s + 2]! * imagenetStd[2] + imagenetMean[2]) * 255;
    out[d + 3] = 255;
  }
  return out;
}

/**
 * Pillow's BILINEAR resize (Resample.c precompute_coeffs) in float: a triangle filter widened by
 * the downscale factor (antialiased), same support, bounds and normalisation as Pillow's.
 */
import { checkImage, type FloatImage } from './image';

/** Reusable scratch buffers (one module instance per thread, and no function here re-enters). */
let scratchBounds = new Int32Array(0);
let scratchWeights = new Float64Array(0);
let scratchBoundsV = new Int32Array(0);
let scratchWeightsV = new Float64Array(0);
let scratchRows = new Float32Array(0);

interface Coefficients {
  ksize: number;
  bounds: Int32Array; // [xmin, count] per output pixel
  weights: Float64Array; // ksize per output pixel, normalised
}

/**
 * Pillow's precompute_coeffs for the triangle filter (support 1) over an input of inSize pixels
 * resized to outSize: center = (xx + 0.5) * scale, support widened by max(scale, 1), bounds
 * rounded and clipped to the input, weights normalised to sum 1.
 */
function bilinearCoefficients(inSize: number, outSize: number, vertical: boolean): Coefficients {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  let bounds = vertical ? scratchBoundsV : scratchBounds;
  let weights = vertical ? scratchWeightsV : scratchWeights;
  if (bounds.length < outSize * 2) bounds = new Int32Array(outSize * 2);
  if (weights.length < outSize * ksize) weights = new Float64Array(outSize * ksize);
  if (vertical) {
    scratchBoundsV = bounds;
    scratchWeightsV = weights;
  } else {
    scratchBounds = bounds;
    scratchWeights = weights;
  }
  const invScale = 1 / filterScale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    const count = xmax - xmin;
    const base = xx * ksize;
    let total = 0;
    for (let x = 0; x < count; x++) {
      let t = (x + xmin - center + 0.5) * invScale;
      if (t < 0) t = -t;
      const w = t < 1 ? 1 - t : 0;
      weights[base + x] = w;
      total += w;
    }
    if (total !== 0) for (let x = 0; x < count; x++) weights[base + x] = weights[base + x]! / total;
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = count;
  }
  return { ksize, bounds, weights };
}

/**
 * Resizes the rectangle (rx, ry, rw, rh) of `src` (srcWidth pixels per row) to outW x outH into
 * `out` (dense, outW * outH * 3), like PIL's `img.crop(box).resize((outW, outH), BILINEAR)`:
 * horizontal pass then vertical pass, a pass skipped when that side keeps its size.
 */
export function resampleInto(
  src: Float32Array,
  srcWidth: number,
  rx: number,
  ry: number,
  rw: number,
  rh: number,
  outW: number,
  outH: number,
  out: Float32Array,
): void {
  const outRow = outW * 3;
  // Rows of the region the vertical pass reads.
  let yFirst = 0;
  let yCount = rh;
  let vertical: Coefficients | null = null;
  if (rh !== outH) {
    vertical = bilinearCoefficients(rh, outH, true);
    const { bounds } = vertical;
    yFirst = bounds[0]!;
    yCount = bounds[(outH - 1) * 2]! + bounds[(outH - 1) * 2 + 1]! - yFirst;
  }

  // Horizontal pass into `rows` (yCount x outW x 3), or straight into `out` if no vertical pass.
  let rows: Float32Array;
  if (vertical === null) {
    rows = out;
  } else {
    if (scratchRows.length < yCount * outRow) scratchRows = new Float32Array(yCount * outRow);
    rows = scratchRows;
  }
  if (rw !== outW) {
    const { ksize, bounds, weights } = bilinearCoefficients(rw, outW, false);
    for (let y = 0; y < yCount; y++) {
      const srcRow = ((ry + yFirst + y) * srcWidth + rx) * 3;
      const dstRow = y * outRow;
      for (let xx = 0; xx < outW; xx++) {
        const xmin = bounds[xx * 2]!;
        const count = bounds[xx * 2 + 1]!;
        const kBase = xx * ksize;
        let s0 = 0;
        let s1 = 0;
        let s2 = 0;
        let p = srcRow + xmin * 3;
        for (let k = 0; k < count; k++, p += 3) {
          const w = weights[kBase + k]!;
          s0 += src[p]! * w;
          s1 += src[p + 1]! * w;
          s2 += src[p + 2]! * w;
        }
        const d = dstRow + xx * 3;
        rows[d] = s0;
        rows[d + 1] = s1;
        rows[d + 2] = s2;
      }
    }
  } else {
    for (let y = 0; y < yCount; y++) {
      const from = ((ry + yFirst + y) * srcWidth + rx) * 3;
      rows.set(src.subarray(from, from + outRow), y * outRow);
    }
  }
  if (vertical === null) return;

  const { ksize, bounds, weights } = vertical;
  for (let yy = 0; yy < outH; yy++) {
    const ymin = bounds[yy * 2]! - yFirst;
    const count = bounds[yy * 2 + 1]!;
    const kBase = yy * ksize;
    const dst = yy * outRow;
    // First tap initialises the row, the others accumulate (a tight, cache-friendly loop).
    const w0 = weights[kBase]!;
    let p = ymin * outRow;
    for (let i = 0; i < outRow; i++) out[dst + i] = rows[p + i]! * w0;
    for (let k = 1; k < count; k++) {
      const w = weights[kBase + k]!;
      p = (ymin + k) * outRow;
      for (let i = 0; i < outRow; i++) out[dst + i] = out[dst + i]! + rows[p + i]! * w;
    }
  }
}

/** PIL-style BILINEAR (antialiased) resize of the whole image to width x height. */
export function resizeBilinear(image: FloatImage, width: number, height: number): FloatImage {
  checkImage(image);
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1)
    throw new RangeError(`resize target must be positive integers, got ${width}x${height}`);
  const data = new Float32Array(width * height * 3);
  resampleInto(image.data, image.width, 0, 0, image.width, image.height, width, height, data);
  return { data, width, height };
}

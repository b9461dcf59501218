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
import type { Rng } from './rng';

/** An RGB image, row-major, 3 interleaved channels (HWC), values in [0, 1]. */
export interface FloatImage {
  data: Float32Array;
  width: number;
  height: number;
}

export const imagenetMean: [number, number, number] = [0.485, 0.456, 0.406];
export const imagenetStd: [number, number, number] = [0.229, 0.224, 0.225];

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

/** torchvision RandomResizedCrop's default aspect ratio range. */
export const defaultCropRatio: [number, number] = [3 / 4, 4 / 3];

const lumaR = 0.299;
const lumaG = 0.587;
const lumaB = 0.114;

/** i / 255 for every byte, as ToTensor computes it. */
const byteToFloat = new Float32Array(256);
for (let i = 0; i < 256; i++) byteToFloat[i] = i / 255;

function checkImage(image: FloatImage): void {
  if (
    !Number.isInteger(image.width) ||
    !Number.isInteger(image.height) ||
    image.width < 1 ||
    image.height < 1
  ) {
    throw new RangeError(`image size must be positive integers, got ${image.width}x${image.height}`);
  }
  if (image.data.length !== image.width * image.height * 3) {
    throw new RangeError(
      `image data has ${image.data.length} values, expected ${image.width}x${image.height}x3`,
    );
  }
}

/** 8-bit RGB (e.g. from decodeImage) to floats in [0, 1], like ToTensor. */
export function toFloatImage(rgb: Uint8Array | Buffer, width: number, height: number): FloatImage {
  if (rgb.length !== width * height * 3)
    throw new RangeError(`expected ${width}x${height}x3 = ${width * height * 3} bytes, got ${rgb.length}`);
  const data = new Float32Array(rgb.length);
  for (let i = 0; i < rgb.length; i++) data[i] = byteToFloat[rgb[i]!]!;
  return { data, width, height };
}

/** Copies the w x h rectangle at (x0, y0), which must lie inside the image. */
export function cropRegion(image: FloatImage, x0: number, y0: number, w: number, h: number): FloatImage {
  checkImage(image);
  if (
    ![x0, y0, w, h].every(Number.isInteger) ||
    x0 < 0 ||
    y0 < 0 ||
    w < 1 ||
    h < 1 ||
    x0 + w > image.width ||
    y0 + h > image.height
  ) {
    throw new RangeError(
      `crop ${w}x${h} at (${x0}, ${y0}) is not inside the ${image.width}x${image.height} image`,
    );
  }
  const data = new Float32Array(w * h * 3);
  const rowLength = w * 3;
  for (let y = 0; y < h; y++) {
    const from = ((y0 + y) * image.width + x0) * 3;
    data.set(image.data.subarray(from, from + rowLength), y * rowLength);
  }
  return { data, width: w, height: h };
}

// ---------------------------------------------------------------------------------------------
// Resampling: Pillow's BILINEAR resize (Resample.c precompute_coeffs), in float.

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
function resampleInto(
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

// ---------------------------------------------------------------------------------------------
// RandomResizedCrop

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
  scale: [number, number] = referenceAugmentation.cropScale,
  ratio: [number, number] = defaultCropRatio,
): FloatImage {
  checkImage(image);
  const box = randomResizedCropBox(image.width, image.height, rng, scale, ratio);
  const data = new Float32Array(size * size * 3);
  resampleInto(image.data, image.width, box.x, box.y, box.w, box.h, size, size, data);
  return { data, width: size, height: size };
}

// ---------------------------------------------------------------------------------------------
// Colour ops, in place on a dense HWC buffer of `pixels` pixels.

function clamp01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

/** adjust_brightness: blend with black, f * x, clamped. */
function brightnessInPlace(data: Float32Array, length: number, factor: number): void {
  for (let i = 0; i < length; i++) data[i] = clamp01(data[i]! * factor);
}

/** adjust_contrast: blend with the mean luma of the image. */
function contrastInPlace(data: Float32Array, length: number, factor: number): void {
  let sum = 0;
  for (let i = 0; i < length; i += 3) sum += lumaR * data[i]! + lumaG * data[i + 1]! + lumaB * data[i + 2]!;
  const mean = sum / (length / 3);
  const offset = (1 - factor) * mean;
  for (let i = 0; i < length; i++) data[i] = clamp01(factor * data[i]! + offset);
}

/** adjust_saturation: blend with the pixel's own luma. */
function saturationInPlace(data: Float32Array, length: number, factor: number): void {
  const keep = 1 - factor;
  for (let i = 0; i < length; i += 3) {
    const r = data[i]!;
    const g = data[i + 1]!;
    const b = data[i + 2]!;
    const gray = keep * (lumaR * r + lumaG * g + lumaB * b);
    data[i] = clamp01(factor * r + gray);
    data[i + 1] = clamp01(factor * g + gray);
    data[i + 2] = clamp01(factor * b + gray);
  }
}

/** adjust_hue: rotate the hue by `shift` turns in HSV (torchvision's _rgb2hsv / _hsv2rgb). */
function hueInPlace(data: Float32Array, length: number, shift: number): void {
  for (let i = 0; i < length; i += 3) {
    const r = data[i]!;
    const g = data[i + 1]!;
    const b = data[i + 2]!;
    const maxc = r > g ? (r > b ? r : b) : g > b ? g : b;
    const minc = r < g ? (r < b ? r : b) : g < b ? g : b;
    if (maxc === minc) continue; // a grey pixel: saturation 0, any hue gives the same colour
    const cr = maxc - minc;
    const s = cr / maxc;
    const inv = 1 / cr;
    // torchvision: hr = bc - gc, hg = 2 + rc - bc, hb = 4 + gc - rc with xc = (maxc - x) / cr,
    // which simplify to the differences below; then fmod(h / 6 + 1, 1) and (h + shift) mod 1,
    // written with floor (exact, and far cheaper than `%` on doubles).
    let h: number;
    if (maxc === r) h = (g - b) * inv;
    else if (maxc === g) h = 2 + (b - r) * inv;
    else h = 4 + (r - g) * inv;
    h = h / 6 + 1;
    h -= Math.floor(h);
    h += shift;
    h -= Math.floor(h);
    const h6 = h * 6;
    const sector = Math.floor(h6);
    const f = h6 - sector;
    const v = maxc;
    const p = clamp01(v * (1 - s));
    const q = clamp01(v * (1 - s * f));
    const t = clamp01(v * (1 - s * (1 - f)));
    switch (sector >= 6 ? 0 : sector) {
      case 0:
        data[i] = v;
        data[i + 1] = t;
        data[i + 2] = p;
        break;
      case 1:
        data[i] = q;
        data[i + 1] = v;
        data[i + 2] = p;
        break;
      case 2:
        data[i] = p;
        data[i + 1] = v;
        data[i + 2] = t;
        break;
      case 3:
        data[i] = p;
        data[i + 1] = q;
        data[i + 2] = v;
        break;
      case 4:
        data[i] = t;
        data[i + 1] = p;
        data[i + 2] = v;
        break;
      default:
        data[i] = v;
        data[i + 1] = p;
        data[i + 2] = q;
        break;
    }
  }
}

function adjusted(
  image: FloatImage,
  op: (data: Float32Array, length: number, factor: number) => void,
  factor: number,
): FloatImage {
  checkImage(image);
  const data = image.data.slice();
  op(data, data.length, factor);
  return { data, width: image.width, height: image.height };
}

/** torchvision adjust_brightness: x * factor, clamped to [0, 1]. */
export function adjustBrightness(image: FloatImage, factor: number): FloatImage {
  return adjusted(image, brightnessInPlace, factor);
}

/** torchvision adjust_contrast: blend with the image's mean luma, clamped. */
export function adjustContrast(image: FloatImage, factor: number): FloatImage {
  return adjusted(image, contrastInPlace, factor);
}

/** torchvision adjust_saturation: blend with each pixel's luma, clamped. */
export function adjustSaturation(image: FloatImage, factor: number): FloatImage {
  return adjusted(image, saturationInPlace, factor);
}

/** torchvision adjust_hue: rotate hue by `shift` turns (in [-0.5, 0.5]) in HSV. */
export function adjustHue(image: FloatImage, shift: number): FloatImage {
  if (!(shift >= -0.5 && shift <= 0.5))
    throw new RangeError(`hue shift must be in [-0.5, 0.5], got ${shift}`);
  return adjusted(image, hueInPlace, shift);
}

/** One draw of ColorJitter's parameters: the order of the ops (0 brightness, 1 contrast, 2 saturation, 3 hue) and the factors (null = op off). */
export interface ColorJitterParams {
  order: Int32Array;
  brightness: number | null;
  contrast: number | null;
  saturation: number | null;
  hue: number | null;
}

/**
 * torchvision ColorJitter.get_params: a random permutation of the four ops, then the brightness,
 * contrast, saturation and hue factors in that order, uniform on [max(0, 1 - x), 1 + x] (hue on
 * [-h, h]); a strength of 0 is torchvision's `None`: no factor is drawn and the op is skipped.
 */
export function colorJitterParams(
  rng: Rng,
  brightness: number,
  contrast: number,
  saturation: number,
  hue: number,
): ColorJitterParams {
  if (!(brightness >= 0 && contrast >= 0 && saturation >= 0))
    throw new RangeError('colour jitter strengths must be non-negative');
  if (!(hue >= 0 && hue <= 0.5)) throw new RangeError(`hue jitter must be in [0, 0.5], got ${hue}`);
  const order = rng.permutation(4);
  return {
    order,
    brightness: brightness > 0 ? rng.uniform(Math.max(0, 1 - brightness), 1 + brightness) : null,
    contrast: contrast > 0 ? rng.uniform(Math.max(0, 1 - contrast), 1 + contrast) : null,
    saturation: saturation > 0 ? rng.uniform(Math.max(0, 1 - saturation), 1 + saturation) : null,
    hue: hue > 0 ? rng.uniform(-hue, hue) : null,
  };
}

/** One drawn ColorJitter applied in place: the ops in `params.order`, those switched off skipped. */
function applyColorJitterInPlace(data: Float32Array, length: number, params: ColorJitterParams): void {
  for (let k = 0; k < 4; k++) {
    const op = params.order[k]!;
    if (op === 0 && params.brightness !== null) brightnessInPlace(data, length, params.brightness);
    else if (op === 1 && params.contrast !== null) contrastInPlace(data, length, params.contrast);
    else if (op === 2 && params.saturation !== null) saturationInPlace(data, length, params.saturation);
    else if (op === 3 && params.hue !== null) hueInPlace(data, length, params.hue);
  }
}

/** ColorJitter with the given strengths, in place. */
function colorJitterInPlace(
  data: Float32Array,
  length: number,
  rng: Rng,
  brightness: number,
  contrast: number,
  saturation: number,
  hue: number,
): void {
  applyColorJitterInPlace(data, length, colorJitterParams(rng, brightness, contrast, saturation, hue));
}

/** One drawn ColorJitter (`colorJitterParams`) applied to a copy of the image. */
export function applyColorJitter(image: FloatImage, params: ColorJitterParams): FloatImage {
  checkImage(image);
  const data = image.data.slice();
  applyColorJitterInPlace(data, data.length, params);
  return { data, width: image.width, height: image.height };
}

/**
 * torchvision ColorJitter(brightness, contrast, saturation, hue): the factors are drawn on each
 * call, the four ops applied in a random order, each result clamped to [0, 1]. A strength of 0
 * disables that op. Returns a new image.
 */
export function colorJitter(
  image: FloatImage,
  rng: Rng,
  brightness = 0.4,
  contrast = 0.4,
  saturation = 0.4,
  hue = 0.1,
): FloatImage {
  checkImage(image);
  const data = image.data.slice();
  colorJitterInPlace(data, data.length, rng, brightness, contrast, saturation, hue);
  return { data, width: image.width, height: image.height };
}

function grayscaleInPlace(data: Float32Array, length: number): void {
  for (let i = 0; i < length; i += 3) {
    const l = lumaR * data[i]! + lumaG * data[i + 1]! + lumaB * data[i + 2]!;
    data[i] = l;
    data[i + 1] = l;
    data[i + 2] = l;
  }
}

/** ITU-R 601-2 luma (0.299 R + 0.587 G + 0.114 B) replicated to the 3 channels. */
export function grayscale(image: FloatImage): FloatImage {
  checkImage(image);
  const data = image.data.slice();
  grayscaleInPlace(data, data.length);
  return { data, width: image.width, height: image.height };
}

// ---------------------------------------------------------------------------------------------
// Gaussian blur: Pillow's ImageFilter.GaussianBlur = 3 extended-box passes per axis.

const blurPasses = 3;

/** Pillow's _gaussian_blur_radius: the fractional box radius whose `passes` passes have variance sigma^2. */
export function boxBlurRadius(sigma: number, passes = blurPasses): number {
  const sigma2 = (sigma * sigma) / passes;
  const L = Math.sqrt(12 * sigma2 + 1);
  const l = Math.floor((L - 1) / 2);
  let a = (2 * l + 1) * (l * (l + 1) - 3 * sigma2);
  a /= 6 * (sigma2 - (l + 1) * (l + 1));
  return l + a;
}

let blurLine = new Float64Array(0);
let blurLineOut = new Float64Array(0);
let blurImage = new Float32Array(0);
let blurAcc = new Float64Array(0);

/**
 * `passes` horizontal extended-box passes over every row, in place, 3 channels at once: each
 * output is ww * (sum of the 2r+1 nearest samples) + fw * (the two next ones), with the row's end
 * pixels replicated outwards, as Pillow's ImagingLineBoxBlur.
 */
function horizontalBoxPasses(
  data: Float32Array,
  width: number,
  height: number,
  r: number,
  ww: number,
  fw: number,
  passes: number,
): void {
  const pad = r + 1;
  const lineLength = (width + 2 * pad) * 3;
  if (blurLine.length < lineLength) {
    blurLine = new Float64Array(lineLength);
    blurLineOut = new Float64Array(lineLength);
  }
  const window = 2 * r + 1;
  const row3 = width * 3;
  const lastStart = (pad + width - 1) * 3;
  for (let y = 0; y < height; y++) {
    let src = blurLine;
    let dst = blurLineOut;
    const base = y * row3;
    for (let i = 0; i < row3; i++) src[pad * 3 + i] = data[base + i]!;
    for (let pass = 0; pass < passes; pass++) {
      const f0 = src[pad * 3]!;
      const f1 = src[pad * 3 + 1]!;
      const f2 = src[pad * 3 + 2]!;
      const l0 = src[lastStart]!;
      const l1 = src[lastStart + 1]!;
      const l2 = src[lastStart + 2]!;
      for (let p = 0; p < pad; p++) {
        src[p * 3] = f0;
        src[p * 3 + 1] = f1;
        src[p * 3 + 2] = f2;
        const q = (pad + width + p) * 3;
        src[q] = l0;
        src[q + 1] = l1;
        src[q + 2] = l2;
      }
      // Padded index j holds pixel j - pad; output x reads j = x+1 .. x+window (the box) and
      // j = x, x+window+1 (the fractional taps).
      let a0 = 0;
      let a1 = 0;
      let a2 = 0;
      for (let j = 1; j <= window; j++) {
        a0 += src[j * 3]!;
        a1 += src[j * 3 + 1]!;
        a2 += src[j * 3 + 2]!;
      }
      for (let x = 0; x < width; x++) {
        const near = x * 3;
        const far = (x + window + 1) * 3;
        const out = (pad + x) * 3;
        dst[out] = a0 * ww + (src[near]! + src[far]!) * fw;
        dst[out + 1] = a1 * ww + (src[near + 1]! + src[far + 1]!) * fw;
        dst[out + 2] = a2 * ww + (src[near + 2]! + src[far + 2]!) * fw;
        a0 += src[far]! - src[near + 3]!;
        a1 += src[far + 1]! - src[near + 4]!;
        a2 += src[far + 2]! - src[near + 5]!;
      }
      const swap = src;
      src = dst;
      dst = swap;
    }
    for (let i = 0; i < row3; i++) data[base + i] = src[pad * 3 + i]!;
  }
}

/** One vertical extended-box pass from `src` to `dst`, whole rows at a time (rows clamped at the edges). */
function verticalBoxPass(
  src: Float32Array,
  dst: Float32Array,
  row3: number,
  height: number,
  r: number,
  ww: number,
  fw: number,
): void {
  if (blurAcc.length < row3) blurAcc = new Float64Array(row3);
  const acc = blurAcc;
  const last = height - 1;
  for (let i = 0; i < row3; i++) acc[i] = 0;
  for (let k = -r; k <= r; k++) {
    const row = (k < 0 ? 0 : k > last ? last : k) * row3;
    for (let i = 0; i < row3; i++) acc[i] = acc[i]! + src[row + i]!;
  }
  for (let y = 0; y < height; y++) {
    const up = y - r - 1;
    const down = y + r + 1;
    const leaving = y - r;
    const farUp = (up < 0 ? 0 : up) * row3;
    const farDown = (down > last ? last : down) * row3;
    const leave = (leaving < 0 ? 0 : leaving > last ? last : leaving) * row3;
    const out = y * row3;
    for (let i = 0; i < row3; i++) {
      const a = acc[i]!;
      const entering = src[farDown + i]!;
      dst[out + i] = a * ww + (src[farUp + i]! + entering) * fw;
      acc[i] = a + entering - src[leave + i]!;
    }
  }
}

function gaussianBlurInPlace(data: Float32Array, width: number, height: number, sigma: number): void {
  if (!(sigma >= 0)) throw new RangeError(`blur sigma must be >= 0, got ${sigma}`);
  if (sigma === 0) return;
  const radius = boxBlurRadius(sigma);
  if (!(radius > 0)) return; // Pillow copies the image for a zero radius
  // Pillow: ww = 1 / (2R + 1) for the 2r + 1 inner taps, fw = (1 - (2r + 1) ww) / 2 for the two outer ones.
  const r = Math.trunc(radius);
  const ww = 1 / (2 * radius + 1);
  const fw = (1 - (2 * r + 1) * ww) / 2;
  horizontalBoxPasses(data, width, height, r, ww, fw, blurPasses);
  const row3 = width * 3;
  const length = row3 * height;
  if (blurImage.length < length) blurImage = new Float32Array(length);
  const tmp = blurImage;
  let src: Float32Array = data;
  let dst: Float32Array = tmp;
  for (let pass = 0; pass < blurPasses; pass++) {
    verticalBoxPass(src, dst, row3, height, r, ww, fw);
    const swap = src;
    src = dst;
    dst = swap;
  }
  if (src !== data) data.set(src.subarray(0, length));
}

/**
 * Pillow's ImageFilter.GaussianBlur(radius=sigma), as MoCo v2's / the reference's GaussianBlur
 * calls it: separable, three extended-box passes per axis, edges replicated. Returns a new image.
 */
export function gaussianBlur(image: FloatImage, sigma: number): FloatImage {
  checkImage(image);
  const data = image.data.slice();
  gaussianBlurInPlace(data, image.width, image.height, sigma);
  return { data, width: image.width, height: image.height };
}

/** Mirrors the image left-right. Returns a new image. */
export function horizontalFlip(image: FloatImage): FloatImage {
  checkImage(image);
  const { width, height } = image;
  const src = image.data;
  const data = new Float32Array(src.length);
  for (let y = 0; y < height; y++) {
    const row = y * width * 3;
    for (let x = 0; x < width; x++) {
      const s = row + x * 3;
      const d = row + (width - 1 - x) * 3;
      data[d] = src[s]!;
      data[d + 1] = src[s + 1]!;
      data[d + 2] = src[s + 2]!;
    }
  }
  return { data, width, height };
}

// ---------------------------------------------------------------------------------------------
// The whole per-patch pipeline.

function checkAugmentation(aug: PatchAugmentation): void {
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

export { checkAugmentation };

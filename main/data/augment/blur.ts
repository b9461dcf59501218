/**
 * GaussianBlur as Pillow's ImageFilter.GaussianBlur(radius=sigma): NOT a sampled Gaussian kernel
 * but three passes of an "extended" box blur per axis (BoxBlur.c, Gwosdek et al. 2011) whose
 * fractional radius makes the total variance exactly sigma^2, with edge pixels replicated.
 */
import { checkImage, type FloatImage } from './image';

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

/** The blur in place on a dense width x height HWC buffer. */
export function gaussianBlurInPlace(data: Float32Array, width: number, height: number, sigma: number): void {
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

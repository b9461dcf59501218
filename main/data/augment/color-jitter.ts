/**
 * ColorJitter: torchvision's order of draws (a random permutation of the four ops, then the
 * brightness, contrast, saturation and hue factors, each only if its strength is non-zero) and
 * its four ops as blends with black, with the mean luma, with each pixel's luma, and a hue
 * rotation in HSV (its tensor path), each clamped to [0, 1]. The in-place forms work on a dense
 * HWC buffer of `length` floats.
 */
import type { Rng } from '../rng';
import { checkImage, lumaB, lumaG, lumaR, type FloatImage } from './image';

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
export function colorJitterInPlace(
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

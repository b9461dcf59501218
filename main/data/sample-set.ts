/**
 * The bundled sample set: a small, license-clean (generated, public domain / CC0) image set so
 * `jigclu pretrain` and the app's first launch have something to train on out of the box.
 *
 * Four classes of 96 x 96 images, visually distinct in shape and texture, with random positions,
 * sizes, colours, rotations and a little sensor-like noise:
 *   circles  - filled discs and rings on a plain background
 *   stripes  - two-colour stripes at a random angle, period and duty cycle
 *   checkers - a rotated two-colour checkerboard
 *   blobs    - soft Gaussian blobs over a smooth linear gradient
 * Everything is a pure function of the seed (our sfc32 `Rng`, plain arithmetic and V8's
 * deterministic Math), so regenerating gives the same pixels; resources/sample holds seed 7.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { Rng } from './rng';

export const sampleClasses = ['circles', 'stripes', 'checkers', 'blobs'] as const;
export type SampleClass = (typeof sampleClasses)[number];
export const sampleImageSize = 96;
export const sampleImagesPerClass = 24;
export const sampleSeed = 7;

type Rgb = [number, number, number];

/** HSV (all in [0, 1]) to RGB in [0, 1]. */
function hsv(h: number, s: number, v: number): Rgb {
  const h6 = (((h % 1) + 1) % 1) * 6;
  const i = Math.floor(h6);
  const f = h6 - i;
  const p = v * (1 - s);
  const q = v * (1 - s * f);
  const t = v * (1 - s * (1 - f));
  switch (i % 6) {
    case 0:
      return [v, t, p];
    case 1:
      return [q, v, p];
    case 2:
      return [p, v, t];
    case 3:
      return [p, q, v];
    case 4:
      return [t, p, v];
    default:
      return [v, p, q];
  }
}

function randomColour(
  rng: Rng,
  saturation: [number, number] = [0.45, 1],
  value: [number, number] = [0.35, 1],
): Rgb {
  return hsv(rng.next(), rng.uniform(saturation[0], saturation[1]), rng.uniform(value[0], value[1]));
}

/** Two colours that differ clearly (opposite-ish hues and different brightness). */
function contrastingPair(rng: Rng): [Rgb, Rgb] {
  const hue = rng.next();
  const first = hsv(hue, rng.uniform(0.5, 1), rng.uniform(0.7, 1));
  const second = hsv(hue + rng.uniform(0.3, 0.7), rng.uniform(0.3, 1), rng.uniform(0.15, 0.5));
  return rng.next() < 0.5 ? [first, second] : [second, first];
}

function clamp01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

/** A float RGB canvas, row-major HWC. */
class Canvas {
  readonly data: Float64Array;

  constructor(readonly size: number) {
    this.data = new Float64Array(size * size * 3);
  }

  fill(colour: Rgb): void {
    for (let i = 0; i < this.data.length; i += 3) this.data.set(colour, i);
  }

  /** Blends `colour` over pixel (x, y) with opacity `alpha`. */
  blend(x: number, y: number, colour: Rgb, alpha: number): void {
    if (alpha <= 0) return;
    const i = (y * this.size + x) * 3;
    const a = alpha > 1 ? 1 : alpha;
    for (let c = 0; c < 3; c++) this.data[i + c] = this.data[i + c]! * (1 - a) + colour[c]! * a;
  }
}

function drawCircles(canvas: Canvas, rng: Rng): void {
  const { size } = canvas;
  const light = rng.next() < 0.5;
  canvas.fill(hsv(rng.next(), rng.uniform(0, 0.35), light ? rng.uniform(0.8, 1) : rng.uniform(0.05, 0.3)));
  const palette = [randomColour(rng), randomColour(rng)];
  const count = 3 + rng.int(6);
  for (let k = 0; k < count; k++) {
    const cx = rng.uniform(0, size);
    const cy = rng.uniform(0, size);
    const radius = rng.uniform(6, 22);
    const ring = rng.next() < 0.35 ? rng.uniform(2, 5) : 0;
    const colour = palette[rng.int(palette.length)]!;
    for (
      let y = Math.max(0, Math.floor(cy - radius - 1));
      y < Math.min(size, Math.ceil(cy + radius + 1));
      y++
    ) {
      for (
        let x = Math.max(0, Math.floor(cx - radius - 1));
        x < Math.min(size, Math.ceil(cx + radius + 1));
        x++
      ) {
        const d = Math.hypot(x + 0.5 - cx, y + 0.5 - cy);
        // Anti-aliased coverage from the signed distance to the edge(s).
        const inside = radius - d;
        const coverage = ring > 0 ? Math.min(inside, d - (radius - ring)) + 0.5 : inside + 0.5;
        canvas.blend(x, y, colour, clamp01(coverage));
      }
    }
  }
}

function drawStripes(canvas: Canvas, rng: Rng): void {
  const { size } = canvas;
  const [a, b] = contrastingPair(rng);
  const period = rng.uniform(8, 24);
  const angle = rng.uniform(0, Math.PI);
  const phase = rng.next();
  const duty = rng.uniform(0.35, 0.65);
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const t = ((x + 0.5) * cos + (y + 0.5) * sin) / period + phase;
      const s = t - Math.floor(t);
      // Distance (in pixels) to the nearest stripe edge, signed positive inside colour a.
      const inA = s < duty;
      const edge = Math.min(s, Math.abs(s - duty), 1 - s) * period;
      const coverage = clamp01(0.5 + (inA ? edge : -edge));
      const i = (y * size + x) * 3;
      for (let c = 0; c < 3; c++) canvas.data[i + c] = a[c]! * coverage + b[c]! * (1 - coverage);
    }
  }
}

function drawCheckers(canvas: Canvas, rng: Rng): void {
  const { size } = canvas;
  const [a, b] = contrastingPair(rng);
  const cell = rng.uniform(8, 20);
  const angle = rng.uniform(0, Math.PI / 2);
  const ox = rng.uniform(0, cell);
  const oy = rng.uniform(0, cell);
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const px = x + 0.5 - ox;
      const py = y + 0.5 - oy;
      const u = (px * cos + py * sin) / cell;
      const v = (-px * sin + py * cos) / cell;
      const fu = u - Math.floor(u);
      const fv = v - Math.floor(v);
      const parity = (Math.floor(u) + Math.floor(v)) & 1;
      const edge = Math.min(fu, 1 - fu, fv, 1 - fv) * cell;
      // Own colour fully inside a square, a 50/50 mix on its border.
      const own = 0.5 + Math.min(edge, 0.5);
      const [p, q] = parity ? [a, b] : [b, a];
      const i = (y * size + x) * 3;
      for (let c = 0; c < 3; c++) canvas.data[i + c] = p[c]! * own + q[c]! * (1 - own);
    }
  }
}

function drawBlobs(canvas: Canvas, rng: Rng): void {
  const { size } = canvas;
  const from = randomColour(rng, [0.2, 0.8], [0.3, 1]);
  const to = randomColour(rng, [0.2, 0.8], [0.3, 1]);
  const angle = rng.uniform(0, 2 * Math.PI);
  const gx = Math.cos(angle);
  const gy = Math.sin(angle);
  const half = size / 2;
  const span = (Math.abs(gx) + Math.abs(gy)) * half;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const t = clamp01(0.5 + ((x + 0.5 - half) * gx + (y + 0.5 - half) * gy) / (2 * span));
      const i = (y * size + x) * 3;
      for (let c = 0; c < 3; c++) canvas.data[i + c] = from[c]! * (1 - t) + to[c]! * t;
    }
  }
  const count = 2 + rng.int(4);
  for (let k = 0; k < count; k++) {
    const cx = rng.uniform(0, size);
    const cy = rng.uniform(0, size);
    const sigma = rng.uniform(6, 18);
    const strength = rng.uniform(0.6, 1);
    const colour = randomColour(rng);
    const inv = 1 / (2 * sigma * sigma);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const dx = x + 0.5 - cx;
        const dy = y + 0.5 - cy;
        canvas.blend(x, y, colour, strength * Math.exp(-(dx * dx + dy * dy) * inv));
      }
    }
  }
}

const painters: Record<SampleClass, (canvas: Canvas, rng: Rng) => void> = {
  circles: drawCircles,
  stripes: drawStripes,
  checkers: drawCheckers,
  blobs: drawBlobs,
};

/** One sample image as 8-bit RGB (size * size * 3 bytes), from its own random stream. */
export function renderSampleImage(kind: SampleClass, rng: Rng, size = sampleImageSize): Uint8Array {
  const canvas = new Canvas(size);
  painters[kind](canvas, rng);
  // Mild Gaussian grain on about a third of the images, one draw per pixel on all three
  // channels (noise is what makes a PNG big: this keeps the whole set under 1 MB).
  const noise = rng.next() < 1 / 3 ? rng.uniform(0.004, 0.012) : 0;
  const out = new Uint8Array(size * size * 3);
  for (let i = 0; i < out.length; i += 3) {
    const grain = noise * rng.normal();
    for (let c = 0; c < 3; c++) out[i + c] = Math.round(clamp01(canvas.data[i + c]! + grain) * 255);
  }
  return out;
}

/** The random stream of image `index` of class number `classIndex`: independent per image. */
export function sampleImageRng(seed: number, classIndex: number, index: number): Rng {
  return new Rng(seed * 4096 + classIndex * 256 + index);
}

/** Relative path of one sample image: `<class>/<class>-NN.png`, NN from 01. */
export function sampleImagePath(kind: SampleClass, index: number): string {
  return path.join(kind, `${kind}-${String(index + 1).padStart(2, '0')}.png`);
}

/** Encodes 8-bit RGB as PNG with fixed settings (no metadata), so the bytes depend only on the pixels. */
export function encodePng(rgb: Uint8Array, width: number, height: number): Promise<Buffer> {
  return sharp(rgb, { raw: { width, height, channels: 3 } })
    .png({ compressionLevel: 9, adaptiveFiltering: true, palette: false })
    .toBuffer();
}

/**
 * Writes the sample set into outDir/<class>/<class>-NN.png (4 classes x 24 images, 96 x 96),
 * deterministic from `seed`. Returns the written paths relative to outDir.
 */
export async function generateSampleSet(outDir: string, seed = sampleSeed): Promise<string[]> {
  const written: string[] = [];
  for (let c = 0; c < sampleClasses.length; c++) {
    const kind = sampleClasses[c]!;
    await fs.mkdir(path.join(outDir, kind), { recursive: true });
    for (let i = 0; i < sampleImagesPerClass; i++) {
      const rgb = renderSampleImage(kind, sampleImageRng(seed, c, i));
      const file = sampleImagePath(kind, i);
      await fs.writeFile(path.join(outDir, file), await encodePng(rgb, sampleImageSize, sampleImageSize));
      written.push(file);
    }
  }
  return written;
}

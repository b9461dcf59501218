/** Pure data helpers for the charts: smoothing, downsampling, a bounded live buffer and axis ticks. No DOM. */

/** One point of a curve, in data units (x is usually the training step). */
export interface ChartPoint {
  x: number;
  y: number;
}

/** One curve handed to `LineChart.vue`. */
export interface ChartSeriesSpec {
  name: string;
  points: ChartPoint[];
  /** CSS colour; the default palette otherwise. */
  color?: string;
  /** EMA weight in [0, 0.999]: draws the raw curve faint (alpha 0.25) and the smoothed one solid. */
  smooth?: number;
  /** The right axis suits e.g. the learning rate or an accuracy next to a loss. */
  axis?: 'left' | 'right';
  dashed?: boolean;
  /** Draw dots, for sparse series such as a kNN accuracy per epoch. */
  markers?: boolean;
}

/** The colours series get when they name none, in order. */
export const chartPalette = [
  '#6aa9ff',
  '#f2b35c',
  '#5fd08a',
  '#ef6b6b',
  '#b48cff',
  '#4fd1d9',
  '#ff8fc8',
  '#c2c96a',
];

/**
 * TensorBoard-style debiased exponential moving average. `weight` is clamped to [0, 0.999]; 0 returns
 * copies of the points. Points with a non-finite y keep their y and do not enter the average, so a
 * NaN loss shows as a gap instead of poisoning the rest of the curve. The result has one point per input.
 */
export function emaSmooth(points: ChartPoint[], weight: number): ChartPoint[] {
  const w = Number.isFinite(weight) ? Math.min(0.999, Math.max(0, weight)) : 0;
  let last = 0;
  let count = 0;
  return points.map(({ x, y }) => {
    if (w === 0 || !Number.isFinite(y)) return { x, y };
    last = last * w + (1 - w) * y;
    count += 1;
    return { x, y: last / (1 - Math.pow(w, count)) };
  });
}

/**
 * Reduces points (in x order) for drawing: the x range is split into `buckets` equal buckets and each
 * keeps its first, min, max and last point, in x order and without duplicates, so spikes survive.
 * At most 4 × buckets points come back; input of that size or smaller comes back unchanged.
 */
export function downsampleMinMax(points: ChartPoint[], buckets: number): ChartPoint[] {
  const n = Math.max(1, Math.floor(buckets));
  if (points.length <= 4 * n) return points;
  const x0 = points[0]!.x;
  const span = points[points.length - 1]!.x - x0;
  if (!(span > 0)) return points;
  const out: ChartPoint[] = [];
  let bucket = -1;
  let first = 0;
  let min = -1;
  let max = -1;
  const flush = (last: number): void => {
    const keep = [...new Set([first, min, max, last].filter((i) => i >= 0))].sort((a, b) => a - b);
    for (const i of keep) out.push(points[i]!);
  };
  points.forEach((p, i) => {
    const b = Math.min(n - 1, Math.floor(((p.x - x0) / span) * n));
    if (b !== bucket) {
      if (bucket >= 0) flush(i - 1);
      bucket = b;
      first = i;
      min = max = -1;
    }
    if (Number.isFinite(p.y)) {
      if (min < 0 || p.y < points[min]!.y) min = i;
      if (max < 0 || p.y > points[max]!.y) max = i;
    }
  });
  flush(points.length - 1);
  return out;
}

/** Index of the point whose x is nearest to `x` in points sorted by x; -1 when there are none. */
export function nearestIndex(points: ChartPoint[], x: number): number {
  if (points.length === 0) return -1;
  let lo = 0;
  let hi = points.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (points[mid]!.x <= x) lo = mid;
    else hi = mid;
  }
  return Math.abs(points[hi]!.x - x) < Math.abs(points[lo]!.x - x) ? hi : lo;
}

/**
 * An append-only buffer for a live curve that stays under `maxPoints`. When it overflows, the newest
 * half stays exact and the older part loses resolution: runs of old points are averaged in pairs, or in
 * runs of 4, 8, … (weighted by how many raw points each already stands for, so old stretches stay evenly
 * sampled) until it fits in 3/8 of `maxPoints`. A 100,000-step run thus stays bounded while recent points stay exact.
 */
export class LiveSeries {
  readonly maxPoints: number;
  private buf: ChartPoint[] = [];
  private weights: number[] = [];
  private pushed = 0;
  private snapshot: ChartPoint[] | undefined;

  constructor(maxPoints = 2000) {
    this.maxPoints = Math.max(8, Math.floor(maxPoints));
  }

  /** Appends a point; ignores one whose x is not finite or not after the last x (a re-sent step). */
  push(point: ChartPoint): void {
    const last = this.buf[this.buf.length - 1];
    if (!Number.isFinite(point.x) || (last && point.x <= last.x)) return;
    this.buf.push({ x: point.x, y: point.y });
    this.weights.push(1);
    this.pushed += 1;
    this.snapshot = undefined;
    if (this.buf.length > this.maxPoints) this.compact();
  }

  /** Empties the buffer and pushes `points` (e.g. a run's history loaded from disk). */
  reset(points: ChartPoint[] = []): void {
    this.buf = [];
    this.weights = [];
    this.pushed = 0;
    this.snapshot = undefined;
    for (const p of points) this.push(p);
  }

  /** The current points, x increasing; the same array until the next push or reset. */
  get points(): ChartPoint[] {
    this.snapshot ??= this.buf.slice();
    return this.snapshot;
  }

  /** Number of points held now. */
  get length(): number {
    return this.buf.length;
  }

  /** Number of points accepted since the last reset. */
  get totalPushed(): number {
    return this.pushed;
  }

  private compact(): void {
    const oldCount = this.buf.length - Math.floor(this.maxPoints / 2);
    const target = Math.floor((this.maxPoints * 3) / 8);
    let raw = 0;
    for (let i = 0; i < oldCount; i++) raw += this.weights[i]!;
    let stride = 2;
    while (raw / stride > target - 1) stride *= 2;
    const points: ChartPoint[] = [];
    const weights: number[] = [];
    let w = 0;
    let sx = 0;
    let sy = 0;
    let wy = 0;
    const emit = (): void => {
      points.push({ x: sx / w, y: wy > 0 ? sy / wy : NaN });
      weights.push(w);
      w = sx = sy = wy = 0;
    };
    for (let i = 0; i < oldCount; i++) {
      const p = this.buf[i]!;
      const pw = this.weights[i]!;
      w += pw;
      sx += p.x * pw;
      if (Number.isFinite(p.y)) {
        sy += p.y * pw;
        wy += pw;
      }
      if (w >= stride) emit();
    }
    if (w > 0) emit();
    this.buf = points.concat(this.buf.slice(oldCount));
    this.weights = weights.concat(this.weights.slice(oldCount));
  }
}

/** About `count` round tick values (steps of 1, 2, 2.5 or 5 × 10^k) from at or below min to at or above max. */
export function niceTicks(min: number, max: number, count: number): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (min > max) [min, max] = [max, min];
  // A range that is only rounding noise wide (a value and its smoothed copy) is one value:
  // a step that small would make `i` too large to count with (i++ would stop changing it).
  if (max - min <= 1e-9 * Math.max(Math.abs(min), Math.abs(max))) {
    const pad = min === 0 ? 1 : Math.abs(min) * 0.1;
    min -= pad;
    max += pad;
  }
  const raw = (max - min) / Math.max(1, Math.round(count));
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const norm = raw / mag;
  const step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 2.5 ? 2.5 : norm <= 5 ? 5 : 10) * mag;
  const start = Math.floor(min / step + 1e-9);
  const end = Math.ceil(max / step - 1e-9);
  const ticks: number[] = [];
  // Never more than a few hundred ticks, whatever the input.
  if (!(end - start < 1000)) return [min, max];
  for (let i = start; i <= end; i++) ticks.push(Number((i * step).toPrecision(12)));
  return ticks;
}

/** Ticks for a log axis: powers of ten covering [min, max] (min > 0), with 2 and 5 between when the span is short. */
export function logTicks(min: number, max: number): number[] {
  if (!(min > 0) || !(max > 0) || !Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (min > max) [min, max] = [max, min];
  const lo = Math.floor(Math.log10(min) + 1e-9);
  const hi = Math.max(lo + 1, Math.ceil(Math.log10(max) - 1e-9));
  const every = Math.ceil((hi - lo) / 8);
  const ticks: number[] = [];
  for (let e = lo; ; e += every) {
    const decade = Number(Math.pow(10, e).toPrecision(12));
    ticks.push(decade);
    if (e >= hi) break;
    if (hi - lo <= 2) ticks.push(decade * 2, decade * 5);
  }
  return ticks.map((t) => Number(t.toPrecision(12)));
}

/** A compact tick label: 0, 12, 0.25, 0.0031, 3e-5, 1.2k, 3.5M, 2G. */
export function formatTick(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs === 0) return '0';
  for (const [unit, size] of [
    ['G', 1e9],
    ['M', 1e6],
    ['k', 1e3],
  ] as const) {
    if (abs >= size) return String(Number((value / size).toPrecision(4))) + unit;
  }
  if (abs >= 1e-3) return String(Number(value.toPrecision(4)));
  return value.toExponential(2).replace(/\.?0+e/, 'e');
}

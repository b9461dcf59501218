/** Pure data helpers for the charts: the curve types, smoothing and a bounded live buffer. No DOM; uPlot draws. */

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

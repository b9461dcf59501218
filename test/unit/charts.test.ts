import { describe, expect, it } from 'vitest';
import { flatLossChange, lossTrend, minTrendPoints } from '../../renderer/src/components/runs/chart-data';
import {
  downsampleMinMax,
  emaSmooth,
  formatTick,
  LiveSeries,
  logTicks,
  nearestIndex,
  niceTicks,
  type ChartPoint,
} from '../../renderer/src/charts/series';

const pts = (ys: number[]): ChartPoint[] => ys.map((y, x) => ({ x, y }));

describe('emaSmooth', () => {
  it('matches a hand-computed debiased EMA', () => {
    // weight 0.5: last = 0.5, 0.25 + 1 = 1.25, 0.625 + 1.5 = 2.125; debiased by 1 - 0.5^n = 0.5, 0.75, 0.875.
    const out = emaSmooth(pts([1, 2, 3]), 0.5);
    expect(out.map((p) => p.x)).toEqual([0, 1, 2]);
    expect(out[0]!.y).toBeCloseTo(1, 12);
    expect(out[1]!.y).toBeCloseTo(1.25 / 0.75, 12);
    expect(out[2]!.y).toBeCloseTo(2.125 / 0.875, 12);
  });

  it('is the identity at weight 0 and skips non-finite values without breaking the average', () => {
    expect(emaSmooth(pts([3, 1, 4]), 0)).toEqual(pts([3, 1, 4]));
    const out = emaSmooth(pts([1, NaN, 2, Infinity, 3]), 0.5);
    const clean = emaSmooth(pts([1, 2, 3]), 0.5);
    expect(out[1]!.y).toBeNaN();
    expect(out[3]!.y).toBe(Infinity);
    expect([out[0]!.y, out[2]!.y, out[4]!.y]).toEqual(clean.map((p) => p.y));
  });
});

describe('downsampleMinMax', () => {
  const noisy = Array.from({ length: 10_000 }, (_, x) => ({
    x,
    y: Math.sin(x / 50) + (x === 4321 ? 9 : 0) - (x === 777 ? 7 : 0),
  }));

  it('keeps the first and last points, the global min and max, x order, and at most 4 points per bucket', () => {
    const out = downsampleMinMax(noisy, 100);
    expect(out.length).toBeLessThanOrEqual(400);
    expect(out[0]).toBe(noisy[0]);
    expect(out[out.length - 1]).toBe(noisy[noisy.length - 1]);
    expect(Math.max(...out.map((p) => p.y))).toBe(Math.max(...noisy.map((p) => p.y)));
    expect(Math.min(...out.map((p) => p.y))).toBe(Math.min(...noisy.map((p) => p.y)));
    for (let i = 1; i < out.length; i++) expect(out[i]!.x).toBeGreaterThan(out[i - 1]!.x);
  });

  it('returns small input unchanged', () => {
    const small = pts([1, 2, 3]);
    expect(downsampleMinMax(small, 10)).toBe(small);
  });
});

describe('LiveSeries', () => {
  it('stays bounded over 100,000 pushes with the newest points exact and x increasing', () => {
    const s = new LiveSeries(2000);
    let longest = 0;
    for (let x = 0; x < 100_000; x++) {
      s.push({ x, y: Math.exp(-x / 20_000) });
      longest = Math.max(longest, s.length);
    }
    expect(longest).toBeLessThanOrEqual(2000);
    expect(s.totalPushed).toBe(100_000);
    const p = s.points;
    expect(p.slice(-100)).toEqual(
      Array.from({ length: 100 }, (_, i) => ({ x: 99_900 + i, y: Math.exp(-(99_900 + i) / 20_000) })),
    );
    for (let i = 1; i < p.length; i++) expect(p[i]!.x).toBeGreaterThan(p[i - 1]!.x);
    expect(p[0]!.x).toBeLessThan(500); // the oldest points are averages of the first steps
    // The older part stays sampled across the whole run, not just its end.
    expect(p.filter((q) => q.x < 50_000).length).toBeGreaterThan(100);
  });

  it('ignores re-sent and older steps, and reset replaces the content', () => {
    const s = new LiveSeries(100);
    s.push({ x: 1, y: 1 });
    s.push({ x: 2, y: 2 });
    s.push({ x: 2, y: 5 });
    s.push({ x: 1, y: 5 });
    expect(s.points).toEqual([
      { x: 1, y: 1 },
      { x: 2, y: 2 },
    ]);
    expect(s.totalPushed).toBe(2);
    s.reset(pts([4, 5, 6]));
    expect(s.length).toBe(3);
    expect(s.points.map((q) => q.y)).toEqual([4, 5, 6]);
  });
});

describe('ticks', () => {
  it('niceTicks covers the range with round steps', () => {
    for (const [lo, hi] of [
      [0, 1],
      [0.0123, 0.987],
      [-3.2, 17.9],
      [1234, 98_765],
      [5, 5],
      [2e-5, 3e-4],
    ] as const) {
      const t = niceTicks(lo, hi, 5);
      expect(t[0]!).toBeLessThanOrEqual(lo);
      expect(t[t.length - 1]!).toBeGreaterThanOrEqual(hi);
      expect(t.length).toBeGreaterThanOrEqual(2);
      expect(t.length).toBeLessThanOrEqual(12);
    }
    expect(niceTicks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
  });

  it('logTicks covers the range with powers of ten', () => {
    expect(logTicks(3e-5, 2e-3)).toEqual([1e-5, 1e-4, 1e-3, 1e-2]);
    expect(logTicks(0.2, 5)).toEqual([0.1, 0.2, 0.5, 1, 2, 5, 10]);
    expect(logTicks(0, 1)).toEqual([]);
  });

  it('formatTick is compact', () => {
    expect([0, 12, 0.25, 0.0031, 3e-5, 2.5e-5, 1200, 3_500_000, -1500].map(formatTick)).toEqual([
      '0',
      '12',
      '0.25',
      '0.0031',
      '3e-5',
      '2.5e-5',
      '1.2k',
      '3.5M',
      '-1.5k',
    ]);
  });

  it('nearestIndex finds the closest x', () => {
    const p = [
      { x: 0, y: 0 },
      { x: 10, y: 0 },
      { x: 20, y: 0 },
    ];
    expect([-5, 4, 6, 19, 99].map((x) => nearestIndex(p, x))).toEqual([0, 0, 1, 2, 2]);
    expect(nearestIndex([], 1)).toBe(-1);
  });
});

describe('niceTicks on a range that is only rounding noise wide', () => {
  it('returns a few ticks around the value instead of looping forever', () => {
    const ticks = niceTicks(184.2, 184.20000000000002, 5);
    expect(ticks.length).toBeGreaterThan(1);
    expect(ticks.length).toBeLessThan(20);
    expect(ticks[0]).toBeLessThanOrEqual(184.2);
    expect(ticks.at(-1)).toBeGreaterThanOrEqual(184.2);
  });
});

describe('loss trend (the hint under the loss chart)', () => {
  const curve = (ys: number[]) => ys.map((y, i) => ({ x: (i + 1) * 10, y }));

  it('needs enough points, then compares the last quarter with the one before', () => {
    expect(lossTrend(curve(Array.from({ length: minTrendPoints - 1 }, () => 1)))).toBeUndefined();
    // 40 points falling by 1 each: last quarter mean 5.5, the one before 15.5.
    const falling = lossTrend(curve(Array.from({ length: 40 }, (_, i) => 40 - i)))!;
    expect(falling.change).toBeCloseTo((5.5 - 15.5) / 15.5, 10);
    expect(falling.steps).toBe(400 - 210);
    expect(falling.change).toBeLessThan(-flatLossChange);
    // Flat with noise around 6.4: counts as flat.
    const flat = lossTrend(curve(Array.from({ length: 40 }, (_, i) => 6.4 + (i % 2 ? 0.01 : -0.01))))!;
    expect(Math.abs(flat.change)).toBeLessThan(flatLossChange);
    // Non-finite points are skipped, not averaged.
    expect(lossTrend(curve([...Array.from({ length: 40 }, () => 2), NaN]))!.change).toBe(0);
  });
});

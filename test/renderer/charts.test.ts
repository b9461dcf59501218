import { describe, expect, it } from 'vitest';
import { flatLossChange, lossTrend, minTrendPoints } from '../../renderer/src/components/runs/chart-data';
import { formatValue, plotData } from '../../renderer/src/charts/plot-data';
import { emaSmooth, LiveSeries, type ChartPoint } from '../../renderer/src/charts/series';

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

describe('plotData', () => {
  it('aligns curves with different x on one x array, spanning missing x and gapping bad values', () => {
    const { lines, data } = plotData(
      [
        {
          name: 'loss',
          points: [
            { x: 0, y: 2 },
            { x: 2, y: NaN },
            { x: 4, y: 1 },
          ],
        },
        {
          name: 'lr',
          points: [
            { x: 1, y: 0.1 },
            { x: 4, y: 0.05 },
          ],
          axis: 'right',
        },
      ],
      false,
    );
    expect(lines.map((l) => [l.name, l.scale, l.faint])).toEqual([
      ['loss', 'y', false],
      ['lr', 'y2', false],
    ]);
    expect(data[0]).toEqual([0, 1, 2, 4]);
    // Missing x: undefined (uPlot spans it); a NaN loss: null (a gap).
    expect(data[1]).toEqual([2, undefined, null, 1]);
    expect(data[2]).toEqual([undefined, 0.1, undefined, 0.05]);
  });

  it('draws a smoothed curve as a faint raw line and a solid EMA line, and drops non-positive values on a log axis', () => {
    const points = [1, 0, 3].map((y, x) => ({ x, y }));
    const { lines, data } = plotData([{ name: 'loss', points, smooth: 0.5 }], true);
    expect(lines.map((l) => l.faint)).toEqual([true, false]);
    expect(data[1]).toEqual([1, null, 3]);
    expect(data[2]).toEqual(emaSmooth(points, 0.5).map((p) => (p.y > 0 ? p.y : null)));
  });

  it('keeps 100,000 points of a curve (uPlot draws them all; nothing is thinned here)', () => {
    const points = Array.from({ length: 100_000 }, (_, x) => ({ x, y: Math.sin(x / 100) }));
    const { data } = plotData([{ name: 'loss', points }], false);
    expect(data[0]).toHaveLength(100_000);
    expect(data[1]![54_321]).toBe(points[54_321]!.y);
  });

  it('formats tick and tooltip values briefly', () => {
    expect([0, 12, 0.123456, 123456, 0.0001234, NaN].map((v) => formatValue(v))).toEqual([
      '0',
      '12',
      '0.123',
      '1.2e5',
      '1.2e-4',
      '–',
    ]);
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

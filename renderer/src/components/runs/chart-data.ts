import type { ChartPoint } from '../../charts/series';

/**
 * Guards for what the run views hand to LineChart. An axis asked to span a range that is only
 * float noise wide (one point and its smoothed copy, 184.2 and 184.20000000000002) makes the
 * tick maker loop, so a curve is smoothed only once its values really differ, and values are
 * rounded to 6 significant digits.
 */

/** The smoothing weight to use for a curve, or undefined while it has no real spread. */
export function safeSmooth(points: ChartPoint[], weight: number): number | undefined {
  if (!(weight > 0) || points.length < 2) return undefined;
  let lo = Infinity;
  let hi = -Infinity;
  for (const point of points) {
    if (!Number.isFinite(point.y)) continue;
    if (point.y < lo) lo = point.y;
    if (point.y > hi) hi = point.y;
  }
  return hi - lo > Math.max(Math.abs(hi), Math.abs(lo)) * 1e-6 ? weight : undefined;
}

/** Points with y rounded to 6 significant digits (and scaled, e.g. by 100 for percentages). */
export function rounded(points: ChartPoint[], scale = 1): ChartPoint[] {
  return points.map((point) => ({ x: point.x, y: Number.isFinite(point.y) ? Number((point.y * scale).toPrecision(6)) : point.y }));
}

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

/** How the loss moved lately: the mean of its last quarter against the quarter before. */
export interface LossTrend {
  /** Steps the comparison spans (two quarters of the curve). */
  steps: number;
  /** Relative change of the mean loss: -0.12 = 12% lower than the quarter before. */
  change: number;
}

/** The fewest points a trend is read from (fewer say nothing about a plateau). */
export const minTrendPoints = 20;

/** Below this relative change over the last half of the curve the loss counts as flat. */
export const flatLossChange = 0.01;

/** The recent trend of a loss curve (points in step order), or undefined with too few points. */
export function lossTrend(points: ChartPoint[]): LossTrend | undefined {
  const finite = points.filter((point) => Number.isFinite(point.y));
  if (finite.length < minTrendPoints) return undefined;
  const quarter = Math.floor(finite.length / 4);
  const mean = (list: ChartPoint[]) => list.reduce((sum, point) => sum + point.y, 0) / list.length;
  const last = finite.slice(-quarter);
  const before = finite.slice(-2 * quarter, -quarter);
  const reference = mean(before);
  if (!(Math.abs(reference) > 0)) return undefined;
  return { steps: last.at(-1)!.x - before[0]!.x, change: (mean(last) - reference) / Math.abs(reference) };
}

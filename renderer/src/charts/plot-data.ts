import uPlot from 'uplot';
import { chartPalette, emaSmooth, type ChartPoint, type ChartSeriesSpec } from './series';

/** One drawn line: a spec's raw curve (faint when smoothed) or its smoothed copy. */
export interface PlotLine {
  /** Index of the spec this line draws. */
  spec: number;
  /** Legend and tooltip name. */
  name: string;
  color: string;
  /** 'y' (left) or 'y2' (right). */
  scale: 'y' | 'y2';
  dashed: boolean;
  markers: boolean;
  /** The raw curve under a smoothed one: faint, and left out of the tooltip. */
  faint: boolean;
}

/** The curves of a chart in uPlot's aligned form: one shared x array and one y array per line. */
export interface PlotData {
  lines: PlotLine[];
  data: uPlot.AlignedData;
}

/**
 * Turns the chart's specs into uPlot's aligned data. Each spec gives one line, or two when it is smoothed
 * (the raw curve faint, then the EMA solid). The x values of all lines are merged (`uPlot.join`): where a
 * line has no point at some x its value is `undefined`, which uPlot spans; a non-finite y (a NaN loss) and,
 * on a log axis, a value that is not positive become `null`, which uPlot draws as a gap.
 */
export function plotData(specs: ChartSeriesSpec[], logY: boolean): PlotData {
  const lines: PlotLine[] = [];
  const tables: uPlot.AlignedData[] = [];
  specs.forEach((spec, i) => {
    const color = spec.color ?? chartPalette[i % chartPalette.length]!;
    const scale = spec.axis === 'right' ? 'y2' : 'y';
    const log = logY && scale === 'y';
    const add = (points: ChartPoint[], faint: boolean): void => {
      lines.push({
        spec: i,
        name: spec.name,
        color,
        scale,
        dashed: !!spec.dashed,
        markers: !!spec.markers,
        faint,
      });
      tables.push(table(points, log));
    };
    const smooth = spec.smooth ?? 0;
    if (smooth > 0) {
      add(spec.points, true);
      add(emaSmooth(spec.points, smooth), false);
    } else add(spec.points, false);
  });
  if (tables.length === 0) return { lines, data: [[]] };
  // The join keeps our nulls (gaps) and fills an x a line lacks with undefined (spanned).
  return { lines, data: uPlot.join(tables) };
}

/** One curve as [xs, ys], x ascending and unique (a later point at the same x wins), bad y as null. */
function table(points: ChartPoint[], log: boolean): uPlot.AlignedData {
  const sorted = points.filter((p) => Number.isFinite(p.x));
  let ordered = true;
  for (let i = 1; i < sorted.length && ordered; i++) ordered = sorted[i]!.x > sorted[i - 1]!.x;
  const byX = ordered ? sorted : [...new Map(sorted.map((p) => [p.x, p])).values()].sort((a, b) => a.x - b.x);
  const xs = new Array<number>(byX.length);
  const ys = new Array<number | null>(byX.length);
  byX.forEach((p, i) => {
    xs[i] = p.x;
    ys[i] = Number.isFinite(p.y) && (!log || p.y > 0) ? p.y : null;
  });
  return [xs, ys];
}

/** A short label for an axis tick or tooltip value (3 significant digits, exponent form when tiny or huge). */
export function formatValue(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–';
  if (value === 0) return '0';
  const a = Math.abs(value);
  if (a >= 1e5 || a < 1e-3) return value.toExponential(1).replace('e+', 'e');
  if (Number.isInteger(value)) return String(value);
  return String(Number(value.toPrecision(3)));
}

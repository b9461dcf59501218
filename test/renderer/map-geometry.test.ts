import { describe, expect, it } from 'vitest';
import {
  PointGrid,
  dataToScreen,
  fitView,
  panBy,
  pointInPolygon,
  screenToData,
  selectInBox,
  selectInPolygon,
  zoomAround,
  type View,
} from '../../renderer/src/map/geometry';
import {
  categoryCss,
  categoryRgb,
  noneCss,
  paletteCss,
  paletteRgb,
  parseCssColor,
} from '../../renderer/src/map/palette';
import { seeded } from '../helpers/random';

const rng = seeded;

function randomPoints(n: number, seed: number, spread = 10): Float32Array {
  const random = rng(seed);
  const xy = new Float32Array(2 * n);
  for (let i = 0; i < 2 * n; i++) xy[i] = (random() - 0.5) * 2 * spread;
  return xy;
}

const square = [0, 0, 1, 0, 1, 1, 0, 1];
/** A "C" shape: the notch [0.3, 1] × [0.3, 0.7] is outside. */
const cShape = [0, 0, 1, 0, 1, 0.3, 0.3, 0.3, 0.3, 0.7, 1, 0.7, 1, 1, 0, 1];

describe('pointInPolygon', () => {
  it('tests a convex polygon', () => {
    expect(pointInPolygon(0.5, 0.5, square)).toBe(true);
    expect(pointInPolygon(1.5, 0.5, square)).toBe(false);
    expect(pointInPolygon(-0.1, 0.5, square)).toBe(false);
    expect(pointInPolygon(0.5, 1.01, square)).toBe(false);
    expect(pointInPolygon(0.5, 0.5, new Float32Array(square))).toBe(true);
    const triangle = [0, 0, 4, 0, 0, 4];
    expect(pointInPolygon(1, 1, triangle)).toBe(true);
    expect(pointInPolygon(2.5, 2.5, triangle)).toBe(false);
  });

  it('tests a concave polygon, either orientation', () => {
    const reversed: number[] = [];
    for (let i = cShape.length - 2; i >= 0; i -= 2) reversed.push(cShape[i]!, cShape[i + 1]!);
    for (const poly of [cShape, reversed]) {
      expect(pointInPolygon(0.1, 0.5, poly)).toBe(true);
      expect(pointInPolygon(0.6, 0.5, poly)).toBe(false);
      expect(pointInPolygon(0.6, 0.15, poly)).toBe(true);
      expect(pointInPolygon(0.6, 0.85, poly)).toBe(true);
      expect(pointInPolygon(1.2, 0.5, poly)).toBe(false);
    }
  });

  it('needs three vertices', () => {
    expect(pointInPolygon(0, 0, [])).toBe(false);
    expect(pointInPolygon(0.5, 0, [0, 0, 1, 0])).toBe(false);
  });

  it('puts a point on a shared edge or vertex in exactly one tile of a grid', () => {
    const tiles: number[][] = [];
    for (let i = 0; i < 4; i++)
      for (let j = 0; j < 4; j++) tiles.push([i, j, i + 1, j, i + 1, j + 1, i, j + 1]);
    for (let x = 0.5; x < 4; x += 0.5) {
      for (let y = 0.5; y < 4; y += 0.5) {
        const owners = tiles.filter((t) => pointInPolygon(x, y, t));
        expect(owners, `(${x}, ${y})`).toHaveLength(1);
      }
    }
    // Left and bottom edges belong to the square, right and top edges do not.
    expect(pointInPolygon(0, 0.5, square)).toBe(true);
    expect(pointInPolygon(0.5, 0, square)).toBe(true);
    expect(pointInPolygon(1, 0.5, square)).toBe(false);
    expect(pointInPolygon(0.5, 1, square)).toBe(false);
  });

  it('puts every point of a fan partition with slanted edges in exactly one triangle', () => {
    const random = rng(7);
    const hub = [0.31, -0.17];
    const rim = Array.from({ length: 9 }, (_, k) => {
      const a = (2 * Math.PI * (k + random() * 0.5)) / 9;
      return [Math.cos(a) * 3, Math.sin(a) * 2];
    });
    const fan = rim.map((p, k) => {
      const q = rim[(k + 1) % rim.length]!;
      return [hub[0]!, hub[1]!, p[0]!, p[1]!, q[0]!, q[1]!];
    });
    const hull = rim.flat();
    let tested = 0;
    for (let s = 0; s < 4000; s++) {
      // Points on the spokes (as near as floating point gets) and random ones.
      const spoke = rim[s % rim.length]!;
      const t = random();
      const [x, y] =
        s % 2 === 0
          ? [hub[0]! + t * (spoke[0]! - hub[0]!), hub[1]! + t * (spoke[1]! - hub[1]!)]
          : [(random() - 0.5) * 6, (random() - 0.5) * 4];
      if (!pointInPolygon(x, y, hull)) continue;
      tested++;
      expect(fan.filter((tri) => pointInPolygon(x, y, tri)).length, `(${x}, ${y})`).toBe(1);
    }
    expect(tested).toBeGreaterThan(2000);
  });
});

describe('selectInPolygon and selectInBox', () => {
  const xy = randomPoints(10_000, 1);
  const bruteForce = (inside: (x: number, y: number) => boolean): number[] => {
    const out: number[] = [];
    for (let i = 0; i < xy.length / 2; i++) if (inside(xy[2 * i]!, xy[2 * i + 1]!)) out.push(i);
    return out;
  };

  it('matches a brute-force pointInPolygon on 10,000 random points', () => {
    const random = rng(3);
    // A star-shaped, wiggly lasso of 300 vertices like a hand-drawn one.
    const lasso: number[] = [];
    for (let k = 0; k < 300; k++) {
      const a = (2 * Math.PI * k) / 300;
      const r = 6 + 2.5 * Math.sin(5 * a) + random();
      lasso.push(1 + r * Math.cos(a), -0.5 + r * Math.sin(a));
    }
    const self: number[] = [-8, -8, 8, 8, 8, -8, -8, 8]; // a bow tie
    for (const poly of [lasso, cShape.map((v) => v * 12 - 6), self, square]) {
      const got = Array.from(selectInPolygon(xy, poly));
      expect(got).toEqual(bruteForce((x, y) => pointInPolygon(x, y, poly)));
    }
    expect(selectInPolygon(xy, lasso).length).toBeGreaterThan(2000);
    expect(selectInPolygon(xy, [0, 0, 1, 1])).toHaveLength(0);
    expect(selectInPolygon(xy, [0, 0, 5, 0, 9, 0])).toHaveLength(0);
  });

  it('matches a brute-force box test, corners in any order, edges included', () => {
    const got = Array.from(selectInBox(xy, 4, -2.5, -3, 6));
    expect(got).toEqual(bruteForce((x, y) => x >= -3 && x <= 4 && y >= -2.5 && y <= 6));
    expect(got.length).toBeGreaterThan(1000);
    const i = 1234;
    const px = xy[2 * i]!;
    const py = xy[2 * i + 1]!;
    expect(Array.from(selectInBox(xy, px, py, px, py))).toContain(i);
  });

  it('never selects points with a non-finite coordinate', () => {
    const odd = new Float32Array([0.5, 0.5, NaN, 0.5, 0.5, Infinity]);
    expect(Array.from(selectInPolygon(odd, square))).toEqual([0]);
    expect(Array.from(selectInBox(odd, 0, 0, 1, 1))).toEqual([0]);
  });
});

describe('PointGrid', () => {
  const bruteNearest = (xy: Float32Array, x: number, y: number, max: number): number => {
    let best = -1;
    let bestD2 = max * max;
    for (let i = 0; i < xy.length / 2; i++) {
      const dx = xy[2 * i]! - x;
      const dy = xy[2 * i + 1]! - y;
      const d2 = dx * dx + dy * dy;
      if (d2 < bestD2 || (d2 === bestD2 && best < 0)) {
        best = i;
        bestD2 = d2;
      }
    }
    return best;
  };

  it('finds the nearest point like brute force, with and without a radius, inside and outside the grid', () => {
    const random = rng(11);
    // Clusters of very different density plus uniform noise.
    const xy = new Float32Array(2 * 20_000);
    for (let i = 0; i < 20_000; i++) {
      const c = i % 5;
      const spread = c === 4 ? 20 : 0.2 + c * 0.5;
      xy[2 * i] = (c - 2) * 6 + (random() - 0.5) * spread;
      xy[2 * i + 1] = (c % 2) * 4 + (random() - 0.5) * spread;
    }
    for (const cells of [undefined, 1, 7, 300]) {
      const grid = new PointGrid(xy, cells);
      expect(grid.size).toBe(20_000);
      for (let q = 0; q < 300; q++) {
        const x = (random() - 0.5) * 40;
        const y = (random() - 0.5) * 30;
        for (const max of [Infinity, 0.3, 2]) {
          expect(grid.nearest(x, y, max), `(${x}, ${y}) within ${max}, ${cells} cells`).toBe(
            bruteNearest(xy, x, y, max),
          );
        }
      }
    }
  });

  it('finds an exact point, skips non-finite ones and handles empty and degenerate input', () => {
    const xy = new Float32Array([1, 1, NaN, 2, 1, 1, 3, 3]);
    const grid = new PointGrid(xy);
    expect(grid.size).toBe(3);
    expect(grid.nearest(1, 1, 0)).toBe(0); // ties go to the lowest index
    expect(grid.nearest(2.9, 3, 0.2)).toBe(3);
    expect(grid.nearest(2, 2, 0.5)).toBe(-1);
    expect(grid.nearest(NaN, 0)).toBe(-1);
    expect(new PointGrid(new Float32Array(0)).nearest(0, 0)).toBe(-1);
    const same = new PointGrid(new Float32Array([5, 5, 5, 5]));
    expect(same.nearest(100, -100)).toBe(0);
    expect(same.nearest(5, 6, 1)).toBe(0);
    expect(same.nearest(5, 6, 0.99)).toBe(-1);
  });

  it('answers 10,000 hover queries over 100,000 points quickly', () => {
    const xy = randomPoints(100_000, 5, 50);
    const t0 = performance.now();
    const grid = new PointGrid(xy);
    const built = performance.now() - t0;
    const random = rng(9);
    let found = 0;
    const t1 = performance.now();
    for (let q = 0; q < 10_000; q++) {
      if (grid.nearest((random() - 0.5) * 100, (random() - 0.5) * 100, 0.5) >= 0) found++;
    }
    const queried = performance.now() - t1;
    expect(found).toBeGreaterThan(1000);
    expect(built).toBeLessThan(500);
    expect(queried).toBeLessThan(500);
  });
});

describe('view transforms', () => {
  const size = { width: 800, height: 500 };
  const view: View = { cx: 3, cy: -2, scale: 40 };

  it('puts the centre in the middle, y up, and round-trips', () => {
    expect(dataToScreen(view, size, 3, -2)).toEqual({ x: 400, y: 250 });
    expect(dataToScreen(view, size, 4, -2).x).toBe(440);
    expect(dataToScreen(view, size, 3, -1).y).toBe(210); // data up = screen up
    const random = rng(2);
    for (let i = 0; i < 100; i++) {
      const x = (random() - 0.5) * 100;
      const y = (random() - 0.5) * 100;
      const s = dataToScreen(view, size, x, y);
      const d = screenToData(view, size, s.x, s.y);
      expect(d.x).toBeCloseTo(x, 9);
      expect(d.y).toBeCloseTo(y, 9);
    }
  });

  it('zooms around a fixed screen point and pans by pixels', () => {
    const anchor = screenToData(view, size, 123, 77);
    const zoomed = zoomAround(view, size, 123, 77, 2.5);
    expect(zoomed.scale).toBe(100);
    const after = dataToScreen(zoomed, size, anchor.x, anchor.y);
    expect(after.x).toBeCloseTo(123, 9);
    expect(after.y).toBeCloseTo(77, 9);
    const moved = panBy(view, 40, -80);
    const p = dataToScreen(moved, size, 3, -2);
    expect(p.x).toBeCloseTo(440, 9);
    expect(p.y).toBeCloseTo(170, 9);
  });

  it('fits all points inside the margins', () => {
    const xy = new Float32Array([-10, 0, 30, 5, 10, 20, NaN, 1000]);
    const v = fitView(xy, 800, 500, 0.05);
    expect(v.cx).toBe(10);
    expect(v.cy).toBe(10);
    expect(v.scale).toBeCloseTo(Math.min(720 / 40, 450 / 20), 9);
    for (let i = 0; i < 3; i++) {
      const p = dataToScreen(v, size, xy[2 * i]!, xy[2 * i + 1]!);
      expect(p.x).toBeGreaterThanOrEqual(40 - 1e-9);
      expect(p.x).toBeLessThanOrEqual(760 + 1e-9);
      expect(p.y).toBeGreaterThanOrEqual(25 - 1e-9);
      expect(p.y).toBeLessThanOrEqual(475 + 1e-9);
    }
    expect(fitView(new Float32Array(0), 800, 500)).toEqual({ cx: 0, cy: 0, scale: 250 });
    const one = fitView(new Float32Array([2, 3]), 800, 500);
    expect([one.cx, one.cy]).toEqual([2, 3]);
    expect(one.scale).toBeGreaterThan(0);
    const line = fitView(new Float32Array([0, 1, 10, 1]), 800, 500, 0);
    expect(line).toEqual({ cx: 5, cy: 1, scale: 80 });
  });
});

describe('palette', () => {
  it('has 60 distinct colours, a grey for none, and floats that match', () => {
    expect(paletteCss).toHaveLength(60);
    expect(new Set(paletteCss).size).toBe(60);
    expect(paletteCss).not.toContain(noneCss);
    expect(paletteRgb).toHaveLength(180);
    expect(categoryCss(-1)).toBe(noneCss);
    expect(categoryCss(0)).toBe(paletteCss[0]);
    expect(categoryCss(61)).toBe(paletteCss[1]);
    const [r, g, b] = categoryRgb(2);
    expect(
      `#${[r, g, b]
        .map((c) =>
          Math.round(c * 255)
            .toString(16)
            .padStart(2, '0'),
        )
        .join('')}`,
    ).toBe(paletteCss[2]);
  });

  it('parses the colour forms CSS variables take', () => {
    expect(parseCssColor('#fff')).toEqual([1, 1, 1]);
    expect(parseCssColor(' #FFFFFF ')).toEqual([1, 1, 1]);
    expect(parseCssColor('#00ff0080')).toEqual([0, 1, 0]);
    expect(parseCssColor('#0f08')).toEqual([0, 1, 0]);
    expect(parseCssColor('rgb(255, 0, 51)')).toEqual([1, 0, 0.2]);
    expect(parseCssColor('rgba(255,0,0,0.5)')).toEqual([1, 0, 0]);
    expect(parseCssColor('rgb(100% 0% 0% / 50%)')).toEqual([1, 0, 0]);
    expect(parseCssColor('white')).toBeUndefined();
    expect(parseCssColor('#ff')).toBeUndefined();
  });

  it('keeps 3:1 contrast against the light and dark backgrounds', () => {
    const lum = (hex: string): number => {
      const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255);
      const lin = (c: number): number => (c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
      return 0.2126 * lin(r!) + 0.7152 * lin(g!) + 0.0722 * lin(b!);
    };
    const contrast = (a: string, b: string): number => {
      const [hi, lo] = [lum(a), lum(b)].sort((p, q) => q - p);
      return (hi! + 0.05) / (lo! + 0.05);
    };
    for (const color of [...paletteCss, noneCss]) {
      for (const bg of ['#f6f7f9', '#ffffff', '#14161a', '#1c1f25']) {
        expect(contrast(color, bg), `${color} on ${bg}`).toBeGreaterThanOrEqual(3);
      }
    }
  });
});

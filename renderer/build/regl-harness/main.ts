/**
 * The page `npm run regl:record` drives: the app's own ReglMap on a canvas, with every call the map
 * makes, so regl compiles every program the app can need while the recorder notes them.
 */
import { ReglMap } from '../../src/map/regl-map';

const events: string[] = [];
let map: ReglMap | undefined;

function points(n: number, seed: number): { xy: Float32Array; categories: Int32Array } {
  let s = seed;
  const random = (): number => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  const xy = new Float32Array(2 * n);
  const categories = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % 5;
    xy[2 * i] = c * 3 + random();
    xy[2 * i + 1] = (c % 2) * 4 + random();
    categories[i] = c === 4 ? -1 : c;
  }
  return { xy, categories };
}

const harness = {
  events,
  async start(n: number): Promise<void> {
    const canvas = document.getElementById('map') as HTMLCanvasElement;
    map?.destroy();
    map = ReglMap.create(
      canvas,
      {
        hover: (index) => events.push(`hover ${index}`),
        select: (indices, mode) => events.push(`select ${mode} ${indices.length}`),
        open: (index) => events.push(`open ${index}`),
      },
      { background: '#1c1f25' },
    );
    const { xy, categories } = points(n, n);
    await map.setPoints(xy, categories, 6);
  },
  highlight(count: number): void {
    map?.setHighlighted(count ? Int32Array.from({ length: count }, (_, i) => i) : undefined);
  },
  tool(tool: 'pan' | 'lasso' | 'box'): void {
    map?.setTool(tool);
  },
  screen(index: number): { x: number; y: number } {
    return map!.dataToScreen(index);
  },
  box(): void {
    map?.selectBox(10, 10, 400, 300);
  },
  keys(): void {
    map?.zoom(1.25);
    map?.pan(60, 0);
    map?.fit();
  },
  async recolour(n: number): Promise<void> {
    const { xy, categories } = points(n, 7);
    await map?.setPoints(xy, new Int32Array(n).fill(-1), 3);
    // The classes' own colours instead of the palette.
    await map?.setPoints(xy, categories, 4, ['#e6194b', '#3cb44b', '#4363d8', '#f58231']);
  },
};

Object.assign(window, { harness });

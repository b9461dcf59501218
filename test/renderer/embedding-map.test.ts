// @vitest-environment happy-dom
import { mount } from '@vue/test-utils';
import { afterEach, describe, expect, it, vi } from 'vitest';
import CanvasMap from '../../renderer/src/components/map/CanvasMap.vue';
import EmbeddingMap from '../../renderer/src/components/map/EmbeddingMap.vue';
import { pointInPolygon } from '../../renderer/src/map/geometry';

/** Three clusters of 50 points (categories 0, 1, none) on a 10 × 5 lattice each, far apart. */
function clusters(): { xy: Float32Array; colors: Int32Array } {
  const xy = new Float32Array(2 * 150);
  const colors = new Int32Array(150);
  for (let i = 0; i < 150; i++) {
    const c = Math.floor(i / 50);
    const j = i % 50;
    xy[2 * i] = c * 10 + (j % 10) * 0.3;
    xy[2 * i + 1] = (c === 1 ? 6 : 0) + Math.floor(j / 10) * 0.3;
    colors[i] = c === 2 ? -1 : c;
  }
  return { xy, colors };
}

const categories = [
  { id: 11, name: 'cat' },
  { id: 12, name: 'dog' },
  { id: 13, name: 'bird' },
];

interface MapApi {
  dataToClient(index: number): { x: number; y: number };
  getView(): { cx: number; cy: number; scale: number };
  fit(): void;
}

/** A stand-in 2d context that accepts every call and counts the points traced. */
function fakeContext(calls: Record<string, number>): CanvasRenderingContext2D {
  const target: Record<string | symbol, unknown> = {};
  return new Proxy(target, {
    get: (t, key) =>
      key in t
        ? t[key]
        : (..._args: unknown[]) => {
            calls[String(key)] = (calls[String(key)] ?? 0) + 1;
          },
    set: (t, key, value) => ((t[key] = value), true),
  }) as unknown as CanvasRenderingContext2D;
}

const frame = (): Promise<void> => new Promise((resolve) => requestAnimationFrame(() => resolve()));

/** The whole map: toolbar, legend and whichever view draws (happy-dom has no WebGL: the Canvas 2D one). */
function mountMap(extra: Record<string, unknown> = {}) {
  const { xy, colors } = clusters();
  const wrapper = mount(EmbeddingMap, {
    props: { xy, colors, categories, testid: 'map', height: 400, ...extra },
    attachTo: document.body,
  });
  return { wrapper, xy, api: wrapper.vm as unknown as MapApi };
}

/** The Canvas 2D view alone (the fallback), whose pan, zoom, lasso and box are its own. */
function mountCanvas(extra: Record<string, unknown> = {}) {
  const { xy, colors } = clusters();
  const wrapper = mount(CanvasMap, { props: { xy, colors, height: 400, ...extra }, attachTo: document.body });
  return { wrapper, xy, api: wrapper.vm as unknown as MapApi };
}

async function drag(
  wrapper: ReturnType<typeof mount>,
  path: { x: number; y: number }[],
  init: Record<string, unknown> = {},
): Promise<void> {
  const plot = wrapper.get('[data-testid="map-plot"]');
  const [first, ...rest] = path;
  await plot.trigger('pointerdown', {
    clientX: first!.x,
    clientY: first!.y,
    button: 0,
    pointerId: 1,
    ...init,
  });
  for (const p of rest)
    await plot.trigger('pointermove', { clientX: p.x, clientY: p.y, pointerId: 1, ...init });
  const last = path[path.length - 1]!;
  await plot.trigger('pointerup', { clientX: last.x, clientY: last.y, button: 0, pointerId: 1, ...init });
}

describe('EmbeddingMap and its Canvas 2D view', () => {
  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllGlobals();
    document.body.innerHTML = '';
  });

  it('exposes counts and the renderer, and lists the categories with counts', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const { wrapper } = mountMap({ highlighted: new Int32Array([1, 2, 3]) });
    await wrapper.vm.$nextTick();
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('Canvas 2D'));
    const root = wrapper.get('[data-testid="map"]');
    expect(root.attributes('data-points')).toBe('150');
    expect(root.attributes('data-selected')).toBe('3');
    // happy-dom has neither WebGL (regl-scatterplot cannot start: the reason is the title) nor 2d.
    expect(root.attributes('data-renderer')).toBe('none');
    expect(root.attributes('title')).toMatch(/^Canvas 2D map: WebGL is not available/);
    const items = wrapper.findAll('[data-testid="map-legend-item"]');
    expect(items.map((i) => i.text().replace(/\s+/g, ' '))).toEqual([
      'cat 50',
      'dog 50',
      'bird 0',
      'none 50',
    ]);
    expect(items.map((i) => i.attributes('data-count'))).toEqual(['50', '50', '0', '50']);
    await wrapper.setProps({ highlighted: undefined });
    expect(root.attributes('data-selected')).toBe('0');
    await wrapper.setProps({ xy: new Float32Array(0), colors: new Int32Array(0) });
    expect(root.attributes('data-points')).toBe('0');
    expect(wrapper.find('[data-testid="map-empty"]').exists()).toBe(true);
    wrapper.unmount();
  });

  it('fits the points into the plot and maps them to client coordinates', () => {
    const { wrapper, xy, api } = mountCanvas();
    const rect = wrapper.get('[data-testid="map-plot"]').element.getBoundingClientRect();
    for (let i = 0; i < 150; i++) {
      const p = api.dataToClient(i);
      expect(p.x).toBeGreaterThanOrEqual(rect.left);
      expect(p.x).toBeLessThanOrEqual(rect.left + 600);
      expect(p.y).toBeGreaterThanOrEqual(rect.top);
      expect(p.y).toBeLessThanOrEqual(rect.top + 400);
    }
    // Data y points up.
    expect(api.dataToClient(50).y).toBeLessThan(api.dataToClient(0).y);
    expect(api.dataToClient(100).x).toBeGreaterThan(api.dataToClient(0).x);
    expect(xy[200]).toBe(20);
    expect(Number.isNaN(api.dataToClient(150).x)).toBe(true);
    wrapper.unmount();
  });

  it('emits select with the points inside a box drawn with the Box tool', async () => {
    const { wrapper, api } = mountCanvas();
    await wrapper.setProps({ tool: 'box' });
    // A box from just outside point 0 to the middle of the first cluster.
    const a = api.dataToClient(0);
    const b = api.dataToClient(24);
    const x0 = a.x - 3;
    const y0 = a.y + 3;
    const x1 = (b.x + api.dataToClient(25).x) / 2;
    const y1 = b.y - 1;
    const plot = wrapper.get('[data-testid="map-plot"]');
    await plot.trigger('pointerdown', { clientX: x0, clientY: y0, button: 0, pointerId: 1 });
    await plot.trigger('pointermove', { clientX: (x0 + x1) / 2, clientY: (y0 + y1) / 2, pointerId: 1 });
    await plot.trigger('pointermove', { clientX: x1, clientY: y1, pointerId: 1 });
    expect(wrapper.find('[data-testid="map-box"]').exists()).toBe(true);
    await plot.trigger('pointerup', { clientX: x1, clientY: y1, button: 0, pointerId: 1 });
    expect(wrapper.find('[data-testid="map-box"]').exists()).toBe(false);

    const expected: number[] = [];
    for (let i = 0; i < 150; i++) {
      const p = api.dataToClient(i);
      if (
        p.x >= Math.min(x0, x1) &&
        p.x <= Math.max(x0, x1) &&
        p.y >= Math.min(y0, y1) &&
        p.y <= Math.max(y0, y1)
      )
        expected.push(i);
    }
    expect(expected.length).toBeGreaterThan(5);
    const events = wrapper.emitted('select')!;
    expect(events).toHaveLength(1);
    const [indices, mode] = events[0] as [Int32Array, string];
    expect(mode).toBe('box');
    expect(indices).toBeInstanceOf(Int32Array);
    expect(Array.from(indices)).toEqual(expected);
    wrapper.unmount();
  });

  it('draws a lasso on shift+drag and selects the points inside it', async () => {
    const { wrapper, api } = mountCanvas();
    // A triangle around the whole second cluster (indices 50‥99) and part of nothing else.
    const c = api.dataToClient(50);
    const far = api.dataToClient(99);
    const pad = 25;
    const triangle = [
      { x: c.x - pad, y: c.y + pad },
      { x: far.x + 3 * pad, y: c.y + pad },
      { x: c.x - pad, y: far.y - 3 * pad },
    ];
    const path = [...triangle, triangle[0]!];
    // Interpolate edges so the lasso has many vertices like a real drag.
    const dense: { x: number; y: number }[] = [];
    for (let k = 0; k + 1 < path.length; k++) {
      for (let t = 0; t < 1; t += 0.1) {
        dense.push({
          x: path[k]!.x + t * (path[k + 1]!.x - path[k]!.x),
          y: path[k]!.y + t * (path[k + 1]!.y - path[k]!.y),
        });
      }
    }
    await drag(wrapper, dense, { shiftKey: true });
    const polygon = dense.flatMap((p) => [p.x, p.y]);
    const expected: number[] = [];
    for (let i = 0; i < 150; i++) {
      const p = api.dataToClient(i);
      if (pointInPolygon(p.x, p.y, polygon)) expected.push(i);
    }
    const [indices, mode] = wrapper.emitted('select')![0] as [Int32Array, string];
    expect(mode).toBe('lasso');
    expect(Array.from(indices)).toEqual(expected);
    expect(expected).toContain(50);
    expect(expected.every((i) => i >= 50 && i < 100)).toBe(true);
    wrapper.unmount();
  });

  it('Escape cancels a lasso in progress, then clears the selection', async () => {
    const { wrapper, api } = mountCanvas({ highlighted: new Int32Array([0, 1]) });
    await wrapper.setProps({ tool: 'lasso' });
    const plot = wrapper.get('[data-testid="map-plot"]');
    const p = api.dataToClient(0);
    await plot.trigger('pointerdown', { clientX: p.x - 20, clientY: p.y - 20, button: 0, pointerId: 1 });
    await plot.trigger('pointermove', { clientX: p.x + 40, clientY: p.y - 20, pointerId: 1 });
    await plot.trigger('pointermove', { clientX: p.x + 40, clientY: p.y + 40, pointerId: 1 });
    expect(wrapper.find('[data-testid="map-lasso"]').exists()).toBe(true);
    await plot.trigger('keydown', { key: 'Escape' });
    expect(wrapper.find('[data-testid="map-lasso"]').exists()).toBe(false);
    expect(wrapper.emitted('select')).toBeUndefined();
    await plot.trigger('pointerup', { clientX: p.x - 20, clientY: p.y + 40, button: 0, pointerId: 1 });
    expect(wrapper.emitted('select')).toBeUndefined();

    await plot.trigger('keydown', { key: 'Escape' });
    const [indices] = wrapper.emitted('select')![0] as [Int32Array, string];
    expect(indices).toHaveLength(0);
    wrapper.unmount();
  });

  it('pans on drag, zooms around the cursor on wheel, and Fit restores the view', async () => {
    const { wrapper, api } = mountCanvas();
    const fitted = api.getView();
    const before = api.dataToClient(7);
    await drag(wrapper, [
      { x: 300, y: 200 },
      { x: 330, y: 190 },
      { x: 360, y: 180 },
    ]);
    expect(wrapper.emitted('select')).toBeUndefined();
    const after = api.dataToClient(7);
    expect(after.x - before.x).toBeCloseTo(60, 6);
    expect(after.y - before.y).toBeCloseTo(-20, 6);

    const anchor = api.dataToClient(7);
    await wrapper
      .get('[data-testid="map-plot"]')
      .trigger('wheel', { clientX: anchor.x, clientY: anchor.y, deltaY: -200 });
    expect(api.getView().scale).toBeGreaterThan(fitted.scale * 1.2);
    const still = api.dataToClient(7);
    expect(still.x).toBeCloseTo(anchor.x, 6);
    expect(still.y).toBeCloseTo(anchor.y, 6);

    api.fit();
    expect(api.getView()).toEqual(fitted);

    const plot = wrapper.get('[data-testid="map-plot"]');
    await plot.trigger('keydown', { key: '+' });
    expect(api.getView().scale).toBeCloseTo(fitted.scale * 1.25, 9);
    const x = api.dataToClient(7).x;
    await plot.trigger('keydown', { key: 'ArrowLeft' });
    expect(api.dataToClient(7).x - x).toBeCloseTo(60, 6);
    expect(wrapper.emitted('select')).toBeUndefined();
    wrapper.unmount();
  });

  it('emits hover for the point under the pointer and open on a click', async () => {
    const { wrapper, api } = mountCanvas();
    const plot = wrapper.get('[data-testid="map-plot"]');
    const p = api.dataToClient(42);
    await plot.trigger('pointermove', { clientX: p.x + 1, clientY: p.y, pointerId: 1 });
    await frame();
    expect(wrapper.emitted('hover')!.at(-1)).toEqual([42, p.x + 1, p.y]);
    await wrapper.vm.$nextTick();
    expect(wrapper.find('[data-testid="map-hover"]').exists()).toBe(true);
    await plot.trigger('pointermove', { clientX: p.x + 200, clientY: p.y - 150, pointerId: 1 });
    await frame();
    expect(wrapper.emitted('hover')!.at(-1)![0]).toBe(-1);
    await drag(wrapper, [{ x: p.x, y: p.y - 1 }]);
    expect(wrapper.emitted('open')).toEqual([[42]]);
    await drag(wrapper, [{ x: p.x + 200, y: p.y - 150 }]);
    expect(wrapper.emitted('open')).toHaveLength(1);
    wrapper.unmount();
  });

  it('draws with Canvas 2D in chunks when WebGL is missing', async () => {
    const calls: Record<string, number> = {};
    const fake = fakeContext(calls);
    vi.spyOn(HTMLCanvasElement.prototype, 'getContext').mockImplementation(((type: string) =>
      type === '2d' ? fake : null) as never);
    const { wrapper } = mountMap({ highlighted: new Int32Array([3, 60]), pointSize: 6 });
    await wrapper.vm.$nextTick();
    expect(wrapper.get('[data-testid="map"]').attributes('data-renderer')).toBe('canvas');
    await frame();
    await frame();
    // 100 category points and 50 grey ones, plus the two highlighted ones with a ring each.
    expect(calls.arc).toBe(150 + 2 * 2);
    expect(calls.fill).toBeGreaterThanOrEqual(3);
    wrapper.unmount();
  });
});

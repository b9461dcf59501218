// @vitest-environment happy-dom
import { mount } from '@vue/test-utils';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type * as ReglMapModule from '../../renderer/src/map/regl-map';
import type { MapEvents, MapTool } from '../../renderer/src/map/regl-map';

/**
 * The map's WebGL path as the component drives it, with regl-scatterplot replaced by a recording stand-in
 * (happy-dom has no WebGL; the real regl-scatterplot is exercised in Chromium by test/e2e/clusters.spec.ts,
 * under the app's strict CSP).
 */
const fake = vi.hoisted(() => ({
  fail: undefined as string | undefined,
  instances: [] as {
    events: MapEvents;
    points: { xy: Float32Array; categories: Int32Array; size: number }[];
    highlighted: (Int32Array | undefined)[];
    tools: MapTool[];
    boxes: number[][];
    fits: number;
    destroyed: boolean;
  }[],
}));

vi.mock('../../renderer/src/map/regl-map', async (original) => {
  const actual = await original<typeof ReglMapModule>();
  class FakeReglMap {
    state: (typeof fake.instances)[number];
    constructor(events: MapEvents) {
      this.state = { events, points: [], highlighted: [], tools: [], boxes: [], fits: 0, destroyed: false };
      fake.instances.push(this.state);
    }
    static create(_canvas: HTMLCanvasElement, events: MapEvents): FakeReglMap {
      if (fake.fail) throw new Error(fake.fail);
      return new FakeReglMap(events);
    }
    async setPoints(xy: Float32Array, categories: Int32Array, size: number): Promise<void> {
      this.state.points.push({ xy, categories, size });
    }
    setHighlighted(ids: Int32Array | undefined): void {
      this.state.highlighted.push(ids);
    }
    setTool(tool: MapTool): void {
      this.state.tools.push(tool);
    }
    fit(): void {
      this.state.fits += 1;
    }
    zoom(): void {}
    pan(): void {}
    selectBox(x0: number, y0: number, x1: number, y1: number): void {
      this.state.boxes.push([x0, y0, x1, y1]);
    }
    dataToScreen(index: number): { x: number; y: number } {
      return { x: index * 10, y: 5 };
    }
    destroy(): void {
      this.state.destroyed = true;
    }
  }
  return { ...actual, ReglMap: FakeReglMap };
});

const { default: EmbeddingMap } = await import('../../renderer/src/components/map/EmbeddingMap.vue');

const xy = new Float32Array([0, 0, 1, 1, 2, 0, 3, 1]);
const colors = new Int32Array([0, 1, -1, 0]);
const categories = [
  { id: 1, name: 'cat' },
  { id: 2, name: 'dog' },
];

function mountMap(extra: Record<string, unknown> = {}) {
  return mount(EmbeddingMap, {
    props: { xy, colors, categories, testid: 'map', height: 300, ...extra },
    attachTo: document.body,
  });
}

describe('EmbeddingMap on regl-scatterplot', () => {
  afterEach(() => {
    fake.fail = undefined;
    fake.instances.length = 0;
    document.body.innerHTML = '';
  });

  it('draws with regl-scatterplot when it starts: points, point size, selection, tools and Fit go to it', async () => {
    const wrapper = mountMap({ highlighted: new Int32Array([1]) });
    await wrapper.vm.$nextTick();
    const root = wrapper.get('[data-testid="map"]');
    expect(root.attributes('data-renderer')).toBe('webgl');
    const map = fake.instances[0]!;
    expect(map.points).toHaveLength(1);
    expect(map.points[0]!.xy).toBe(xy);
    expect(map.points[0]!.categories).toBe(colors);
    expect(map.points[0]!.size).toBe(7); // few points: large ones
    expect(Array.from(map.highlighted.at(-1)!)).toEqual([1]);

    await wrapper.setProps({ highlighted: new Int32Array([0, 3]) });
    expect(Array.from(map.highlighted.at(-1)!)).toEqual([0, 3]);
    await wrapper.get('[data-testid="map-tool-lasso"]').trigger('click');
    expect(wrapper.get('[data-testid="map-tool-lasso"]').attributes('aria-pressed')).toBe('true');
    expect(map.tools.at(-1)).toBe('lasso');
    await wrapper.get('[data-testid="map-fit"]').trigger('click');
    expect(map.fits).toBe(1);
    const api = wrapper.vm as unknown as { dataToClient(i: number): { x: number; y: number } };
    expect(api.dataToClient(2)).toEqual({ x: 20, y: 5 });
    wrapper.unmount();
    expect(map.destroyed).toBe(true);
  });

  it("passes regl-scatterplot's hover, lasso and click on as the map's events; Escape clears", async () => {
    const wrapper = mountMap();
    await wrapper.vm.$nextTick();
    const { events } = fake.instances[0]!;
    events.hover(2, 40, 50);
    events.select(new Int32Array([0, 3]), 'lasso');
    events.open(1);
    expect(wrapper.emitted('hover')).toEqual([[2, 40, 50]]);
    expect(wrapper.emitted('select')).toEqual([[new Int32Array([0, 3]), 'lasso']]);
    expect(wrapper.emitted('open')).toEqual([[1]]);
    await wrapper.get('[data-testid="map-plot"]').trigger('keydown', { key: 'Escape' });
    expect(wrapper.emitted('select')![1]).toEqual([new Int32Array(0), 'lasso']);
    wrapper.unmount();
  });

  it('selects with the Box tool through a layer over the plot', async () => {
    const wrapper = mountMap();
    await wrapper.vm.$nextTick();
    await wrapper.get('[data-testid="map-tool-box"]').trigger('click');
    const layer = wrapper.get('.embedding-map-box-layer');
    await layer.trigger('pointerdown', { clientX: 10, clientY: 20, button: 0, pointerId: 1 });
    await layer.trigger('pointermove', { clientX: 110, clientY: 90, pointerId: 1 });
    expect(wrapper.find('[data-testid="map-box"]').exists()).toBe(true);
    await layer.trigger('pointerup', { clientX: 110, clientY: 90, pointerId: 1 });
    expect(wrapper.find('[data-testid="map-box"]').exists()).toBe(false);
    expect(fake.instances[0]!.boxes).toEqual([[10, 20, 110, 90]]);
    wrapper.unmount();
  });

  it('falls back to the Canvas 2D map, saying why, when regl-scatterplot cannot start', async () => {
    fake.fail = 'regl program 0123 was not compiled ahead of time';
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const wrapper = mountMap();
    await wrapper.vm.$nextTick();
    const root = wrapper.get('[data-testid="map"]');
    expect(root.attributes('data-renderer')).not.toBe('webgl');
    expect(root.attributes('title')).toBe(`Canvas 2D map: ${fake.fail}`);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining(fake.fail));
    expect(wrapper.find('canvas').exists()).toBe(true);
    expect(wrapper.findAll('[data-testid="map-legend-item"]').map((i) => i.attributes('data-count'))).toEqual(
      ['2', '1', '1'],
    );
    wrapper.unmount();
  });
});

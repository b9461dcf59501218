// @vitest-environment happy-dom
import { mount } from '@vue/test-utils';
import type uPlot from 'uplot';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ChartSeriesSpec } from '../../renderer/src/charts/series';
import LineChart from '../../renderer/src/components/charts/LineChart.vue';

const loss: ChartSeriesSpec = {
  name: 'loss',
  points: Array.from({ length: 50 }, (_, x) => ({ x, y: 1 / (x + 1) })),
  smooth: 0.6,
};
const lr: ChartSeriesSpec = {
  name: 'lr',
  points: [
    { x: 0, y: 0.1 },
    { x: 49, y: 0.01 },
  ],
  axis: 'right',
  dashed: true,
};

/** A stand-in 2d context (happy-dom has none) that accepts every call and records the text drawn. */
function fakeContext(texts: string[]): CanvasRenderingContext2D {
  const target: Record<string | symbol, unknown> = {
    measureText: (text: string) => ({ width: 6 * String(text).length }),
    fillText: (text: unknown) => texts.push(String(text)),
  };
  return new Proxy(target, {
    get: (t, key) => (key in t ? t[key] : () => undefined),
    set: (t, key, value) => ((t[key] = value), true),
  }) as unknown as CanvasRenderingContext2D;
}

/** uPlot lays itself out in a microtask after it is built or resized. */
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

type Exposed = { chart: () => uPlot | undefined };

/** happy-dom has no Path2D either: one that takes every path call. */
class FakePath2D {
  constructor() {
    return new Proxy(this, { get: (t, key) => (key in t ? t[key as keyof FakePath2D] : () => undefined) });
  }
}

/** Mocks a 2d context (recording the text drawn) so uPlot can build its chart in this test DOM. */
function withCanvas(texts: string[] = []): void {
  vi.stubGlobal('Path2D', FakePath2D);
  vi.spyOn(HTMLCanvasElement.prototype, 'getContext').mockReturnValue(fakeContext(texts) as never);
}

describe('LineChart (uPlot)', () => {
  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllGlobals();
  });

  it('builds a uPlot chart with both axes, and its cursor shows a tooltip of the smoothed values', async () => {
    const texts: string[] = [];
    withCanvas(texts);
    const wrapper = mount(LineChart, {
      props: { series: [loss, lr], yLabel: 'loss', y2Label: 'lr', logY: true },
      attachTo: document.body,
    });
    const u = (wrapper.vm as unknown as Exposed).chart()!;
    expect(u).toBeDefined();
    expect(wrapper.find('.uplot').exists()).toBe(true);
    // x, left y, right y; the smoothed loss is two uPlot series (faint raw + EMA), lr one.
    expect(u.axes.map((a) => a.label)).toEqual(['step', 'loss', 'lr']);
    expect(u.series.map((s) => s.label).slice(1)).toEqual(['loss', 'loss', 'lr']);
    expect(u.scales.y!.distr).toBe(3);
    expect(u.data[0]).toHaveLength(50);

    await settle();
    u.setCursor({ left: u.valToPos(10, 'x'), top: 20 });
    await wrapper.vm.$nextTick();
    const tip = wrapper.get('[data-testid="chart-tooltip"]');
    expect(tip.text()).toContain('step 10');
    // The tooltip reads the smoothed loss, not the faint raw one, and lr is only known at 0 and 49.
    expect(tip.findAll('div').length).toBe(2);
    expect(tip.text()).toContain('loss');
    expect(tip.text()).not.toContain('lr');
    u.setCursor({ left: -10, top: -10 });
    await wrapper.vm.$nextTick();
    expect(wrapper.find('[data-testid="chart-tooltip"]').exists()).toBe(false);
    wrapper.unmount();
  });

  it('zooms on x from outside and keeps the zoom when live points arrive', async () => {
    withCanvas();
    const wrapper = mount(LineChart, { props: { series: [loss] }, attachTo: document.body });
    const u = (wrapper.vm as unknown as Exposed).chart()!;
    await settle();
    u.setScale('x', { min: 10, max: 20 });
    await settle();
    await wrapper.setProps({ series: [{ ...loss, points: [...loss.points, { x: 50, y: 0.01 }] }] });
    await settle();
    expect(u.data[0]).toHaveLength(51);
    expect([u.scales.x!.min, u.scales.x!.max]).toEqual([10, 20]);
    wrapper.unmount();
  });

  it('exposes the point and series counts and draws nothing without a 2d context', async () => {
    const wrapper = mount(LineChart, {
      props: { series: [loss, lr], title: 'Loss', testid: 'loss-chart', logY: true },
    });
    expect((wrapper.vm as unknown as Exposed).chart()).toBeUndefined();
    const root = wrapper.get('[data-testid="loss-chart"]');
    expect(root.attributes('data-points')).toBe('52');
    expect(root.attributes('data-series')).toBe('2');
    expect(wrapper.text()).toContain('Loss');
    expect(wrapper.find('[data-testid="chart-empty"]').exists()).toBe(false);
    await wrapper.setProps({ series: [loss, { ...lr, points: [...lr.points, { x: 60, y: 0.001 }] }] });
    expect(root.attributes('data-points')).toBe('53');
    wrapper.unmount();
  });

  it('toggles a series from its legend item, hiding both of its uPlot lines', async () => {
    withCanvas();
    const wrapper = mount(LineChart, { props: { series: [loss, lr] }, attachTo: document.body });
    const u = (wrapper.vm as unknown as Exposed).chart()!;
    const items = wrapper.findAll('[data-testid="chart-legend-item"]');
    expect(items.map((item) => item.text())).toEqual(['loss', 'lr']);
    expect(items[0]!.attributes('aria-pressed')).toBe('true');
    await items[0]!.trigger('click');
    expect(items[0]!.attributes('aria-pressed')).toBe('false');
    expect(items[0]!.classes()).toContain('off');
    expect(u.series.map((s) => s.show)).toEqual([true, false, false, true]);
    expect(items[1]!.attributes('aria-pressed')).toBe('true');
    await items[0]!.trigger('click');
    expect(items[0]!.attributes('aria-pressed')).toBe('true');
    expect(u.series.map((s) => s.show)).toEqual([true, true, true, true]);
    wrapper.unmount();
  });

  it('shows an empty state when there are no points', async () => {
    const wrapper = mount(LineChart, { props: { series: [{ name: 'loss', points: [] }], testid: 'c' } });
    expect(wrapper.get('[data-testid="c"]').attributes('data-points')).toBe('0');
    expect(wrapper.get('[data-testid="chart-empty"]').text()).toBe('No points yet');
    await wrapper.setProps({ series: [loss] });
    expect(wrapper.find('[data-testid="chart-empty"]').exists()).toBe(false);
  });
});

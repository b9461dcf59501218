// @vitest-environment happy-dom
import { mount } from '@vue/test-utils';
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

/** A stand-in 2d context that accepts every call and records the text drawn (6 px per character). */
function fakeContext(texts: string[]): CanvasRenderingContext2D {
  const target: Record<string | symbol, unknown> = { measureText: (text: string) => ({ width: text.length * 6 }) };
  return new Proxy(target, {
    get: (t, key) =>
      key in t
        ? t[key]
        : (...args: unknown[]) => (key === 'fillText' ? texts.push(String(args[0])) : undefined),
    set: (t, key, value) => ((t[key] = value), true),
  }) as unknown as CanvasRenderingContext2D;
}

const frame = (): Promise<void> => new Promise((resolve) => requestAnimationFrame(() => resolve()));

describe('LineChart', () => {
  afterEach(() => vi.restoreAllMocks());

  it('draws axes, labels and a tooltip when a 2d context exists', async () => {
    const texts: string[] = [];
    vi.spyOn(HTMLCanvasElement.prototype, 'getContext').mockReturnValue(fakeContext(texts) as never);
    const wrapper = mount(LineChart, {
      props: { series: [loss, lr], yLabel: 'loss', y2Label: 'lr', logY: true },
    });
    await frame();
    expect(texts).toContain('step');
    expect(texts).toContain('lr');
    expect(texts).toContain('0.1');
    await wrapper.get('canvas').trigger('mousemove', { clientX: 300, clientY: 50 });
    const tip = wrapper.get('[data-testid="chart-tooltip"]');
    expect(tip.text()).toContain('loss');
    expect(tip.text()).toContain('lr');
    await wrapper.get('canvas').trigger('mouseleave');
    expect(wrapper.find('[data-testid="chart-tooltip"]').exists()).toBe(false);
    wrapper.unmount();
  });

  it('exposes the point and series counts and draws nothing without a 2d context', async () => {
    const wrapper = mount(LineChart, {
      props: { series: [loss, lr], title: 'Loss', testid: 'loss-chart', logY: true },
    });
    const root = wrapper.get('[data-testid="loss-chart"]');
    expect(root.attributes('data-points')).toBe('52');
    expect(root.attributes('data-series')).toBe('2');
    expect(wrapper.text()).toContain('Loss');
    expect(wrapper.find('[data-testid="chart-empty"]').exists()).toBe(false);
    await wrapper.setProps({ series: [loss, { ...lr, points: [...lr.points, { x: 60, y: 0.001 }] }] });
    expect(root.attributes('data-points')).toBe('53');
    await wrapper.get('canvas').trigger('mousemove', { clientX: 100, clientY: 50 });
    wrapper.unmount();
  });

  it('toggles a series from its legend item', async () => {
    const wrapper = mount(LineChart, { props: { series: [loss, lr] } });
    const items = wrapper.findAll('[data-testid="chart-legend-item"]');
    expect(items.map((item) => item.text())).toEqual(['loss', 'lr']);
    expect(items[0]!.attributes('aria-pressed')).toBe('true');
    await items[0]!.trigger('click');
    expect(items[0]!.attributes('aria-pressed')).toBe('false');
    expect(items[0]!.classes()).toContain('off');
    expect(items[1]!.attributes('aria-pressed')).toBe('true');
    await items[0]!.trigger('click');
    expect(items[0]!.attributes('aria-pressed')).toBe('true');
  });

  it('shows an empty state when there are no points', async () => {
    const wrapper = mount(LineChart, { props: { series: [{ name: 'loss', points: [] }], testid: 'c' } });
    expect(wrapper.get('[data-testid="c"]').attributes('data-points')).toBe('0');
    expect(wrapper.get('[data-testid="chart-empty"]').text()).toBe('No points yet');
    await wrapper.setProps({ series: [loss] });
    expect(wrapper.find('[data-testid="chart-empty"]').exists()).toBe(false);
  });
});

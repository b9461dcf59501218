import createScatterplot, { checkSupport, createRenderer } from 'regl-scatterplot';
import { bounds, selectInBox } from './geometry';
import { noneCss, paletteCss, paletteIndex } from './palette';

/** What the map reports back: hover, a finished lasso or box, a click on a point. */
export interface MapEvents {
  /** The point under the pointer (-1: none) and where the pointer is (client pixels). */
  hover(index: number, clientX: number, clientY: number): void;
  /** A lasso or box was drawn: the indices inside, ascending (empty after Escape or an empty lasso). */
  select(indices: Int32Array, mode: 'lasso' | 'box'): void;
  /** A point was clicked. */
  open(index: number): void;
}

/** The drag tools of the map: pan (shift+drag lassos), lasso, box. */
export type MapTool = 'pan' | 'lasso' | 'box';

type Scatterplot = ReturnType<typeof createScatterplot>;

/** Data → the [-1, 1] square regl-scatterplot draws: centre and one scale for both axes (no stretch). */
interface Normalise {
  cx: number;
  cy: number;
  scale: number;
}

/** Data fills at most this much of the [-1, 1] square, so the fitted view has a margin. */
const FILL = 0.94;

/**
 * The embedding map drawn by regl-scatterplot (WebGL, 100k+ points, lasso built in). Points are
 * normalised into [-1, 1] keeping their aspect; the category value of each point (palette slot, -1 for
 * none) is its `valueA`, coloured through `pointColor`. The parent owns the selection (`setHighlighted`):
 * regl-scatterplot selects on click and lasso, this class reports that and puts the parent's selection back.
 *
 * `ReglMap.create` throws when WebGL or the regl programs cannot start; the caller then draws the map
 * with Canvas 2D instead.
 */
export class ReglMap {
  private readonly plot: Scatterplot;
  private readonly canvas: HTMLCanvasElement;
  private readonly events: MapEvents;
  private xy: Float32Array = new Float32Array(0);
  private norm: Normalise = { cx: 0, cy: 0, scale: 1 };
  private highlighted: Int32Array | undefined;
  private lassoing = false;
  private pointer = { clientX: 0, clientY: 0 };
  private readonly onPointerMove = (event: PointerEvent): void => {
    this.pointer = { clientX: event.clientX, clientY: event.clientY };
  };

  private constructor(
    canvas: HTMLCanvasElement,
    plot: Scatterplot,
    private readonly renderer: ReturnType<typeof createRenderer>,
    events: MapEvents,
  ) {
    this.canvas = canvas;
    this.plot = plot;
    this.events = events;
    canvas.addEventListener('pointermove', this.onPointerMove);
    plot.subscribe('pointOver', (index) =>
      this.events.hover(index, this.pointer.clientX, this.pointer.clientY),
    );
    plot.subscribe('pointOut', () => this.events.hover(-1, this.pointer.clientX, this.pointer.clientY));
    plot.subscribe('lassoStart', () => {
      this.lassoing = true;
    });
    plot.subscribe('select', ({ points }) => this.onSelect(points));
    plot.subscribe('deselect', () => {
      // A lasso around nothing, or regl-scatterplot's own Escape / double-click: the selection is empty.
      this.lassoing = false;
      this.events.select(new Int32Array(0), 'lasso');
    });
  }

  /**
   * Starts regl-scatterplot on `canvas`. Throws when there is no WebGL, when it lacks an extension the
   * scatterplot needs, or when regl cannot build its programs (see renderer/build/regl-without-eval.mjs).
   */
  static create(canvas: HTMLCanvasElement, events: MapEvents, options: { background: string }): ReglMap {
    // regl-scatterplot draws on a WebGL canvas of its own and copies each frame onto `canvas` (2D).
    let renderer: ReturnType<typeof createRenderer>;
    try {
      renderer = createRenderer();
    } catch (error) {
      throw new Error(`WebGL is not available (${error instanceof Error ? error.message : String(error)})`, {
        cause: error,
      });
    }
    try {
      if (!checkSupport(renderer.regl, true))
        throw new Error('WebGL lacks an extension the scatterplot needs');
      const plot = createScatterplot({
        renderer,
        canvas,
        width: 'auto',
        height: 'auto',
        backgroundColor: options.background,
        colorBy: 'valueA',
        pointColor: [...paletteCss, noneCss],
        pointColorActive: '#ffffff',
        pointColorHover: '#ffffff',
        pointOutlineWidth: 2,
        pointScaleMode: 'asinh',
        opacityInactiveScale: 0.35,
        lassoColor: '#6aa9ff',
        lassoMinDelay: 0,
        lassoMinDist: 2,
        lassoClearEvent: 'lassoEnd',
        showReticle: false,
        deselectOnDblClick: false,
        deselectOnEscape: false,
        keyMap: { shift: 'lasso', alt: 'rotate', ctrl: 'merge', cmd: 'merge', meta: 'merge' },
      });
      return new ReglMap(canvas, plot, renderer, events);
    } catch (error) {
      renderer.destroy();
      throw error;
    }
  }

  /**
   * Draws new points: `categories[i]` is point i's category value (-1 none), `size` the diameter in CSS
   * px, `own` a colour per category (the classes' own colours) instead of the palette.
   */
  async setPoints(
    xy: Float32Array,
    categories: Int32Array,
    size: number,
    own?: readonly string[],
  ): Promise<void> {
    this.xy = xy;
    const n = Math.floor(xy.length / 2);
    this.norm = normalise(xy);
    const x = new Float32Array(n);
    const y = new Float32Array(n);
    const value = new Float32Array(n);
    const none = own ? own.length : paletteCss.length;
    const { cx, cy, scale } = this.norm;
    for (let i = 0; i < n; i++) {
      x[i] = (xy[2 * i]! - cx) * scale;
      y[i] = (xy[2 * i + 1]! - cy) * scale;
      const k = i < categories.length ? categories[i]! : -1;
      const slot = own ? (Number.isInteger(k) && k >= 0 && k < own.length ? k : -1) : paletteIndex(k);
      value[i] = slot < 0 ? none : slot;
    }
    await this.plot.set({
      pointSize: size,
      pointSizeSelected: Math.max(2, Math.round(size * 0.5)),
      pointColor: [...(own ?? paletteCss), noneCss],
    });
    await this.plot.draw({ x, y, valueA: value }, { zDataType: 'categorical' });
    this.applyHighlight();
  }

  /** Shows the parent's selection (drawn active, the rest dimmed); undefined or empty clears it. */
  setHighlighted(indices: Int32Array | undefined): void {
    this.highlighted = indices;
    this.applyHighlight();
  }

  /** Pan: drag pans, shift+drag lassos; lasso: drag lassos; box: the caller draws the box (see `selectBox`). */
  setTool(tool: MapTool): void {
    void this.plot.set({ mouseMode: tool === 'lasso' ? 'lasso' : 'panZoom' });
  }

  /** Shows all points again. */
  fit(): void {
    void this.plot.zoomToLocation([0, 0], 1);
  }

  /** Zooms by `factor` around the centre of the plot (keyboard +/-). */
  zoom(factor: number): void {
    const view = Float32Array.from(this.plot.get('cameraView'));
    for (const k of [0, 1, 4, 5, 12, 13]) view[k] = view[k]! * factor;
    this.plot.view(Array.from(view));
  }

  /** Pans by (dx, dy) plot pixels (keyboard arrows). */
  pan(dx: number, dy: number): void {
    const view = Array.from(this.plot.get('cameraView'));
    const { width, height } = this.canvas.getBoundingClientRect();
    view[12] = view[12]! + (2 * dx * (width / height || 1)) / (width || 1);
    view[13] = view[13]! - (2 * dy) / (height || 1);
    this.plot.view(view);
  }

  /** Where point `index` is drawn, in plot pixels; NaN for an index out of range or before the first draw. */
  dataToScreen(index: number): { x: number; y: number } {
    try {
      const p = this.plot.getScreenPosition(index);
      return p ? { x: p[0], y: p[1] } : { x: NaN, y: NaN };
    } catch {
      return { x: NaN, y: NaN };
    }
  }

  /** The data point under plot pixel (sx, sy): the inverse of `dataToScreen` (the camera never rotates here). */
  screenToData(sx: number, sy: number): { x: number; y: number } {
    const { width, height } = this.canvas.getBoundingClientRect();
    const aspect = width / height || 1;
    const v = this.plot.get('cameraView');
    const dataAspect = this.plot.get('aspectRatio') || 1;
    // Clip space: cx = (v0·a·x + v4·y + v12) / aspect, cy = v1·a·x + v5·y + v13, with a = dataAspect.
    const clipX = ((2 * sx) / (width || 1) - 1) * aspect - v[12]!;
    const clipY = 1 - (2 * sy) / (height || 1) - v[13]!;
    const a = v[0]! * dataAspect;
    const b = v[4]!;
    const c = v[1]! * dataAspect;
    const d = v[5]!;
    const det = a * d - b * c || 1;
    const nx = (d * clipX - b * clipY) / det;
    const ny = (a * clipY - c * clipX) / det;
    const { cx, cy, scale } = this.norm;
    return { x: nx / scale + cx, y: ny / scale + cy };
  }

  /** Selects the points inside a box drawn in plot pixels (the Box tool), as a `select` event. */
  selectBox(x0: number, y0: number, x1: number, y1: number): void {
    const a = this.screenToData(x0, y0);
    const b = this.screenToData(x1, y1);
    this.events.select(selectInBox(this.xy, a.x, a.y, b.x, b.y), 'box');
  }

  destroy(): void {
    this.canvas.removeEventListener('pointermove', this.onPointerMove);
    this.plot.destroy();
    this.renderer.destroy();
  }

  private onSelect(points: number[]): void {
    if (this.lassoing) {
      this.lassoing = false;
      this.events.select(Int32Array.from(points).sort(), 'lasso');
      return;
    }
    // A click selects the point under it: that opens the image, and the parent's selection stays.
    this.applyHighlight();
    if (points.length === 1) this.events.open(points[0]!);
  }

  private applyHighlight(): void {
    if (!this.plot.get('isPointsDrawn')) return;
    const ids = this.highlighted;
    if (ids && ids.length) this.plot.select(Array.from(ids), { preventEvent: true });
    else this.plot.deselect({ preventEvent: true });
  }
}

/** Centre and scale that put the points' bounding box inside [-FILL, FILL]², aspect kept. */
export function normalise(xy: Float32Array): Normalise {
  const box = bounds(xy);
  if (!box) return { cx: 0, cy: 0, scale: 1 };
  const half = Math.max(box.maxX - box.minX, box.maxY - box.minY) / 2;
  return { cx: (box.minX + box.maxX) / 2, cy: (box.minY + box.maxY) / 2, scale: half > 0 ? FILL / half : 1 };
}

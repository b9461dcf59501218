import { useVirtualizer } from '@tanstack/vue-virtual';
import {
  computed,
  onBeforeUnmount,
  onMounted,
  ref,
  toValue,
  watch,
  type MaybeRefOrGetter,
  type Ref,
} from 'vue';

/** How a tile grid is laid out and what it shows. */
export interface TileGridOptions {
  /** Number of tiles. */
  total: MaybeRefOrGetter<number>;
  /** Asked for the tiles now in view (and a few rows more) whenever they may be missing. */
  ensureRange: (first: number, last: number) => void;
  /** Anything that changes when pages arrive or are reset, so what to load is checked again. */
  pages?: MaybeRefOrGetter<unknown>;
  /** Smallest tile side in px: as many columns as fit, and the tiles share the width. */
  minTile: MaybeRefOrGetter<number>;
  /** Space between tiles in px. */
  gap: number;
  /** Height of a tile's caption in px. */
  caption: number;
  /** Rows rendered beyond the visible ones. */
  overscan?: number;
  /** Width assumed before the first measurement. */
  initialWidth?: number;
}

/**
 * One virtualised grid of square tiles with captions (@tanstack/vue-virtual over rows), shared by the
 * library gallery, the cluster and selection grids and the labelling grid: only the rows on screen (and
 * `overscan` more) exist in the DOM, the columns follow the scroller's width, and the pages holding the
 * visible tiles are asked for as they come into view, so 100,000 images scroll like 100.
 *
 * Bind `scroller` to the scrolling element, size its inner element to `totalSize`, and render `rows`
 * (each at `translateY(row.start)`) with the tiles of `rowIndexes(row.index)`.
 */
export function useTileGrid(options: TileGridOptions) {
  const scroller: Ref<HTMLElement | undefined> = ref();
  const width = ref(options.initialWidth ?? 800);
  const gap = options.gap;

  const columns = computed(() => {
    const min = toValue(options.minTile);
    return Math.max(1, Math.floor((width.value + gap) / (min + gap)));
  });
  const tileSize = computed(() => {
    const min = toValue(options.minTile);
    return Math.max(min, Math.floor((width.value - gap * (columns.value - 1)) / columns.value));
  });
  const rowHeight = computed(() => tileSize.value + options.caption + gap);
  const rowCount = computed(() => Math.ceil(toValue(options.total) / columns.value));

  const virtualizer = useVirtualizer(
    computed(() => ({
      count: rowCount.value,
      getScrollElement: () => scroller.value ?? null,
      estimateSize: () => rowHeight.value,
      overscan: options.overscan ?? 4,
    })),
  );
  watch(rowHeight, () => virtualizer.value.measure());
  const rows = computed(() => virtualizer.value.getVirtualItems());
  const totalSize = computed(() => virtualizer.value.getTotalSize());

  /** The indexes of the tiles of one row. */
  function rowIndexes(row: number): number[] {
    const first = row * columns.value;
    const last = Math.min(toValue(options.total), first + columns.value);
    return Array.from({ length: Math.max(0, last - first) }, (_, offset) => first + offset);
  }

  watch(
    [rows, columns, () => toValue(options.total), () => toValue(options.pages)],
    () => {
      const visible = rows.value;
      if (visible.length === 0) return;
      options.ensureRange(visible[0]!.index * columns.value, (visible.at(-1)!.index + 1) * columns.value - 1);
    },
    { immediate: true },
  );

  let observer: ResizeObserver | undefined;
  onMounted(() => {
    if (typeof ResizeObserver !== 'function' || !scroller.value) return;
    observer = new ResizeObserver(([entry]) => {
      if (entry) width.value = entry.contentRect.width;
    });
    observer.observe(scroller.value);
  });
  onBeforeUnmount(() => observer?.disconnect());

  /** Scrolls so the tile at `index` is in view. */
  function reveal(index: number): void {
    virtualizer.value.scrollToIndex(Math.floor(index / columns.value), { align: 'auto' });
  }

  /** Scrolls back to the first row. */
  function toTop(): void {
    if (scroller.value) scroller.value.scrollTop = 0;
  }

  return { scroller, width, columns, tileSize, rows, totalSize, rowIndexes, reveal, toTop };
}

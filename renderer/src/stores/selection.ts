import { defineStore } from 'pinia';
import { ref, shallowRef } from 'vue';
import type { GalleryItem } from '../../../main/common/library';
import type { AppError } from '../../../main/common/result';
import { api } from '../api';
import { useImageTilesStore } from './image-tiles';

/** Rows per page of the selection grid. */
export const selectionPageSize = 200;

/**
 * The images selected on the map (by lasso or box), as image ids in the order given, for labelling
 * them in one go; their tiles are read page by page for the grid under the map.
 */
export const useSelectionStore = defineStore('selection', () => {
  const tiles = useImageTilesStore();
  const selection = ref<number[]>([]);
  const selectionPages = shallowRef(new Map<number, GalleryItem[]>());
  const selectionError = ref<AppError>();
  const pending = new Map<number, Promise<void>>();

  /** Replaces the selection with these image ids (kept in the order given, without repeats). */
  function selectIds(ids: number[]): void {
    selection.value = [...new Set(ids)];
    selectionPages.value = new Map();
    pending.clear();
    selectionError.value = undefined;
  }

  function clearSelection(): void {
    selectIds([]);
  }

  function loadSelectionPage(page: number): Promise<void> {
    const inFlight = pending.get(page);
    if (inFlight) return inFlight;
    const ids = selection.value.slice(page * selectionPageSize, (page + 1) * selectionPageSize);
    if (ids.length === 0) return Promise.resolve();
    const chosen = selection.value;
    const request = api()
      .call('libraryItems', { ids })
      .then((result) => {
        if (chosen !== selection.value) return;
        if (!result.ok) {
          selectionError.value = result.error;
          return;
        }
        tiles.rememberItems(result.value);
        const next = new Map(selectionPages.value);
        next.set(page, result.value);
        selectionPages.value = next;
      })
      .finally(() => {
        if (pending.get(page) === request) pending.delete(page);
      });
    pending.set(page, request);
    return request;
  }

  /** Loads the pages holding the selected images from `first` to `last` (indexes). */
  function ensureSelectionRange(first: number, last: number): void {
    if (last < first) return;
    const from = Math.floor(Math.max(0, first) / selectionPageSize);
    const to = Math.floor(Math.max(0, last) / selectionPageSize);
    for (let page = from; page <= to; page += 1)
      if (!selectionPages.value.has(page)) void loadSelectionPage(page);
  }

  function selectionItemAt(index: number): GalleryItem | undefined {
    return selectionPages.value.get(Math.floor(index / selectionPageSize))?.[index % selectionPageSize];
  }

  /** Reads the pages shown again (their labels changed). */
  async function reloadPages(): Promise<void> {
    const shown = [...selectionPages.value.keys()];
    pending.clear();
    await Promise.all(shown.map((page) => loadSelectionPage(page)));
  }

  return {
    selection,
    selectionPages,
    selectionError,
    selectIds,
    clearSelection,
    ensureSelectionRange,
    selectionItemAt,
    reloadPages,
  };
});

import { defineStore } from 'pinia';
import { ref } from 'vue';
import type { GalleryItem } from '../../../main/common/library';
import { ok, type AppError } from '../../../main/common/result';
import { api } from '../api';
import { useImageTilesStore } from './image-tiles';
import { usePagedList } from './paged-gallery';

/** Rows per page of the selection grid. */
export const selectionPageSize = 200;

/**
 * The images selected on the map (by lasso or box), as image ids in the order given, for labelling
 * them in one go; their tiles are read page by page for the grid under the map.
 */
export const useSelectionStore = defineStore('selection', () => {
  const tiles = useImageTilesStore();
  const selection = ref<number[]>([]);
  const selectionError = ref<AppError>();
  const list = usePagedList<GalleryItem>(
    selectionPageSize,
    async (offset, limit) => {
      const ids = selection.value.slice(offset, offset + limit);
      if (ids.length === 0) return ok({ total: selection.value.length, items: [] });
      const result = await api().call('libraryItems', { ids });
      return result.ok ? ok({ total: selection.value.length, items: result.value }) : result;
    },
    (error) => (selectionError.value = error),
    (items) => tiles.rememberItems(items),
  );

  /** Replaces the selection with these image ids (kept in the order given, without repeats). */
  function selectIds(ids: number[]): void {
    selection.value = [...new Set(ids)];
    list.clear();
    selectionError.value = undefined;
  }

  function clearSelection(): void {
    selectIds([]);
  }

  return {
    selection,
    selectionPages: list.pages,
    selectionError,
    selectIds,
    clearSelection,
    ensureSelectionRange: list.ensureRange,
    selectionItemAt: list.itemAt,
    reloadPages: list.reload,
  };
});

import { defineStore } from 'pinia';
import { ref, shallowRef } from 'vue';
import type { GalleryItem } from '../../../main/common/library';
import { api } from '../api';

/** The file name of a library path. */
export function fileName(relPath: string | undefined): string {
  if (!relPath) return '';
  return relPath.slice(relPath.lastIndexOf('/') + 1);
}

/**
 * The Clusters screen's image tiles by id (file names for hover and captions, versions for thumbnails),
 * read on demand and shared by the cluster browser, the map, similar images and near-duplicates; and the
 * image open in the lightbox.
 */
export const useImageTilesStore = defineStore('imageTiles', () => {
  const items = shallowRef(new Map<number, GalleryItem>());
  const viewing = ref<number>();
  const pending = new Set<number>();

  /** Keeps tiles read elsewhere (a page of the selection). */
  function rememberItems(list: GalleryItem[]): void {
    if (list.length === 0) return;
    const next = new Map(items.value);
    for (const item of list) next.set(item.id, item);
    items.value = next;
  }

  /** Makes sure the tiles of these images are known (file names for hover, the lightbox). */
  async function fetchItems(ids: number[]): Promise<void> {
    const wanted = [...new Set(ids)].filter((id) => !items.value.has(id) && !pending.has(id));
    if (wanted.length === 0) return;
    for (const id of wanted) pending.add(id);
    const result = await api().call('libraryItems', { ids: wanted });
    for (const id of wanted) pending.delete(id);
    if (result.ok) rememberItems(result.value);
  }

  /** Forgets these tiles (their labels changed), so they are read again when shown. */
  function forget(ids: number[]): void {
    if (ids.length === 0) return;
    const next = new Map(items.value);
    for (const id of ids) next.delete(id);
    items.value = next;
  }

  function itemFor(id: number | undefined): GalleryItem | undefined {
    return id === undefined ? undefined : items.value.get(id);
  }

  /** Opens an image in the lightbox (its tile is fetched when unknown). */
  function openImage(imageId: number): void {
    viewing.value = imageId;
    void fetchItems([imageId]);
  }

  function closeImage(): void {
    viewing.value = undefined;
  }

  return { items, viewing, rememberItems, fetchItems, forget, itemFor, openImage, closeImage };
});

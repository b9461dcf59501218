import { ref, shallowRef } from 'vue';
import type { GalleryItem, GalleryQuery } from '../../../main/common/library';
import type { AppError, Result } from '../../../main/common/result';
import { api } from '../api';

/** One page as a paged list reads it: its rows, and how many rows there are in all. */
export interface ListPage<Item> {
  total: number;
  items: Item[];
}

/**
 * A list read a page at a time (the virtual grid asks for the pages it shows), as the Library and
 * Label galleries, an open cluster and the map's selection all keep one: the row total, the pages
 * loaded so far (replaced, not mutated, so views update), one request per page at a time, and
 * answers for an old query dropped when they arrive late. `onPage` is told of each page kept.
 */
export function usePagedList<Item>(
  pageSize: number,
  read: (offset: number, limit: number) => Promise<Result<ListPage<Item>>>,
  onError: (error: AppError) => void,
  onPage?: (items: Item[]) => void,
) {
  /** Rows matching the query. */
  const total = ref(0);
  const pages = shallowRef(new Map<number, Item[]>());
  /** Bumped whenever the query changes, so late answers for an old one are dropped. */
  let generation = 0;
  const pending = new Map<number, Promise<void>>();

  /** Fetches one page (once at a time) and stores it. */
  function loadPage(page: number): Promise<void> {
    const inFlight = pending.get(page);
    if (inFlight) return inFlight;
    const asked = generation;
    const request = read(page * pageSize, pageSize)
      .then((result) => {
        if (asked !== generation) return;
        if (!result.ok) {
          onError(result.error);
          return;
        }
        total.value = result.value.total;
        const next = new Map(pages.value);
        next.set(page, result.value.items);
        pages.value = next;
        onPage?.(result.value.items);
      })
      .finally(() => {
        if (pending.get(page) === request) pending.delete(page);
      });
    pending.set(page, request);
    return request;
  }

  /** Makes sure the rows from `first` to `last` (indexes) are loaded. */
  function ensureRange(first: number, last: number): void {
    if (last < first) return;
    const from = Math.floor(Math.max(0, first) / pageSize);
    const to = Math.floor(Math.max(0, last) / pageSize);
    for (let page = from; page <= to; page += 1) if (!pages.value.has(page)) void loadPage(page);
  }

  /** The row at an index, when its page is loaded. */
  function itemAt(index: number): Item | undefined {
    return pages.value.get(Math.floor(index / pageSize))?.[index % pageSize];
  }

  /** Drops the answers still on their way (the query or the data changed); the pages shown stay until replaced. */
  function invalidate(): void {
    generation += 1;
    pending.clear();
  }

  /** Drops every page (a new query). */
  function clear(): void {
    invalidate();
    pages.value = new Map();
  }

  /** Reads the pages loaded again (their rows changed); they stay shown until replaced. */
  async function reload(): Promise<void> {
    const shown = [...pages.value.keys()];
    pending.clear();
    await Promise.all(shown.map((page) => loadPage(page)));
  }

  return { total, pages, loadPage, ensureRange, itemAt, invalidate, clear, reload };
}

/** The library's images matching a gallery query, a page at a time (the Library and Label screens). */
export function usePagedGallery(pageSize: number, query: () => Omit<GalleryQuery, 'offset' | 'limit'>, onError: (error: AppError) => void) {
  return usePagedList<GalleryItem>(
    pageSize,
    (offset, limit) => api().call('libraryPage', { ...query(), offset, limit }),
    onError,
  );
}

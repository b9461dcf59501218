import { ref, shallowRef } from 'vue';
import type { GalleryItem, GalleryQuery } from '../../../main/common/library';
import type { AppError } from '../../../main/common/result';
import { api } from '../api';

/**
 * A gallery list read a page at a time (the virtual grid asks for the pages it shows), as the
 * Library and Label screens both keep one: the row total, the pages loaded so far (replaced, not
 * mutated, so views update), one request per page at a time, and answers for an old query
 * dropped when they arrive late.
 */
export function usePagedGallery(pageSize: number, query: () => Omit<GalleryQuery, 'offset' | 'limit'>, onError: (error: AppError) => void) {
  /** Rows matching the query. */
  const total = ref(0);
  const pages = shallowRef(new Map<number, GalleryItem[]>());
  /** Bumped whenever the query changes, so late answers for an old one are dropped. */
  let generation = 0;
  const pending = new Map<number, Promise<void>>();

  /** Fetches one page (once at a time) and stores it. */
  function loadPage(page: number): Promise<void> {
    const inFlight = pending.get(page);
    if (inFlight) return inFlight;
    const asked = generation;
    const request = api()
      .call('libraryPage', { ...query(), offset: page * pageSize, limit: pageSize })
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
  function itemAt(index: number): GalleryItem | undefined {
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

  return { total, pages, loadPage, ensureRange, itemAt, invalidate, clear };
}

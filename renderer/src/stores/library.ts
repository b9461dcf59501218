import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import type { ClassInfo, FolderInfo, GalleryItem, GalleryShow, Problem, ProblemsPage } from '../../../main/common/library';
import type { AppError } from '../../../main/common/result';
import { api } from '../api';
import { usePagedGallery } from './paged-gallery';

/** Rows per gallery page request; the virtual grid asks for the pages it shows. */
export const galleryPageSize = 200;

export interface GalleryFilter {
  folderId?: number;
  show: GalleryShow;
  classId?: number;
}

/**
 * The library as the views see it: folders with counts, classes, the gallery's filter and the
 * pages of it loaded so far (fetched on demand by the virtual grid), and the problems list.
 */
export const useLibraryStore = defineStore('library', () => {
  const folders = ref<FolderInfo[]>([]);
  const classes = ref<ClassInfo[]>([]);
  const error = ref<AppError>();
  const filter = ref<GalleryFilter>({ show: 'images' });
  /** The gallery: rows matching the filter, read a page at a time. */
  const gallery = usePagedGallery(
    galleryPageSize,
    () => {
      const { folderId, show, classId } = filter.value;
      return { ...(folderId !== undefined ? { folderId } : {}), ...(classId !== undefined ? { classId } : {}), show };
    },
    (failure) => (error.value = failure),
  );
  const { total, pages, loadPage, ensureRange, itemAt } = gallery;
  const problems = ref<ProblemsPage>();
  let problemsAsked = 0;
  const loaded = ref(false);
  let started = false;
  let refreshTimer: ReturnType<typeof setTimeout> | undefined;

  const totals = computed(() => ({
    images: folders.value.reduce((sum, folder) => sum + folder.images, 0),
    rejected: folders.value.reduce((sum, folder) => sum + folder.rejected, 0),
    labelled: folders.value.reduce((sum, folder) => sum + folder.labelled, 0),
  }));

  /** Loads folders and the first page, and follows changes; safe to call more than once. */
  async function start(): Promise<void> {
    if (started) return;
    started = true;
    api().on('library', () => scheduleRefresh());
    await Promise.all([loadFolders(), loadClasses(), reloadGallery()]);
    loaded.value = true;
  }

  /** Coalesces bursts of change events into one refresh. */
  function scheduleRefresh(): void {
    if (refreshTimer) return;
    refreshTimer = setTimeout(() => {
      refreshTimer = undefined;
      void refresh();
    }, 300);
  }

  async function refresh(): Promise<void> {
    await Promise.all([loadFolders(), loadClasses(), refreshPages()]);
    if (problems.value) await loadProblems();
  }

  async function loadFolders(): Promise<void> {
    const result = await api().call('libraryFolders', {});
    if (result.ok) folders.value = result.value;
    else error.value = result.error;
  }

  async function loadClasses(): Promise<void> {
    const result = await api().call('libraryClasses', {});
    if (result.ok) classes.value = result.value;
    else error.value = result.error;
  }

  /** Loads the row at an index (fetching its page) and returns it. */
  async function fetchItem(index: number): Promise<GalleryItem | undefined> {
    if (index < 0 || index >= total.value) return undefined;
    const page = Math.floor(index / galleryPageSize);
    if (!pages.value.has(page)) await loadPage(page);
    return itemAt(index);
  }

  /** Drops every page and loads the first again (a new filter). */
  async function reloadGallery(): Promise<void> {
    gallery.clear();
    await loadPage(0);
  }

  /** Loads again the pages already shown (something changed), keeping them on screen meanwhile. */
  async function refreshPages(): Promise<void> {
    const shown = [...pages.value.keys()];
    gallery.invalidate();
    if (shown.length === 0) shown.push(0);
    // Keep at most a few pages: the others are fetched again when scrolled to.
    const keep = shown.slice(-6);
    const stale = new Map<number, GalleryItem[]>();
    for (const page of keep) stale.set(page, pages.value.get(page) ?? []);
    pages.value = stale;
    await Promise.all(keep.map((page) => loadPage(page)));
  }

  /** A new filter: the gallery, and the problems list once it has been shown, follow it. */
  async function setFilter(next: Partial<GalleryFilter>): Promise<void> {
    filter.value = { ...filter.value, ...next };
    await Promise.all([reloadGallery(), problems.value ? loadProblems() : undefined]);
  }

  /** Adds a folder and starts its import; returns the error to show, if any. */
  async function addFolder(path: string): Promise<AppError | undefined> {
    const result = await api().call('libraryAddFolder', { path });
    if (!result.ok) return result.error;
    await loadFolders();
    return undefined;
  }

  /** Opens the native folder dialog (desktop app); undefined when cancelled. */
  async function pickFolder(): Promise<{ path?: string; error?: AppError }> {
    const result = await api().call('libraryPickFolder', {});
    if (!result.ok) return { error: result.error };
    return result.value.path ? { path: result.value.path } : {};
  }

  async function rescan(folderId: number): Promise<AppError | undefined> {
    const result = await api().call('libraryRescan', { folderId });
    if (!result.ok) return result.error;
    await loadFolders();
    return undefined;
  }

  async function removeFolder(folderId: number, confirmed: boolean): Promise<AppError | undefined> {
    const result = await api().call('libraryRemoveFolder', { folderId, confirmed });
    if (!result.ok) return result.error;
    if (filter.value.folderId === folderId) filter.value = { ...filter.value, folderId: undefined };
    await Promise.all([loadFolders(), loadClasses(), reloadGallery()]);
    if (problems.value) await loadProblems();
    return undefined;
  }

  async function useFolderLabels(folderId: number): Promise<AppError | undefined> {
    const result = await api().call('libraryUseFolderLabels', { folderId });
    if (!result.ok) return result.error;
    await Promise.all([loadFolders(), loadClasses(), refreshPages()]);
    return undefined;
  }

  /** Loads the problems list (for the folder filter), `limit` rows from the start; a newer request wins. */
  async function loadProblems(limit = 500): Promise<void> {
    const { folderId } = filter.value;
    problemsAsked += 1;
    const asked = problemsAsked;
    const result = await api().call('libraryProblems', { ...(folderId !== undefined ? { folderId } : {}), offset: 0, limit });
    if (asked !== problemsAsked) return;
    if (result.ok) problems.value = result.value;
    else error.value = result.error;
  }

  async function image(id: number) {
    return api().call('libraryImage', { id });
  }

  function problemList(): Problem[] {
    return problems.value?.items ?? [];
  }

  return {
    folders,
    classes,
    error,
    filter,
    total,
    pages,
    problems,
    loaded,
    totals,
    start,
    refresh,
    loadFolders,
    ensureRange,
    itemAt,
    fetchItem,
    setFilter,
    addFolder,
    pickFolder,
    rescan,
    removeFolder,
    useFolderLabels,
    loadProblems,
    image,
    problemList,
  };
});

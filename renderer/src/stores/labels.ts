import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import type { ClusteringInfo, EmbeddingSetInfo } from '../../../main/common/embeddings';
import type { LabelHistory } from '../../../main/common/labels';
import type { ClassInfo, FolderInfo, GalleryItem, ImageDetails } from '../../../main/common/library';
import type { AppError } from '../../../main/common/result';
import { api } from '../api';
import { classOfKey, keyedClasses } from '../classes';
import { usePagedGallery } from './paged-gallery';

export { classColor } from '../classes';
export { isTypingTarget, keyAction, type KeyAction } from '../label-keys';

/** Rows per page of the image list. */
export const labelPageSize = 200;
/** Rows per clusterImages call when reading every image of a cluster. */
export const clusterReadPageSize = 1000;
/** Which images the Label screen lists. */
export type LabelShow = 'unlabelled' | 'images' | 'labelled';

export interface LabelFilter {
  show: LabelShow;
  /** Only images with this label (any source); `show` is then ignored. */
  classId?: number;
  folderId?: number;
}

/** The state of the last change: saving, saved (with when), or failed. */
export type SaveState = 'idle' | 'saving' | 'saved' | 'error';

/** The short message after a change, with what can be undone. */
export interface LabelNotice {
  kind: 'label' | 'undo' | 'redo' | 'class' | 'error';
  text: string;
  /** Increases with every notice (the view restarts its fade). */
  seq: number;
}

/** "3 images" / "1 image". */
export function imagesText(count: number): string {
  return `${count.toLocaleString('en-US')} image${count === 1 ? '' : 's'}`;
}

/**
 * The Label screen's state: the classes (in the order of libraryClasses: keyed classes by key,
 * then the others; each key is stored with its class), the list of images to label with its filter (read page by page), the current
 * image and a multi-selection, labelling through labelSet with undo and redo (the history lives
 * in the core; the counts come back with every change), and the clusters of the newest clustering
 * for labelling a whole cluster at once. Every change ends in a notice and a "Saved" state.
 */
export const useLabelsStore = defineStore('labels', () => {
  const classes = ref<ClassInfo[]>([]);
  const folders = ref<FolderInfo[]>([]);
  const error = ref<AppError>();
  const loaded = ref(false);

  // --- The list of images.
  const filter = ref<LabelFilter>({ show: 'unlabelled' });
  const gallery = usePagedGallery(
    labelPageSize,
    () => {
      const { folderId, show, classId } = filter.value;
      return { ...(folderId !== undefined ? { folderId } : {}), ...(classId !== undefined ? { classId, show: 'images' as const } : { show }) };
    },
    (failure) => (error.value = failure),
  );
  const { total, pages, loadPage, ensureRange, itemAt } = gallery;
  /** The index of the current image in the list. */
  const current = ref(0);
  /** The multi-selection, as list indexes. */
  const selected = ref<Set<number>>(new Set());
  /** Where a Shift-click range starts. */
  const anchor = ref<number>();
  const details = ref<ImageDetails>();
  /** Images labelled since the list was read (an unlabelled list keeps them until refreshed). */
  const labelledSinceLoad = ref(0);

  // --- Changes.
  const saveState = ref<SaveState>('idle');
  const savedAt = ref<Date>();
  /** What can be undone and redone; null until the core has told us. */
  const history = ref<LabelHistory | null>(null);
  const notice = ref<LabelNotice>();
  const busy = ref(false);

  // --- Clusters.
  const clustering = ref<ClusteringInfo | null>();
  const clusteringSet = ref<EmbeddingSetInfo>();
  const clustersLoading = ref(false);

  let noticeSeq = 0;
  let started = false;
  let detailsAsked = 0;
  /** Descriptions of the steps this window did, so undo can say what it undid. */
  const undoTexts: string[] = [];
  const redoTexts: string[] = [];

  /** The classes with a number key, in key order (the key is stored with each class). */
  const keyed = computed(() => keyedClasses(classes.value));
  const currentItem = computed(() => itemAt(current.value));
  const selectedIds = computed(() => {
    const ids: number[] = [];
    for (const index of [...selected.value].sort((a, b) => a - b)) {
      const item = itemAt(index);
      if (item) ids.push(item.id);
    }
    return ids;
  });
  const canUndo = computed(() => history.value === null || history.value.undo > 0);
  const canRedo = computed(() => history.value === null || history.value.redo > 0);

  function say(kind: LabelNotice['kind'], text: string): void {
    noticeSeq += 1;
    notice.value = { kind, text, seq: noticeSeq };
  }

  function fail(problem: AppError): AppError {
    error.value = problem;
    saveState.value = 'error';
    say('error', problem.message);
    return problem;
  }

  function className(classId: number | null): string {
    if (classId === null) return '';
    return classes.value.find((entry) => entry.id === classId)?.name ?? `class #${classId}`;
  }

  // ------------------------------------------------------------------------------------------
  // Loading.

  /** Loads classes, folders, the first page and the clusters; follows label changes. */
  async function start(): Promise<void> {
    if (!started) {
      started = true;
      api().on('library', (event) => {
        if (event.what === 'labels' || event.what === 'folders') void loadClasses();
        if (event.what === 'folders') void loadFolders();
      });
    }
    await Promise.all([loadClasses(), loadFolders(), reload(), loadClusters()]);
    loaded.value = true;
  }

  async function loadClasses(): Promise<void> {
    const result = await api().call('libraryClasses', {});
    if (result.ok) classes.value = result.value;
    else error.value = result.error;
  }

  async function loadFolders(): Promise<void> {
    const result = await api().call('libraryFolders', {});
    if (result.ok) folders.value = result.value;
    else error.value = result.error;
  }

  function indexOfId(id: number): number | undefined {
    for (const [page, list] of pages.value) {
      const at = list.findIndex((item) => item.id === id);
      if (at >= 0) return page * labelPageSize + at;
    }
    return undefined;
  }

  /** Reads the list again from the start (a new filter, or "Refresh"). */
  async function reload(): Promise<void> {
    gallery.clear();
    selected.value = new Set();
    anchor.value = undefined;
    labelledSinceLoad.value = 0;
    current.value = 0;
    await loadPage(0);
    if (current.value >= total.value) current.value = Math.max(0, total.value - 1);
    void loadDetails();
  }

  async function setFilter(next: Partial<LabelFilter>): Promise<void> {
    filter.value = { ...filter.value, ...next };
    await reload();
  }

  /** Reads the current image's details (its labels with their sources). */
  async function loadDetails(): Promise<void> {
    const item = itemAt(current.value);
    detailsAsked += 1;
    const asked = detailsAsked;
    if (!item) {
      details.value = undefined;
      return;
    }
    const result = await api().call('libraryImage', { id: item.id });
    if (asked !== detailsAsked) return;
    if (result.ok) details.value = result.value;
    else error.value = result.error;
  }

  // ------------------------------------------------------------------------------------------
  // Moving and selecting.

  /** Makes `index` the current image (loading its page when needed). */
  async function moveTo(index: number): Promise<void> {
    if (total.value === 0) return;
    const next = Math.min(Math.max(0, index), total.value - 1);
    current.value = next;
    if (!itemAt(next)) await loadPage(Math.floor(next / labelPageSize));
    await loadDetails();
  }

  /** Arrow keys: move by `delta`; with `extend`, grow the selection as Shift does. */
  async function step(delta: number, extend = false): Promise<void> {
    const from = current.value;
    await moveTo(from + delta);
    if (extend) {
      anchor.value ??= from;
      selectRange(anchor.value, current.value);
    } else if (selected.value.size > 0) {
      selected.value = new Set();
      anchor.value = undefined;
    }
  }

  /** A click on a tile: plain selects it alone, Ctrl/Cmd toggles it, Shift selects a range. */
  async function click(index: number, modifiers: { toggle?: boolean; range?: boolean } = {}): Promise<void> {
    if (modifiers.range) {
      const start = anchor.value ?? current.value;
      anchor.value = start;
      selectRange(start, index);
    } else if (modifiers.toggle) {
      const next = new Set(selected.value);
      // The first Ctrl-click takes the current image along, as file managers do.
      if (next.size === 0 && index !== current.value) next.add(current.value);
      if (next.has(index)) next.delete(index);
      else next.add(index);
      selected.value = next;
      anchor.value = index;
    } else {
      selected.value = new Set();
      anchor.value = index;
    }
    await moveTo(index);
  }

  function selectRange(from: number, to: number): void {
    const next = new Set<number>();
    const [low, high] = from <= to ? [from, to] : [to, from];
    for (let index = low; index <= high; index += 1) next.add(index);
    selected.value = next;
  }

  function clearSelection(): void {
    selected.value = new Set();
    anchor.value = undefined;
  }

  // ------------------------------------------------------------------------------------------
  // Labelling.

  /** Re-reads the tiles of these images where the list shows them (their label changed). */
  async function refreshItems(ids: number[]): Promise<void> {
    const wanted = new Set(ids);
    const shown: number[] = [];
    for (const list of pages.value.values())
      for (const item of list) if (wanted.has(item.id)) shown.push(item.id);
    if (shown.length === 0) return;
    const result = await api().call('libraryItems', { ids: shown });
    if (!result.ok) return;
    const fresh = new Map(result.value.map((item) => [item.id, item]));
    const next = new Map<number, GalleryItem[]>();
    for (const [page, list] of pages.value)
      next.set(
        page,
        list.map((item) => {
          const update = fresh.get(item.id);
          return update ? { ...item, label: update.label } : item;
        }),
      );
    pages.value = next;
  }

  /** After any change of labels: counts, the tiles shown, the current image's labels. */
  async function afterChange(ids: number[]): Promise<void> {
    await Promise.all([loadClasses(), refreshItems(ids), loadDetails()]);
  }

  /**
   * Gives `imageIds` the hand label `classId` (null removes it) in one labelSet; `what` names
   * the images in the notice ("cluster 3"); `keepHand` leaves images that have a hand label
   * alone. Returns the error, if any.
   */
  async function labelImages(
    imageIds: number[],
    classId: number | null,
    what?: string,
    keepHand = false,
  ): Promise<AppError | undefined> {
    const ids = [...new Set(imageIds)];
    if (ids.length === 0) return undefined;
    busy.value = true;
    saveState.value = 'saving';
    const result = await api().call('labelSet', { imageIds: ids, classId, ...(keepHand ? { keepHand } : {}) });
    busy.value = false;
    if (!result.ok) return fail(result.error);
    error.value = undefined;
    const { changed, undo, redo } = result.value;
    history.value = { undo, redo };
    saveState.value = 'saved';
    savedAt.value = new Date();
    const subject = what ?? imagesText(ids.length);
    const text =
      classId === null
        ? `Removed the hand label of ${subject}`
        : `Labelled ${subject} as ${className(classId)}`;
    if (changed > 0) {
      undoTexts.push(text);
      if (undoTexts.length > 100) undoTexts.shift();
      redoTexts.length = 0;
      if (filter.value.show === 'unlabelled' && classId !== null) labelledSinceLoad.value += changed;
      const kept = keepHand ? ', hand labels kept' : '';
      say('label', changed === ids.length ? text : `${text} (${changed.toLocaleString('en-US')} changed${kept})`);
    } else say('label', `${text}: nothing changed`);
    await afterChange(ids);
    return undefined;
  }

  /** The images a key press labels: the multi-selection, or else the current image. */
  function targets(): number[] {
    if (selected.value.size > 0) return selectedIds.value;
    const item = itemAt(current.value);
    return item ? [item.id] : [];
  }

  /** Labels the targets with a class (or removes their hand label), then moves on. */
  async function labelTargets(classId: number | null): Promise<AppError | undefined> {
    const multi = selected.value.size > 0;
    const ids = targets();
    if (ids.length === 0) return undefined;
    const last = multi ? Math.max(...selected.value) : current.value;
    const problem = await labelImages(ids, classId);
    if (problem) return problem;
    if (multi) clearSelection();
    if (classId !== null && last + 1 < total.value) await moveTo(last + 1);
    else if (multi) await moveTo(last);
    return undefined;
  }

  /** Key 1-9: the class that has that key. */
  async function labelWithKey(number: number): Promise<AppError | undefined> {
    const entry = classOfKey(classes.value, number);
    if (!entry) return undefined;
    return labelTargets(entry.id);
  }

  async function undo(): Promise<AppError | undefined> {
    return historyStep('labelUndo');
  }

  async function redo(): Promise<AppError | undefined> {
    return historyStep('labelRedo');
  }

  async function historyStep(name: 'labelUndo' | 'labelRedo'): Promise<AppError | undefined> {
    busy.value = true;
    saveState.value = 'saving';
    const result = await api().call(name, {});
    busy.value = false;
    if (!result.ok) return fail(result.error);
    const { imageIds, changed, undo: undoCount, redo: redoCount } = result.value;
    history.value = { undo: undoCount, redo: redoCount };
    saveState.value = 'saved';
    savedAt.value = new Date();
    const isUndo = name === 'labelUndo';
    if (imageIds.length === 0) {
      say(isUndo ? 'undo' : 'redo', isUndo ? 'Nothing to undo' : 'Nothing to redo');
      return undefined;
    }
    const from = isUndo ? undoTexts : redoTexts;
    const to = isUndo ? redoTexts : undoTexts;
    const described = from.pop() ?? `a label change of ${imagesText(imageIds.length)}`;
    to.push(described);
    const lowered = described.charAt(0).toLowerCase() + described.slice(1);
    say(
      isUndo ? 'undo' : 'redo',
      `${isUndo ? 'Undid' : 'Redid'}: ${lowered}${changed === imageIds.length ? '' : ` (${changed} changed)`}`,
    );
    if (isUndo && filter.value.show === 'unlabelled')
      labelledSinceLoad.value = Math.max(0, labelledSinceLoad.value - changed);
    // Back to the first image of the step, so a wrong key is fixed where it happened.
    const back = indexOfId(imageIds[0]!);
    if (back !== undefined) {
      current.value = back;
      clearSelection();
    }
    await afterChange(imageIds);
    return undefined;
  }

  // ------------------------------------------------------------------------------------------
  // Classes.

  async function createClass(
    name: string,
    color?: string | null,
  ): Promise<{ created?: ClassInfo; error?: AppError }> {
    const result = await api().call('classCreate', { name, ...(color ? { color } : {}) });
    if (!result.ok) return { error: result.error };
    await loadClasses();
    say('class', `Created class ${result.value.name}`);
    return { created: result.value };
  }

  async function updateClass(
    classId: number,
    patch: { name?: string; color?: string | null; key?: number | null },
  ): Promise<AppError | undefined> {
    const before = className(classId);
    const result = await api().call('classUpdate', { classId, ...patch });
    if (!result.ok) return result.error;
    await loadClasses();
    if (patch.name !== undefined && result.value.name !== before) {
      say('class', `Renamed ${before} to ${result.value.name}`);
      await refreshAllItems();
    } else if (patch.key !== undefined) {
      say('class', result.value.key === null ? `${result.value.name} has no key now` : `Key ${result.value.key} labels ${result.value.name} now`);
    } else say('class', `Recoloured ${result.value.name}`);
    return undefined;
  }

  /** The label of every loaded tile again (after a rename, merge or delete). */
  async function refreshAllItems(): Promise<void> {
    const ids: number[] = [];
    for (const list of pages.value.values()) for (const item of list) ids.push(item.id);
    await Promise.all([refreshItems(ids), loadDetails()]);
  }

  /** Forgets the history (merge and delete clear it in the core too). */
  function historyCleared(): void {
    history.value = { undo: 0, redo: 0 };
    undoTexts.length = 0;
    redoTexts.length = 0;
  }

  async function mergeClass(fromClassId: number, intoClassId: number): Promise<AppError | undefined> {
    const from = className(fromClassId);
    const into = className(intoClassId);
    const result = await api().call('classMerge', { fromClassId, intoClassId });
    if (!result.ok) return result.error;
    historyCleared();
    if (filter.value.classId === fromClassId) filter.value = { ...filter.value, classId: intoClassId };
    await loadClasses();
    say(
      'class',
      `Merged ${from} into ${into}: ${result.value.moved.toLocaleString('en-US')} labels moved (cannot be undone)`,
    );
    await refreshAllItems();
    return undefined;
  }

  async function deletePreview(classId: number) {
    return api().call('classDeletePreview', { classId });
  }

  async function deleteClass(classId: number): Promise<AppError | undefined> {
    const name = className(classId);
    const result = await api().call('classDelete', { classId, confirm: true });
    if (!result.ok) return result.error;
    historyCleared();
    await loadClasses();
    say(
      'class',
      `Deleted class ${name} and its ${result.value.removedLabels.toLocaleString('en-US')} labels`,
    );
    if (filter.value.classId === classId) await setFilter({ classId: undefined });
    else await refreshAllItems();
    return undefined;
  }

  // ------------------------------------------------------------------------------------------
  // Clusters.

  /** Finds the newest clustering of any embedding set. */
  async function loadClusters(): Promise<void> {
    clustersLoading.value = true;
    const sets = await api().call('embeddingSets', {});
    if (!sets.ok) {
      clustersLoading.value = false;
      clustering.value = null;
      return;
    }
    const found = await Promise.all(
      sets.value.map(async (set) => {
        const result = await api().call('clusteringLatest', { setId: set.id });
        return { set, clustering: result.ok ? result.value : null };
      }),
    );
    let newest: { set: EmbeddingSetInfo; clustering: ClusteringInfo } | undefined;
    for (const entry of found) {
      if (!entry.clustering) continue;
      if (
        !newest ||
        entry.clustering.createdAt > newest.clustering.createdAt ||
        (entry.clustering.createdAt === newest.clustering.createdAt &&
          entry.clustering.id > newest.clustering.id)
      )
        newest = { set: entry.set, clustering: entry.clustering };
    }
    clustering.value = newest?.clustering ?? null;
    clusteringSet.value = newest?.set;
    clustersLoading.value = false;
  }

  /** Every image id of one cluster of a clustering, read page by page. */
  async function clusterImageIds(
    clusteringId: number,
    cluster: number,
  ): Promise<{ ids?: number[]; error?: AppError }> {
    const ids: number[] = [];
    for (let offset = 0; ; offset += clusterReadPageSize) {
      const result = await api().call('clusterImages', {
        clusteringId,
        cluster,
        offset,
        limit: clusterReadPageSize,
      });
      if (!result.ok) return { error: result.error };
      for (const item of result.value.items) ids.push(item.imageId);
      if (result.value.items.length === 0 || offset + result.value.items.length >= result.value.total) break;
    }
    return { ids };
  }

  return {
    classes,
    folders,
    error,
    loaded,
    filter,
    total,
    pages,
    current,
    selected,
    anchor,
    details,
    labelledSinceLoad,
    saveState,
    savedAt,
    history,
    notice,
    busy,
    clustering,
    clusteringSet,
    clustersLoading,
    keyed,
    currentItem,
    selectedIds,
    canUndo,
    canRedo,
    start,
    loadClasses,
    loadFolders,
    ensureRange,
    itemAt,
    reload,
    setFilter,
    loadDetails,
    moveTo,
    step,
    click,
    clearSelection,
    labelImages,
    labelTargets,
    labelWithKey,
    undo,
    redo,
    createClass,
    updateClass,
    mergeClass,
    deletePreview,
    deleteClass,
    loadClusters,
    clusterImageIds,
    className,
  };
});

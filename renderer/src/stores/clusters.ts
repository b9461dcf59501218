import { defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import type { CallArgs } from '../../../main/common/api-contract';
import type {
  ClusterImagesPage,
  ClusteringInfo,
  DistanceMetric,
  EmbeddingSetInfo,
  EmbeddingSource,
  ImageDistance,
} from '../../../main/common/embeddings';
import type { ClassInfo, FolderInfo, GalleryItem } from '../../../main/common/library';
import type { AppError } from '../../../main/common/result';
import type { BackboneChoice, CheckpointInfo, RunInfo } from '../../../main/common/runs';
import type { TaskInfo } from '../../../main/common/tasks';
import { api } from '../api';
import { useCall } from '../composables/use-call';
import { useTasksStore } from './tasks';
import { mapColorsFor, type MapColorBy } from './map-colors';

/** Rows per page of a cluster's images and of the selection grid. */
export const clusterPageSize = 200;
export const selectionPageSize = 200;
/** Page size used to read every member of every cluster (colour by cluster). */
export const assignmentPageSize = 1000;
/** Neighbours asked for by "Similar". */
export const similarCount = 24;

export type ColorBy = MapColorBy;
export type ClusterSort = 'size' | 'purity' | 'index';
export type MapMethod = 'pca' | 'umap';

/** One entry of the backbone picker. */
export interface SourceOption {
  key: string;
  source: EmbeddingSource;
  label: string;
  runId: number;
  inUse: boolean;
}

/** A 2-D map decoded for drawing. */
export interface MapData {
  method: MapMethod;
  setId: number;
  imageIds: number[];
  xy: Float32Array;
  folderIds: number[];
  classIds: number[];
}

/** A cluster image as the detail grid shows it. */
export type ClusterItem = ClusterImagesPage['items'][number];

/** The latest clustering of another backbone's set, for the comparison table. */
export interface BackboneComparison {
  set: EmbeddingSetInfo;
  clustering: ClusteringInfo | null;
}

/** "c:<run>:<step>" for a checkpoint, "r:<run>" for random init: a picker value. */
export function sourceKey(source: EmbeddingSource): string {
  return source.kind === 'checkpoint' ? `c:${source.runId}:${source.step}` : `r:${source.runId}`;
}

/** The source a picker value names, or undefined for anything else. */
export function parseSourceKey(key: string): EmbeddingSource | undefined {
  const checkpoint = /^c:(\d+):(\d+)$/.exec(key);
  if (checkpoint) return { kind: 'checkpoint', runId: Number(checkpoint[1]), step: Number(checkpoint[2]) };
  const random = /^r:(\d+)$/.exec(key);
  if (random) return { kind: 'random', runId: Number(random[1]) };
  return undefined;
}

/** Base64 (as projectionGet sends xy) to a Float32Array. */
export function decodeFloat32(base64: string): Float32Array {
  if (!base64) return new Float32Array(0);
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return new Float32Array(bytes.buffer, 0, Math.floor(bytes.length / 4));
}

/** The k-means k typed by the user: '' (automatic) or a whole number from 2 to 1000. */
export function parseK(text: string | number | null | undefined): { k?: number; error?: string } {
  const value = String(text ?? '').trim();
  if (value === '') return {};
  const k = Number(value);
  if (!Number.isInteger(k) || k < 2 || k > 1000)
    return { error: 'k is a whole number from 2 to 1000, or empty for automatic.' };
  return { k };
}

/** The file name of a library path. */
export function fileName(relPath: string | undefined): string {
  if (!relPath) return '';
  return relPath.slice(relPath.lastIndexOf('/') + 1);
}

/**
 * The Clusters screen's state: which backbone embeds the images (a checkpoint, the one in use by
 * default, or a random init for comparison) and over which folders; the embedding task; k-means
 * clusterings with their scores; the open cluster's images page by page; the 2-D map (PCA, or UMAP
 * as a task) with its colours; the selection (image ids, for labelling later); similar images and
 * near-duplicates. Every call is wrapped: failures land in an error ref the view shows in words.
 */
export const useClustersStore = defineStore('clusters', () => {
  // --- What there is: runs, their checkpoints, the backbone in use, the library, the sets.
  const runs = ref<RunInfo[]>([]);
  const checkpoints = shallowRef(new Map<number, CheckpointInfo[]>());
  const backbone = ref<BackboneChoice | null>(null);
  const folders = ref<FolderInfo[]>([]);
  const classes = ref<ClassInfo[]>([]);
  const sets = ref<EmbeddingSetInfo[]>([]);
  const loaded = ref(false);
  const loading = ref(false);
  const loadError = ref<AppError>();

  // --- The choice: backbone and scope.
  const selectedKey = ref<string>();
  /** Folders to work on; empty means the whole library. */
  const scope = ref<number[]>([]);

  // --- Embedding.
  /** Embedding and UMAP tasks live in the tasks store; this store follows their events. */
  const tasks = useTasksStore();
  const embedTaskId = ref<string>();
  const embedError = ref<AppError>();
  const embedBusy = ref(false);
  /** What the last "Compute embeddings" said: how many images were missing. */
  const lastCompute = ref<{ key: string; missing: number }>();

  // --- Clustering.
  const kText = ref('');
  const metric = ref<DistanceMetric>('cosine');
  const seed = ref(0);
  const clustering = ref<ClusteringInfo | null>();
  const clusteringLoading = ref(false);
  const clusterBusy = ref(false);
  const clusterError = ref<AppError>();
  const sortBy = ref<ClusterSort>('size');
  const comparisons = ref<BackboneComparison[]>([]);

  // --- The open cluster.
  const openCluster = ref<number>();
  const clusterTotal = ref(0);
  const clusterPages = shallowRef(new Map<number, ClusterItem[]>());
  const clusterItemsError = ref<AppError>();
  const clusterOutliers = ref<ClusterItem[]>([]);
  /** Image id -> cluster of the current clustering, read page by page (colours, filters). */
  const assignments = shallowRef(new Map<number, number>());
  const assignmentsFor = ref<number>();
  const assignmentsLoading = ref(false);

  // --- The map.
  const mapMethod = ref<MapMethod>('pca');
  const map = shallowRef<MapData>();
  const mapLoading = ref(false);
  const mapError = ref<AppError>();
  const umapTaskId = ref<string>();
  const colorBy = ref<ColorBy>('cluster');

  // --- The selection (image ids) and its tiles.
  const selection = ref<number[]>([]);
  const selectionPages = shallowRef(new Map<number, GalleryItem[]>());
  const selectionError = ref<AppError>();

  // --- Image tiles by id (hover names, lightbox), similar images, near-duplicates.
  const items = shallowRef(new Map<number, GalleryItem>());
  const similarFor = ref<number>();
  const similarCall = useCall(
    (setId: number, imageId: number) => api().call('similarImages', { setId, imageId, k: similarCount }),
    { overlap: 'latest', onValue: (found) => void fetchItems(found.map((item) => item.imageId)) },
  );
  const { busy: similarLoading, error: similarError } = similarCall;
  const similar = computed<ImageDistance[]>(() => similarCall.value.value ?? []);
  const duplicateThreshold = ref(0.02);
  const duplicatesCall = useCall((args: CallArgs<'nearDuplicates'>) => api().call('nearDuplicates', args), {
    overlap: 'latest',
    onValue: (pairs) => void fetchItems(pairs.flatMap((pair) => [pair.a.imageId, pair.b.imageId])),
  });
  const { busy: duplicatesLoading, error: duplicatesError, value: duplicates } = duplicatesCall;

  // --- What the screen shows: its tab and the image open in the lightbox.
  const tab = ref<'clusters' | 'map'>('clusters');
  const viewing = ref<number>();

  let started = false;
  /** True while the backbone shown is the default choice rather than the user's. */
  let autoSelected = false;
  /** The clustering whose assignments are being read. */
  let assignmentsAsked: number | undefined;
  /** Bumped when the set (backbone or scope) changes, so late answers for the old one are dropped. */
  let generation = 0;
  /** Bumped when the clustering changes. */
  let clusteringGeneration = 0;
  const pendingCluster = new Map<number, Promise<void>>();
  const pendingSelection = new Map<number, Promise<void>>();
  const pendingItems = new Set<number>();
  let setsTimer: ReturnType<typeof setTimeout> | undefined;

  // ------------------------------------------------------------------------------------------
  // Derived state.

  const options = computed<SourceOption[]>(() => {
    const list: SourceOption[] = [];
    for (const run of runs.value) {
      const steps = [...new Set((checkpoints.value.get(run.id) ?? []).map((c) => c.step))].sort(
        (a, b) => b - a,
      );
      if (backbone.value?.runId === run.id && !steps.includes(backbone.value.step))
        steps.unshift(backbone.value.step);
      for (const step of steps) {
        const inUse = backbone.value?.runId === run.id && backbone.value.step === step;
        const source: EmbeddingSource = { kind: 'checkpoint', runId: run.id, step };
        list.push({
          key: sourceKey(source),
          source,
          label: `${run.name} at step ${step.toLocaleString('en-US')}${inUse ? ' (in use)' : ''}`,
          runId: run.id,
          inUse,
        });
      }
      const random: EmbeddingSource = { kind: 'random', runId: run.id };
      list.push({
        key: sourceKey(random),
        source: random,
        label: `Random init (${run.name}'s architecture)`,
        runId: run.id,
        inUse: false,
      });
    }
    return list;
  });
  const source = computed(() => (selectedKey.value ? parseSourceKey(selectedKey.value) : undefined));
  const set = computed(() => sets.value.find((known) => sourceKey(known.source) === selectedKey.value));
  const folderIds = computed(() =>
    scope.value.length > 0 ? [...scope.value].sort((a, b) => a - b) : undefined,
  );
  const embedTask = computed(() => (embedTaskId.value ? tasks.get(embedTaskId.value) : undefined));
  const embedding = computed(() => embedTask.value?.status === 'running');
  const umapTask = computed(() => (umapTaskId.value ? tasks.get(umapTaskId.value) : undefined));
  const allEmbedded = computed(
    () =>
      lastCompute.value !== undefined &&
      lastCompute.value.key === selectedKey.value &&
      lastCompute.value.missing === 0,
  );
  const libraryImages = computed(
    () => set.value?.libraryImages ?? folders.value.reduce((sum, folder) => sum + folder.images, 0),
  );

  const sortedClusters = computed(() => {
    const list = [...(clustering.value?.clusters ?? [])];
    if (sortBy.value === 'size') list.sort((a, b) => b.size - a.size || a.cluster - b.cluster);
    else if (sortBy.value === 'purity')
      list.sort((a, b) => (b.purity ?? -1) - (a.purity ?? -1) || b.size - a.size || a.cluster - b.cluster);
    else list.sort((a, b) => a.cluster - b.cluster);
    return list;
  });
  const openClusterInfo = computed(() =>
    clustering.value?.clusters.find((c) => c.cluster === openCluster.value),
  );
  /** The clustering is older than the set: images were embedded since. */
  const clusteringStale = computed(
    () => !!clustering.value && !!set.value && clustering.value.images < set.value.images && !folderIds.value,
  );

  /** The colouring in effect: by cluster only once there is a clustering (else by label). */
  const colorByShown = computed<ColorBy>(() =>
    colorBy.value === 'cluster' && !clustering.value ? 'label' : colorBy.value,
  );

  /** The colour of each map point and the legend, for the current colouring. */
  const mapColors = computed(() =>
    mapColorsFor(map.value, colorByShown.value, { clustering: clustering.value, assignments: assignments.value, classes: classes.value, folders: folders.value }),
  );

  /** Map indices of the selected images (the map draws them on top). */
  const highlighted = computed(() => {
    const data = map.value;
    if (!data || selection.value.length === 0) return undefined;
    const wanted = new Set(selection.value);
    const indices: number[] = [];
    data.imageIds.forEach((id, i) => {
      if (wanted.has(id)) indices.push(i);
    });
    return Int32Array.from(indices);
  });

  // ------------------------------------------------------------------------------------------
  // Loading.

  /** Loads what the screen needs and follows task events; safe to call more than once (it refreshes). */
  async function start(): Promise<void> {
    if (!started) {
      started = true;
      tasks.follow(onTask);
      api().on('library', () => scheduleSets());
      void recoverTasks();
    }
    await load();
  }

  async function recoverTasks(): Promise<void> {
    const result = await api().call('tasksList', {});
    if (!result.ok) return;
    for (const task of result.value) {
      if (task.status !== 'running') continue;
      if (task.kind === 'embed' && !embedTaskId.value) {
        embedTaskId.value = task.id;
        putTask(task);
      }
    }
  }

  /** Reads runs, checkpoints, the backbone in use, folders, classes and sets; picks a default backbone. */
  async function load(): Promise<void> {
    loading.value = true;
    const [runsResult, backboneResult, setsResult, foldersResult, classesResult] = await Promise.all([
      api().call('runsList', {}),
      api().call('backboneGet', {}),
      api().call('embeddingSets', {}),
      api().call('libraryFolders', {}),
      api().call('libraryClasses', {}),
    ]);
    loadError.value = undefined;
    for (const result of [runsResult, backboneResult, setsResult, foldersResult, classesResult])
      if (!result.ok) loadError.value = result.error;
    if (runsResult.ok) runs.value = runsResult.value;
    if (backboneResult.ok) backbone.value = backboneResult.value;
    if (setsResult.ok) sets.value = setsResult.value;
    if (foldersResult.ok) {
      folders.value = foldersResult.value;
      scope.value = scope.value.filter((id) => folders.value.some((folder) => folder.id === id));
    }
    if (classesResult.ok) classes.value = classesResult.value;
    await loadCheckpoints();
    loading.value = false;
    loaded.value = true;
    const keys = new Set(options.value.map((option) => option.key));
    const preferred = defaultKey();
    // The default follows the backbone in use (chosen on a run's page) until the user picks another.
    if (
      !selectedKey.value ||
      !keys.has(selectedKey.value) ||
      (autoSelected && preferred !== selectedKey.value)
    ) {
      if (preferred) await selectSource(preferred, true);
    } else if (set.value && clustering.value === undefined) await loadClustering();
    void loadComparisons();
  }

  /** The backbone in use; else the newest checkpoint of the newest run; else a random init. */
  function defaultKey(): string | undefined {
    if (backbone.value)
      return sourceKey({ kind: 'checkpoint', runId: backbone.value.runId, step: backbone.value.step });
    for (const run of runs.value) {
      const newest = Math.max(-1, ...(checkpoints.value.get(run.id) ?? []).map((c) => c.step));
      if (newest >= 0) return sourceKey({ kind: 'checkpoint', runId: run.id, step: newest });
    }
    const first = runs.value[0];
    return first ? sourceKey({ kind: 'random', runId: first.id }) : undefined;
  }

  /** Every run's checkpoints (4 runs at a time). */
  async function loadCheckpoints(): Promise<void> {
    const queue = runs.value.map((run) => run.id);
    const found = new Map(checkpoints.value);
    const worker = async (): Promise<void> => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
        const result = await api().call('runGet', { runId: id, maxPoints: 10 });
        if (result.ok) found.set(id, result.value.checkpoints);
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    checkpoints.value = found;
  }

  async function loadSets(): Promise<void> {
    const result = await api().call('embeddingSets', {});
    if (result.ok) sets.value = result.value;
  }

  /** Coalesces bursts (library changes, embedding progress) into one read of the sets. */
  function scheduleSets(delayMs = 500): void {
    if (setsTimer) return;
    setsTimer = setTimeout(() => {
      setsTimer = undefined;
      void loadSets();
    }, delayMs);
  }

  /** The latest clustering of every other set, for the comparison table. */
  async function loadComparisons(): Promise<void> {
    const list = await Promise.all(
      sets.value.map(async (known) => {
        const result = await api().call('clusteringLatest', { setId: known.id });
        return { set: known, clustering: result.ok ? result.value : null };
      }),
    );
    comparisons.value = list;
  }

  // ------------------------------------------------------------------------------------------
  // Backbone and scope.

  /** Forgets what was shown for the previous set. */
  function resetForSet(): void {
    generation += 1;
    clustering.value = undefined;
    clusterError.value = undefined;
    embedError.value = undefined;
    map.value = undefined;
    mapError.value = undefined;
    umapTaskId.value = undefined;
    duplicatesCall.reset();
    closeSimilar();
    resetClustering();
    clearSelection();
  }

  /** Forgets what was derived from the previous clustering. */
  function resetClustering(): void {
    clusteringGeneration += 1;
    openCluster.value = undefined;
    clusterPages.value = new Map();
    clusterTotal.value = 0;
    clusterOutliers.value = [];
    pendingCluster.clear();
    assignments.value = new Map();
    assignmentsFor.value = undefined;
    assignmentsAsked = undefined;
    assignmentsLoading.value = false;
  }

  /** Chooses the backbone (`byDefault`: the screen's choice, which follows the backbone in use). */
  async function selectSource(key: string, byDefault = false): Promise<void> {
    if (!parseSourceKey(key)) return;
    autoSelected = byDefault;
    selectedKey.value = key;
    resetForSet();
    if (set.value) await loadClustering();
  }

  function setScope(ids: number[]): void {
    scope.value = [...new Set(ids)];
    resetForSet();
    if (set.value) void loadClustering();
  }

  /** Starts embedding the images the set lacks (a task), or says none is missing. */
  async function computeEmbeddings(): Promise<AppError | undefined> {
    const chosen = source.value;
    if (!chosen) return undefined;
    embedBusy.value = true;
    embedError.value = undefined;
    const key = selectedKey.value!;
    const result = await api().call('embeddingsCompute', {
      source: chosen,
      ...(folderIds.value ? { folderIds: folderIds.value } : {}),
    });
    embedBusy.value = false;
    if (!result.ok) {
      embedError.value = result.error;
      return result.error;
    }
    const { set: info, task, missing } = result.value;
    putSet(info);
    lastCompute.value = { key, missing };
    if (clustering.value === undefined && !clusteringLoading.value) void loadClustering();
    if (task) {
      embedTaskId.value = task.id;
      // Its events may have come first (a quick task): keep the newer state.
      const known = tasks.get(task.id);
      if (known && known.status !== 'running') void embeddingEnded(known);
      else if (!known) putTask(task);
    }
    void loadComparisons();
    return undefined;
  }

  function putSet(info: EmbeddingSetInfo): void {
    const index = sets.value.findIndex((known) => known.id === info.id);
    if (index >= 0) sets.value.splice(index, 1, info);
    else sets.value = [info, ...sets.value];
  }

  function putTask(task: TaskInfo): void {
    tasks.upsert(task);
  }

  function onTask(task: TaskInfo, previous: TaskInfo | undefined): void {
    if (task.id === embedTaskId.value) {
      const before = previous?.status;
      if (task.status === 'running') scheduleSets(2000);
      else if (before === 'running' || before === undefined) void embeddingEnded(task);
    } else if (task.id === umapTaskId.value) {
      if (task.status === 'finished') void loadMap('umap');
      else if (task.status !== 'running') umapEnded(task);
    }
  }

  function umapEnded(task: TaskInfo): void {
    mapLoading.value = false;
    mapError.value = {
      code: task.status === 'cancelled' ? 'CONFLICT' : 'INTERNAL',
      message:
        task.status === 'cancelled'
          ? 'The UMAP map was cancelled.'
          : `The UMAP map failed: ${task.error ?? 'no reason given'}`,
    };
  }

  async function embeddingEnded(task: TaskInfo): Promise<void> {
    await loadSets();
    if (task.status === 'failed')
      embedError.value = {
        code: 'INTERNAL',
        message: `Embedding failed: ${task.error ?? 'no reason given'}`,
      };
    // New vectors make the stored maps stale (the core drops them): read the map again.
    if (map.value && set.value && map.value.setId === set.value.id) void loadMap(map.value.method);
    void loadComparisons();
  }

  // ------------------------------------------------------------------------------------------
  // Clustering.

  async function loadClustering(): Promise<void> {
    const info = set.value;
    if (!info) return;
    const asked = generation;
    clusteringLoading.value = true;
    const result = await api().call('clusteringLatest', { setId: info.id });
    if (asked !== generation) return;
    clusteringLoading.value = false;
    if (!result.ok) {
      clusterError.value = result.error;
      return;
    }
    applyClustering(result.value);
  }

  function applyClustering(info: ClusteringInfo | null): void {
    const previous = clustering.value?.id;
    clustering.value = info;
    if (info?.id !== previous) resetClustering();
    if (info && map.value && colorBy.value === 'cluster') void loadAssignments();
  }

  /** Runs k-means with the form's k (automatic when empty), metric and seed. */
  async function cluster(): Promise<AppError | undefined> {
    const info = set.value;
    if (!info) return undefined;
    const parsed = parseK(kText.value);
    if (parsed.error) {
      clusterError.value = { code: 'INVALID_ARGUMENT', message: parsed.error };
      return clusterError.value;
    }
    const asked = generation;
    clusterBusy.value = true;
    clusterError.value = undefined;
    const result = await api().call('clusterCompute', {
      setId: info.id,
      ...(parsed.k !== undefined ? { k: parsed.k } : {}),
      metric: metric.value,
      seed: Math.max(0, Math.floor(Number(seed.value) || 0)),
      ...(folderIds.value ? { folderIds: folderIds.value } : {}),
    });
    if (asked !== generation) return undefined;
    clusterBusy.value = false;
    if (!result.ok) {
      clusterError.value = result.error;
      return result.error;
    }
    applyClustering(result.value);
    void loadComparisons();
    return undefined;
  }

  function openClusterDetail(index: number): void {
    if (!clustering.value?.clusters.some((c) => c.cluster === index)) return;
    openCluster.value = index;
    clusterPages.value = new Map();
    pendingCluster.clear();
    clusterItemsError.value = undefined;
    const info = clustering.value.clusters.find((c) => c.cluster === index)!;
    clusterTotal.value = info.size;
    clusterOutliers.value = [];
    void loadClusterPage(0);
    void loadClusterOutliers();
  }

  function closeClusterDetail(): void {
    openCluster.value = undefined;
    clusterPages.value = new Map();
    pendingCluster.clear();
  }

  function loadClusterPage(page: number): Promise<void> {
    const inFlight = pendingCluster.get(page);
    if (inFlight) return inFlight;
    const info = clustering.value;
    const index = openCluster.value;
    if (!info || index === undefined) return Promise.resolve();
    const asked = clusteringGeneration;
    const request = api()
      .call('clusterImages', {
        clusteringId: info.id,
        cluster: index,
        offset: page * clusterPageSize,
        limit: clusterPageSize,
      })
      .then((result) => {
        if (asked !== clusteringGeneration || openCluster.value !== index) return;
        if (!result.ok) {
          clusterItemsError.value = result.error;
          return;
        }
        clusterTotal.value = result.value.total;
        const next = new Map(clusterPages.value);
        next.set(page, result.value.items);
        clusterPages.value = next;
        void fetchItems(result.value.items.map((item) => item.imageId));
      })
      .finally(() => {
        if (pendingCluster.get(page) === request) pendingCluster.delete(page);
      });
    pendingCluster.set(page, request);
    return request;
  }

  /** Loads the pages holding the images from `first` to `last` (indexes) of the open cluster. */
  function ensureClusterRange(first: number, last: number): void {
    if (last < first) return;
    const from = Math.floor(Math.max(0, first) / clusterPageSize);
    const to = Math.floor(Math.max(0, last) / clusterPageSize);
    for (let page = from; page <= to; page += 1)
      if (!clusterPages.value.has(page)) void loadClusterPage(page);
  }

  function clusterItemAt(index: number): ClusterItem | undefined {
    return clusterPages.value.get(Math.floor(index / clusterPageSize))?.[index % clusterPageSize];
  }

  /** The open cluster's outliers: its farthest images (the outlier mark is global, so they are its last ones). */
  async function loadClusterOutliers(): Promise<void> {
    const info = clustering.value;
    const detail = openClusterInfo.value;
    if (!info || !detail || detail.outliers === 0) return;
    const asked = clusteringGeneration;
    const index = detail.cluster;
    const result = await api().call('clusterImages', {
      clusteringId: info.id,
      cluster: index,
      offset: Math.max(0, detail.size - Math.max(detail.outliers, 1) - 10),
      limit: Math.min(1000, detail.outliers + 10),
    });
    if (asked !== clusteringGeneration || openCluster.value !== index || !result.ok) return;
    clusterOutliers.value = result.value.items
      .filter((item) => item.outlier)
      .sort((a, b) => b.distance - a.distance);
  }

  /** Reads which cluster every image is in (for colouring the map by cluster). */
  async function loadAssignments(): Promise<void> {
    const info = clustering.value;
    if (!info || assignmentsFor.value === info.id || assignmentsAsked === info.id) return;
    const asked = clusteringGeneration;
    assignmentsAsked = info.id;
    assignmentsLoading.value = true;
    const found = new Map<number, number>();
    try {
      for (const entry of info.clusters) {
        for (let offset = 0; offset < entry.size; offset += assignmentPageSize) {
          const result = await api().call('clusterImages', {
            clusteringId: info.id,
            cluster: entry.cluster,
            offset,
            limit: assignmentPageSize,
          });
          if (asked !== clusteringGeneration) return;
          if (!result.ok) {
            mapError.value = result.error;
            return;
          }
          for (const item of result.value.items) found.set(item.imageId, entry.cluster);
          if (result.value.items.length === 0) break;
        }
      }
      assignments.value = found;
      assignmentsFor.value = info.id;
    } finally {
      if (assignmentsAsked === info.id) {
        assignmentsAsked = undefined;
        assignmentsLoading.value = false;
      }
    }
  }

  // ------------------------------------------------------------------------------------------
  // The map.

  /** Reads the 2-D map: PCA at once; UMAP may first answer with a task (then again once it ends). */
  async function loadMap(method: MapMethod = mapMethod.value): Promise<void> {
    const info = set.value;
    if (!info) return;
    mapMethod.value = method;
    const asked = generation;
    mapLoading.value = true;
    mapError.value = undefined;
    const result = await api().call('projectionGet', {
      setId: info.id,
      method,
      ...(folderIds.value ? { folderIds: folderIds.value } : {}),
    });
    if (asked !== generation || mapMethod.value !== method) return;
    if (!result.ok) {
      mapLoading.value = false;
      mapError.value = result.error;
      return;
    }
    const projection = result.value;
    if (!projection.ready) {
      const task = projection.task;
      if (!task) {
        mapLoading.value = false;
        mapError.value = { code: 'INTERNAL', message: 'The map is not ready and no task computes it.' };
        return;
      }
      umapTaskId.value = task.id;
      // An event may have come first: keep the newer of the two.
      const known = tasks.get(task.id);
      if (!known || known.status === 'running') putTask(task);
      const now = tasks.get(task.id)!;
      if (now.status === 'finished') void loadMap(method);
      else if (now.status !== 'running') umapEnded(now);
      return;
    }
    mapLoading.value = false;
    map.value = {
      method: projection.method,
      setId: info.id,
      imageIds: projection.imageIds,
      xy: decodeFloat32(projection.xy),
      folderIds: projection.folderIds,
      classIds: projection.classIds,
    };
    if (colorBy.value === 'cluster' && clustering.value) void loadAssignments();
  }

  function setColorBy(value: ColorBy): void {
    colorBy.value = value;
    if (value === 'cluster' && clustering.value) void loadAssignments();
  }

  // ------------------------------------------------------------------------------------------
  // Selection.

  /** Selects the points at these map indices (what a lasso or box reported). */
  function selectIndices(indices: ArrayLike<number>): void {
    const data = map.value;
    if (!data) return;
    const ids: number[] = [];
    for (let j = 0; j < indices.length; j += 1) {
      const id = data.imageIds[indices[j]!];
      if (id !== undefined) ids.push(id);
    }
    selectIds(ids);
  }

  /** Replaces the selection with these image ids (kept in the order given, without repeats). */
  function selectIds(ids: number[]): void {
    selection.value = [...new Set(ids)];
    selectionPages.value = new Map();
    pendingSelection.clear();
    selectionError.value = undefined;
  }

  function clearSelection(): void {
    selectIds([]);
  }

  function loadSelectionPage(page: number): Promise<void> {
    const inFlight = pendingSelection.get(page);
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
        rememberItems(result.value);
        const next = new Map(selectionPages.value);
        next.set(page, result.value);
        selectionPages.value = next;
      })
      .finally(() => {
        if (pendingSelection.get(page) === request) pendingSelection.delete(page);
      });
    pendingSelection.set(page, request);
    return request;
  }

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

  /**
   * Labels changed (a cluster or the selection was labelled here): the classes, and the tiles of
   * the open cluster and of the selection are read again so they show their new labels.
   */
  async function labelsChanged(imageIds: number[] = []): Promise<void> {
    const forget = new Set(imageIds);
    if (forget.size > 0) {
      const next = new Map(items.value);
      for (const id of forget) next.delete(id);
      items.value = next;
    }
    const result = await api().call('libraryClasses', {});
    if (result.ok) classes.value = result.value;
    // Majority labels and purities follow the labels (the same clustering: nothing is reset).
    if (clustering.value) void loadClustering();
    const clusterShown = [...clusterPages.value.keys()];
    pendingCluster.clear();
    await Promise.all(clusterShown.map((page) => loadClusterPage(page)));
    const selectionShown = [...selectionPages.value.keys()];
    pendingSelection.clear();
    await Promise.all(selectionShown.map((page) => loadSelectionPage(page)));
  }

  // ------------------------------------------------------------------------------------------
  // Image tiles by id.

  function rememberItems(list: GalleryItem[]): void {
    if (list.length === 0) return;
    const next = new Map(items.value);
    for (const item of list) next.set(item.id, item);
    items.value = next;
  }

  /** Makes sure the tiles of these images are known (file names for hover, the lightbox). */
  async function fetchItems(ids: number[]): Promise<void> {
    const wanted = [...new Set(ids)].filter((id) => !items.value.has(id) && !pendingItems.has(id));
    if (wanted.length === 0) return;
    for (const id of wanted) pendingItems.add(id);
    const result = await api().call('libraryItems', { ids: wanted });
    for (const id of wanted) pendingItems.delete(id);
    if (result.ok) rememberItems(result.value);
  }

  function itemFor(id: number | undefined): GalleryItem | undefined {
    return id === undefined ? undefined : items.value.get(id);
  }

  // ------------------------------------------------------------------------------------------
  // Similar images and near-duplicates.

  async function findSimilar(imageId: number): Promise<void> {
    const info = set.value;
    if (!info) return;
    similarFor.value = imageId;
    void fetchItems([imageId]);
    await similarCall.run(info.id, imageId);
  }

  function closeSimilar(): void {
    similarFor.value = undefined;
    similarCall.reset();
  }

  async function findDuplicates(): Promise<void> {
    const info = set.value;
    if (!info) return;
    await duplicatesCall.run({
      setId: info.id,
      threshold: Math.min(1, Math.max(0, duplicateThreshold.value)),
      ...(folderIds.value ? { folderIds: folderIds.value } : {}),
    });
  }

  /** Opens an image in the lightbox (its tile is fetched when unknown). */
  function openImage(imageId: number): void {
    viewing.value = imageId;
    void fetchItems([imageId]);
  }

  function closeImage(): void {
    viewing.value = undefined;
  }

  return {
    runs,
    checkpoints,
    backbone,
    folders,
    classes,
    sets,
    loaded,
    loading,
    loadError,
    selectedKey,
    scope,
    embedTaskId,
    embedError,
    embedBusy,
    lastCompute,
    kText,
    metric,
    seed,
    clustering,
    clusteringLoading,
    clusterBusy,
    clusterError,
    sortBy,
    comparisons,
    openCluster,
    clusterTotal,
    clusterPages,
    clusterItemsError,
    clusterOutliers,
    assignments,
    assignmentsLoading,
    mapMethod,
    map,
    mapLoading,
    mapError,
    umapTaskId,
    colorBy,
    selection,
    selectionPages,
    selectionError,
    items,
    similarFor,
    similar,
    similarLoading,
    similarError,
    duplicateThreshold,
    duplicates,
    duplicatesLoading,
    duplicatesError,
    tab,
    viewing,
    options,
    source,
    set,
    folderIds,
    embedTask,
    embedding,
    umapTask,
    allEmbedded,
    libraryImages,
    sortedClusters,
    openClusterInfo,
    clusteringStale,
    colorByShown,
    mapColors,
    highlighted,
    start,
    load,
    loadSets,
    loadComparisons,
    selectSource,
    setScope,
    computeEmbeddings,
    onTask,
    loadClustering,
    cluster,
    openClusterDetail,
    closeClusterDetail,
    ensureClusterRange,
    clusterItemAt,
    loadAssignments,
    loadMap,
    setColorBy,
    selectIndices,
    selectIds,
    clearSelection,
    ensureSelectionRange,
    selectionItemAt,
    labelsChanged,
    fetchItems,
    itemFor,
    findSimilar,
    closeSimilar,
    findDuplicates,
    openImage,
    closeImage,
  };
});

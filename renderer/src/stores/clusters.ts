import { defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import type { CallArgs } from '../../../main/common/api-contract';
import type {
  ClusterImagesPage,
  ClusteringInfo,
  DistanceMetric,
  EmbeddingSetInfo,
} from '../../../main/common/embeddings';
import { ok, type AppError } from '../../../main/common/result';
import { api } from '../api';
import { useCall } from '../composables/use-call';
import { useBackbonesStore } from './backbones';
import { useImageTilesStore } from './image-tiles';
import { usePagedList } from './paged-gallery';

/** Rows per page of a cluster's images. */
export const clusterPageSize = 200;
/** Page size used to read every member of every cluster (colour by cluster). */
export const assignmentPageSize = 1000;

export type ClusterSort = 'size' | 'purity' | 'index';

/** A cluster image as the detail grid shows it. */
export type ClusterItem = ClusterImagesPage['items'][number];

/** The latest clustering of another backbone's set, for the comparison table. */
export interface BackboneComparison {
  set: EmbeddingSetInfo;
  clustering: ClusteringInfo | null;
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

/**
 * k-means clusterings of the chosen set: the form (k, metric, seed), the latest clustering with its
 * scores, the other backbones' clusterings to compare, the open cluster's images page by page with
 * its outliers, and which cluster every image is in (map colours, filters). Answers asked for an
 * older set (backbones' `generation`) or an older clustering are dropped.
 */
export const useClustersStore = defineStore('clusters', () => {
  const backbones = useBackbonesStore();
  const tiles = useImageTilesStore();

  // --- The form and the clustering.
  const kText = ref('');
  const metric = ref<DistanceMetric>('cosine');
  const seed = ref(0);
  const clustering = ref<ClusteringInfo | null>();
  const clusteringLoading = ref(false);
  const clusterCall = useCall((args: CallArgs<'clusterCompute'>) => api().call('clusterCompute', args), (info) => {
    applyClustering(info);
    void loadComparisons();
  });
  const { busy: clusterBusy, error: clusterError } = clusterCall;
  const sortBy = ref<ClusterSort>('size');
  const comparisons = ref<BackboneComparison[]>([]);

  // --- The open cluster.
  const openCluster = ref<number>();
  const clusterItemsError = ref<AppError>();
  /** The open cluster's images, nearest the centre first (none while no cluster is open). */
  const clusterList = usePagedList<ClusterItem>(
    clusterPageSize,
    (offset, limit) => {
      const info = clustering.value;
      const index = openCluster.value;
      if (!info || index === undefined) return Promise.resolve(ok({ total: 0, items: [] }));
      return api().call('clusterImages', { clusteringId: info.id, cluster: index, offset, limit });
    },
    (error) => (clusterItemsError.value = error),
    (items) => void tiles.fetchItems(items.map((item) => item.imageId)),
  );
  const { total: clusterTotal, pages: clusterPages } = clusterList;
  const clusterOutliers = ref<ClusterItem[]>([]);

  // --- Image id -> cluster of the current clustering, read page by page (colours, filters).
  const assignments = shallowRef(new Map<number, number>());
  const assignmentsFor = ref<number>();
  const assignmentsLoading = ref(false);
  const assignmentsError = ref<AppError>();

  /** The clustering whose assignments are being read. */
  let assignmentsAsked: number | undefined;
  /** Bumped when the clustering changes, so late answers for the old one are dropped. */
  let clusteringGeneration = 0;

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
    () =>
      !!clustering.value &&
      !!backbones.set &&
      clustering.value.images < backbones.set.images &&
      !backbones.folderIds,
  );

  /** The latest clustering of every set, for the comparison table. */
  async function loadComparisons(): Promise<void> {
    const list = await Promise.all(
      backbones.sets.map(async (known) => {
        const result = await api().call('clusteringLatest', { setId: known.id });
        return { set: known, clustering: result.ok ? result.value : null };
      }),
    );
    comparisons.value = list;
  }

  /** Forgets the clustering of the previous set (another backbone or scope was chosen). */
  function reset(): void {
    clustering.value = undefined;
    clusterCall.reset();
    resetClustering();
  }

  /** Forgets what was derived from the previous clustering. */
  function resetClustering(): void {
    clusteringGeneration += 1;
    openCluster.value = undefined;
    clusterList.clear();
    clusterTotal.value = 0;
    clusterOutliers.value = [];
    assignments.value = new Map();
    assignmentsFor.value = undefined;
    assignmentsAsked = undefined;
    assignmentsLoading.value = false;
    assignmentsError.value = undefined;
  }

  /** Reads the chosen set's latest clustering. */
  async function loadClustering(): Promise<void> {
    const info = backbones.set;
    if (!info) return;
    const asked = backbones.generation;
    clusteringLoading.value = true;
    const result = await api().call('clusteringLatest', { setId: info.id });
    if (asked !== backbones.generation) return;
    clusteringLoading.value = false;
    if (!result.ok) {
      clusterError.value = result.error;
      return;
    }
    applyClustering(result.value);
  }

  function applyClustering(info: ClusteringInfo | null): void {
    // Reset first: the map follows `clustering` and reads the new assignments as soon as it changes.
    if (info?.id !== clustering.value?.id) resetClustering();
    clustering.value = info;
  }

  /** Runs k-means with the form's k (automatic when empty), metric and seed. */
  async function cluster(): Promise<AppError | undefined> {
    const info = backbones.set;
    if (!info) return undefined;
    const parsed = parseK(kText.value);
    if (parsed.error) {
      clusterError.value = { code: 'INVALID_ARGUMENT', message: parsed.error };
      return clusterError.value;
    }
    return clusterCall.run({
      setId: info.id,
      ...(parsed.k !== undefined ? { k: parsed.k } : {}),
      metric: metric.value,
      seed: Math.max(0, Math.floor(Number(seed.value) || 0)),
      ...(backbones.folderIds ? { folderIds: backbones.folderIds } : {}),
    });
  }

  function openClusterDetail(index: number): void {
    if (!clustering.value?.clusters.some((c) => c.cluster === index)) return;
    openCluster.value = index;
    clusterList.clear();
    clusterItemsError.value = undefined;
    const info = clustering.value.clusters.find((c) => c.cluster === index)!;
    clusterTotal.value = info.size;
    clusterOutliers.value = [];
    void clusterList.loadPage(0);
    void loadClusterOutliers();
  }

  function closeClusterDetail(): void {
    openCluster.value = undefined;
    clusterList.clear();
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

  /** Reads which cluster every image is in (for colouring the map by cluster, and filters). */
  async function loadAssignments(): Promise<void> {
    const info = clustering.value;
    if (!info || assignmentsFor.value === info.id || assignmentsAsked === info.id) return;
    const asked = clusteringGeneration;
    assignmentsAsked = info.id;
    assignmentsLoading.value = true;
    assignmentsError.value = undefined;
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
            assignmentsError.value = result.error;
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

  return {
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
    assignmentsError,
    sortedClusters,
    openClusterInfo,
    clusteringStale,
    loadComparisons,
    reset,
    loadClustering,
    cluster,
    openClusterDetail,
    closeClusterDetail,
    ensureClusterRange: clusterList.ensureRange,
    clusterItemAt: clusterList.itemAt,
    reloadPages: clusterList.reload,
    loadAssignments,
  };
});

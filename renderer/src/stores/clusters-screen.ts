import { defineStore } from 'pinia';
import { ref } from 'vue';
import { api } from '../api';
import { useBackbonesStore } from './backbones';
import { useClustersStore } from './clusters';
import { useEmbeddingMapStore } from './embedding-map';
import { useEmbeddingsStore } from './embeddings';
import { useImageTilesStore } from './image-tiles';
import { useSelectionStore } from './selection';
import { useSimilarStore } from './similar';

/**
 * The Clusters screen's flow across its stores: starting it (the default backbone, the task events
 * followed), choosing another backbone or scope (every store forgets what it derived from the old
 * set, then the new set's clustering is read), labels given on the screen, and its tab.
 */
export const useClustersScreenStore = defineStore('clustersScreen', () => {
  const backbones = useBackbonesStore();
  const embeddings = useEmbeddingsStore();
  const clusters = useClustersStore();
  const embeddingMap = useEmbeddingMapStore();
  const selection = useSelectionStore();
  const similar = useSimilarStore();
  const tiles = useImageTilesStore();

  const tab = ref<'clusters' | 'map'>('clusters');
  let started = false;

  /** Loads what the screen needs and follows task events; safe to call more than once (it refreshes). */
  async function start(): Promise<void> {
    if (!started) {
      started = true;
      embeddings.follow();
      embeddingMap.follow();
      api().on('library', () => backbones.scheduleSets());
    }
    await load();
  }

  /** Reads the backbones there are; picks the default one, or reads the chosen set's clustering. */
  async function load(): Promise<void> {
    await backbones.load();
    const change = backbones.choiceToMake();
    if (change) {
      if (change.key) await selectSource(change.key, true);
    } else if (backbones.set && clusters.clustering === undefined) await clusters.loadClustering();
    void clusters.loadComparisons();
  }

  /** Forgets what was shown for the previous set. */
  function resetForSet(): void {
    clusters.reset();
    embeddings.clearError();
    embeddingMap.reset();
    similar.reset();
    selection.clearSelection();
  }

  /** Chooses the backbone (`byDefault`: the screen's choice, which follows the backbone in use). */
  async function selectSource(key: string, byDefault = false): Promise<void> {
    if (!backbones.choose(key, byDefault)) return;
    resetForSet();
    if (backbones.set) await clusters.loadClustering();
  }

  /** Chooses the folders to work on (none: the whole library). */
  function setScope(ids: number[]): void {
    backbones.chooseScope(ids);
    resetForSet();
    if (backbones.set) void clusters.loadClustering();
  }

  /**
   * Labels changed (a cluster or the selection was labelled here): the classes, and the tiles of
   * the open cluster and of the selection are read again so they show their new labels.
   */
  async function labelsChanged(imageIds: number[] = []): Promise<void> {
    tiles.forget([...new Set(imageIds)]);
    await backbones.loadClasses();
    // Majority labels and purities follow the labels (the same clustering: nothing is reset).
    if (clusters.clustering) void clusters.loadClustering();
    await clusters.reloadPages();
    await selection.reloadPages();
  }

  return { tab, start, load, selectSource, setScope, labelsChanged };
});

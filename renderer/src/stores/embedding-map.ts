import { defineStore } from 'pinia';
import { computed, ref, shallowRef, watch } from 'vue';
import type { AppError } from '../../../main/common/result';
import type { TaskInfo } from '../../../main/common/tasks';
import { api } from '../api';
import { useBackbonesStore } from './backbones';
import { useClustersStore } from './clusters';
import { mapColorsFor, type MapColorBy } from './map-colors';
import { useSelectionStore } from './selection';
import { useTasksStore } from './tasks';

export type ColorBy = MapColorBy;
export type MapMethod = 'pca' | 'umap';

/** A 2-D map decoded for drawing. */
export interface MapData {
  method: MapMethod;
  setId: number;
  imageIds: number[];
  xy: Float32Array;
  folderIds: number[];
  classIds: number[];
}

/** Base64 (as projectionGet sends xy) to a Float32Array. */
export function decodeFloat32(base64: string): Float32Array {
  if (!base64) return new Float32Array(0);
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return new Float32Array(bytes.buffer, 0, Math.floor(bytes.length / 4));
}

/**
 * The 2-D map of the chosen set: PCA at once, or UMAP as a task (followed in the tasks store); its
 * colours by cluster, label or folder with the legend; the selected images drawn on top, and a
 * lasso's map indices turned into the selection.
 */
export const useEmbeddingMapStore = defineStore('embeddingMap', () => {
  const backbones = useBackbonesStore();
  const clusters = useClustersStore();
  const selection = useSelectionStore();
  const tasks = useTasksStore();

  const mapMethod = ref<MapMethod>('pca');
  const map = shallowRef<MapData>();
  const mapLoading = ref(false);
  const projectionError = ref<AppError>();
  const umapTaskId = ref<string>();
  const colorBy = ref<ColorBy>('cluster');
  let following = false;

  /** What went wrong: reading the map, or reading which cluster each image is in (its colours). */
  const mapError = computed(() => projectionError.value ?? clusters.assignmentsError);
  const umapTask = computed(() => (umapTaskId.value ? tasks.get(umapTaskId.value) : undefined));

  /** The colouring in effect: by cluster only once there is a clustering (else by label). */
  const colorByShown = computed<ColorBy>(() =>
    colorBy.value === 'cluster' && !clusters.clustering ? 'label' : colorBy.value,
  );

  /** The colour of each map point and the legend, for the current colouring. */
  const mapColors = computed(() =>
    mapColorsFor(map.value, colorByShown.value, {
      clustering: clusters.clustering,
      assignments: clusters.assignments,
      classes: backbones.classes,
      folders: backbones.folders,
    }),
  );

  /** Map indices of the selected images (the map draws them on top). */
  const highlighted = computed(() => {
    const data = map.value;
    if (!data || selection.selection.length === 0) return undefined;
    const wanted = new Set(selection.selection);
    const indices: number[] = [];
    data.imageIds.forEach((id, i) => {
      if (wanted.has(id)) indices.push(i);
    });
    return Int32Array.from(indices);
  });

  // A new clustering while the map is coloured by cluster: read which cluster each point is in.
  watch(
    () => clusters.clustering,
    (info) => {
      if (info && map.value && colorBy.value === 'cluster') void clusters.loadAssignments();
    },
    { flush: 'sync' },
  );

  /** Follows the UMAP tasks' events; safe to call more than once. */
  function follow(): void {
    if (following) return;
    following = true;
    tasks.follow(onTask);
  }

  function onTask(task: TaskInfo): void {
    if (task.id !== umapTaskId.value) return;
    if (task.status === 'finished') void loadMap('umap');
    else if (task.status !== 'running') umapEnded(task);
  }

  /** Forgets the map of the previous set (another backbone or scope was chosen). */
  function reset(): void {
    map.value = undefined;
    projectionError.value = undefined;
    umapTaskId.value = undefined;
  }

  /** Reads the 2-D map: PCA at once; UMAP may first answer with a task (then again once it ends). */
  async function loadMap(method: MapMethod = mapMethod.value): Promise<void> {
    const info = backbones.set;
    if (!info) return;
    follow();
    mapMethod.value = method;
    const asked = backbones.generation;
    mapLoading.value = true;
    projectionError.value = undefined;
    const result = await api().call('projectionGet', {
      setId: info.id,
      method,
      ...(backbones.folderIds ? { folderIds: backbones.folderIds } : {}),
    });
    if (asked !== backbones.generation || mapMethod.value !== method) return;
    if (!result.ok) {
      mapLoading.value = false;
      projectionError.value = result.error;
      return;
    }
    const projection = result.value;
    if (!projection.ready) {
      const task = projection.task;
      if (!task) {
        mapLoading.value = false;
        projectionError.value = { code: 'INTERNAL', message: 'The map is not ready and no task computes it.' };
        return;
      }
      umapTaskId.value = task.id;
      // An event may have come first: keep the newer of the two.
      const known = tasks.get(task.id);
      if (!known || known.status === 'running') tasks.upsert(task);
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
    if (colorBy.value === 'cluster' && clusters.clustering) void clusters.loadAssignments();
  }

  /** New embeddings make the stored maps stale (the core drops them): the map shown is read again. */
  function reloadIfShown(): void {
    const shown = map.value;
    if (shown && backbones.set && shown.setId === backbones.set.id) void loadMap(shown.method);
  }

  function umapEnded(task: TaskInfo): void {
    mapLoading.value = false;
    projectionError.value = {
      code: task.status === 'cancelled' ? 'CONFLICT' : 'INTERNAL',
      message:
        task.status === 'cancelled'
          ? 'The UMAP map was cancelled.'
          : `The UMAP map failed: ${task.error ?? 'no reason given'}`,
    };
  }

  function setColorBy(value: ColorBy): void {
    colorBy.value = value;
    if (value === 'cluster' && clusters.clustering) void clusters.loadAssignments();
  }

  /** Selects the points at these map indices (what a lasso or box reported). */
  function selectIndices(indices: ArrayLike<number>): void {
    const data = map.value;
    if (!data) return;
    const ids: number[] = [];
    for (let j = 0; j < indices.length; j += 1) {
      const id = data.imageIds[indices[j]!];
      if (id !== undefined) ids.push(id);
    }
    selection.selectIds(ids);
  }

  return {
    mapMethod,
    map,
    mapLoading,
    mapError,
    umapTaskId,
    colorBy,
    umapTask,
    colorByShown,
    mapColors,
    highlighted,
    follow,
    reset,
    loadMap,
    reloadIfShown,
    setColorBy,
    selectIndices,
  };
});

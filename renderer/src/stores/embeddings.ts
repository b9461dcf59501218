import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import type { CallArgs } from '../../../main/common/api-contract';
import type { AppError } from '../../../main/common/result';
import type { TaskInfo } from '../../../main/common/tasks';
import { api } from '../api';
import { useCall } from '../composables/use-call';
import { useBackbonesStore } from './backbones';
import { useClustersStore } from './clusters';
import { useEmbeddingMapStore } from './embedding-map';
import { useTasksStore } from './tasks';

/**
 * Computing the embeddings the chosen set lacks: the call, then its task (followed in the tasks
 * store, recovered after a reload) until it ends, when the sets, the map and the comparison of
 * backbones are read again.
 */
export const useEmbeddingsStore = defineStore('embeddings', () => {
  const backbones = useBackbonesStore();
  const clusters = useClustersStore();
  const embeddingMap = useEmbeddingMapStore();
  const tasks = useTasksStore();

  const embedTaskId = ref<string>();
  const embedCall = useCall((args: CallArgs<'embeddingsCompute'>) => api().call('embeddingsCompute', args));
  const { busy: embedBusy, error: embedError } = embedCall;
  /** What the last "Compute embeddings" said: how many images were missing. */
  const lastCompute = ref<{ key: string; missing: number }>();
  let following = false;

  const embedTask = computed(() => (embedTaskId.value ? tasks.get(embedTaskId.value) : undefined));
  const embedding = computed(() => embedTask.value?.status === 'running');
  const allEmbedded = computed(
    () =>
      lastCompute.value !== undefined &&
      lastCompute.value.key === backbones.selectedKey &&
      lastCompute.value.missing === 0,
  );

  /** Follows the embedding tasks' events, and takes up one still running; safe to call more than once. */
  function follow(): void {
    if (following) return;
    following = true;
    tasks.follow(onTask);
    void tasks.findRunning('embed').then((task) => {
      if (!task || embedTaskId.value) return;
      embedTaskId.value = task.id;
      tasks.upsert(task);
    });
  }

  /** Starts embedding the images the set lacks (a task), or says none is missing. */
  async function computeEmbeddings(): Promise<AppError | undefined> {
    const chosen = backbones.source;
    if (!chosen) return undefined;
    const key = backbones.selectedKey!;
    const error = await embedCall.run({
      source: chosen,
      ...(backbones.folderIds ? { folderIds: backbones.folderIds } : {}),
    });
    const answer = embedCall.value.value;
    if (error || !answer) return error;
    const { set: info, task, missing } = answer;
    backbones.putSet(info);
    lastCompute.value = { key, missing };
    if (clusters.clustering === undefined && !clusters.clusteringLoading) void clusters.loadClustering();
    if (task) {
      embedTaskId.value = task.id;
      // Its events may have come first (a quick task): keep the newer state.
      const known = tasks.get(task.id);
      if (known && known.status !== 'running') void embeddingEnded(known);
      else if (!known) tasks.upsert(task);
    }
    void clusters.loadComparisons();
    return undefined;
  }

  /** Forgets the last error (another backbone or scope was chosen). */
  function clearError(): void {
    embedError.value = undefined;
  }

  function onTask(task: TaskInfo, previous: TaskInfo | undefined): void {
    if (task.id !== embedTaskId.value) return;
    const before = previous?.status;
    if (task.status === 'running') backbones.scheduleSets(2000);
    else if (before === 'running' || before === undefined) void embeddingEnded(task);
  }

  async function embeddingEnded(task: TaskInfo): Promise<void> {
    await backbones.loadSets();
    if (task.status === 'failed')
      embedError.value = {
        code: 'INTERNAL',
        message: `Embedding failed: ${task.error ?? 'no reason given'}`,
      };
    embeddingMap.reloadIfShown();
    void clusters.loadComparisons();
  }

  return {
    embedTaskId,
    embedBusy,
    embedError,
    lastCompute,
    embedTask,
    embedding,
    allEmbedded,
    follow,
    computeEmbeddings,
    clearError,
  };
});

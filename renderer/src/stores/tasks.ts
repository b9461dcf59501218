import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import type { AppError } from '../../../main/common/result';
import type { TaskInfo } from '../../../main/common/tasks';
import { api } from '../api';

/**
 * Every long task (import, training, ...) mirrored from the core's `task` events: status,
 * counts, rate, ETA, and the cancel action. Views read tasks by kind from here.
 */
export const useTasksStore = defineStore('tasks', () => {
  const byId = ref(new Map<string, TaskInfo>());
  const error = ref<AppError>();
  let started = false;

  const all = computed(() => [...byId.value.values()].sort((a, b) => b.startedAt.localeCompare(a.startedAt)));
  const running = computed(() => all.value.filter((task) => task.status === 'running'));

  function upsert(task: TaskInfo): void {
    const next = new Map(byId.value);
    next.set(task.id, task);
    byId.value = next;
  }

  /** Loads the current list and follows updates; safe to call more than once. */
  async function start(): Promise<void> {
    if (started) return;
    started = true;
    api().on('task', upsert);
    const result = await api().call('tasksList', {});
    if (!result.ok) {
      error.value = result.error;
      return;
    }
    for (const task of result.value) if (!byId.value.has(task.id)) upsert(task);
  }

  async function cancel(id: string): Promise<void> {
    const result = await api().call('taskCancel', { id });
    if (!result.ok) error.value = result.error;
  }

  /** The newest task of a kind, if any. */
  function latest(kind: string): TaskInfo | undefined {
    return all.value.find((task) => task.kind === kind);
  }

  return { all, running, error, start, cancel, latest, upsert };
});

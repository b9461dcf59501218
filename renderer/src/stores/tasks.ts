import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import type { AppError } from '../../../main/common/result';
import type { TaskInfo } from '../../../main/common/tasks';
import { api } from '../api';

/** Told of every task event: the task now and what this store held for it before (undefined: new). */
export type TaskListener = (task: TaskInfo, before: TaskInfo | undefined) => void;

/**
 * Every long task (import, training, embedding, UMAP, fine-tuning, exports, ...) mirrored from the
 * core's `task` events: status, counts, rate, ETA, and the cancel action. This is the one place tasks are
 * kept: views read them by id or kind from here, and area stores react to their tasks by `follow`ing
 * the events (with the state before each one) instead of keeping task maps of their own.
 */
export const useTasksStore = defineStore('tasks', () => {
  const byId = ref(new Map<string, TaskInfo>());
  const error = ref<AppError>();
  let started = false;

  const all = computed(() => [...byId.value.values()].sort((a, b) => b.startedAt.localeCompare(a.startedAt)));
  const running = computed(() => all.value.filter((task) => task.status === 'running'));

  const listeners = new Set<TaskListener>();

  /** Records a task (e.g. one a call just started); followers are not told, only events tell them. */
  function upsert(task: TaskInfo): void {
    const next = new Map(byId.value);
    next.set(task.id, task);
    byId.value = next;
  }

  /** A task event: recorded, then every follower is told with the state before it. */
  function receive(task: TaskInfo): void {
    const before = byId.value.get(task.id);
    upsert(task);
    for (const listener of listeners) listener(task, before);
  }

  /** Calls `listener` on every task event from now on (and starts following the core); returns the stop. */
  function follow(listener: TaskListener): () => void {
    listeners.add(listener);
    void start();
    return () => listeners.delete(listener);
  }

  /** The task with this id, as last seen. */
  function get(id: string | undefined): TaskInfo | undefined {
    return id === undefined ? undefined : byId.value.get(id);
  }

  /** Loads the current list and follows updates; safe to call more than once. */
  async function start(): Promise<void> {
    if (started) return;
    started = true;
    api().on('task', receive);
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

  /** The first running task of a kind the core lists now (one started before the window was reloaded). */
  async function findRunning(kind: string): Promise<TaskInfo | undefined> {
    const result = await api().call('tasksList', {});
    return result.ok ? result.value.find((task) => task.status === 'running' && task.kind === kind) : undefined;
  }

  /** The newest task of a kind, if any. */
  function latest(kind: string): TaskInfo | undefined {
    return all.value.find((task) => task.kind === kind);
  }

  return { all, running, error, start, cancel, latest, findRunning, upsert, follow, get };
});

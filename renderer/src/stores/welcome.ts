import { defineStore } from 'pinia';
import { computed, ref, watch } from 'vue';
import type { FirstRunInfo } from '../../../main/common/first-run';
import type { AppError } from '../../../main/common/result';
import { api } from '../api';
import { useTasksStore } from './tasks';

/**
 * The welcome screen: whether this is a fresh install, and the guided first run on the sample
 * images (one core task; its progress comes from the tasks store, its numbers from firstRunInfo).
 */
export const useWelcomeStore = defineStore('welcome', () => {
  const info = ref<FirstRunInfo>();
  const error = ref<AppError>();
  const starting = ref(false);
  const tasks = useTasksStore();

  const taskId = computed(() => info.value?.run?.taskId);
  /** The live task (events), falling back to the state the core last reported. */
  const task = computed(() => (taskId.value ? tasks.all.find((t) => t.id === taskId.value) : undefined));
  const status = computed(() => task.value?.status ?? info.value?.run?.status);
  const running = computed(() => status.value === 'running');
  const result = computed(() => info.value?.run?.result);

  async function load(): Promise<void> {
    const answer = await api().call('firstRunInfo', {});
    if (answer.ok) info.value = answer.value;
    else error.value = answer.error;
  }

  async function start(): Promise<void> {
    error.value = undefined;
    starting.value = true;
    try {
      await tasks.start();
      const answer = await api().call('firstRunStart', {});
      if (!answer.ok) {
        error.value = answer.error;
        return;
      }
      tasks.upsert(answer.value.task);
      info.value = { ...(info.value ?? { fresh: true, sampleDir: null }), run: answer.value.state };
    } finally {
      starting.value = false;
    }
  }

  async function cancel(): Promise<void> {
    if (taskId.value) await tasks.cancel(taskId.value);
  }

  // When the task ends, read the numbers (or the error) once.
  watch(status, (now, before) => {
    if (before === 'running' && now !== 'running') void load();
  });

  return { info, error, starting, task, status, running, result, load, start, cancel };
});

import { defineStore } from 'pinia';
import { computed, ref, watch } from 'vue';
import type { FirstRunInfo } from '../../../main/common/first-run';
import type { AppError } from '../../../main/common/result';
import { api } from '../api';
import { useCall } from '../composables/use-call';
import { useTasksStore } from './tasks';

/**
 * The welcome screen: whether this is a fresh install, and the guided first run on the sample
 * images (one core task; its progress comes from the tasks store, its numbers from firstRunInfo).
 */
export const useWelcomeStore = defineStore('welcome', () => {
  const info = ref<FirstRunInfo>();
  const error = ref<AppError>();
  const tasks = useTasksStore();
  const startCall = useCall(async () => {
    await tasks.start();
    return api().call('firstRunStart', {});
  });
  const starting = startCall.busy;

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
    error.value = await startCall.run();
    const answer = startCall.value.value;
    if (!answer) return;
    tasks.upsert(answer.task);
    info.value = { ...(info.value ?? { fresh: true, sampleDir: null }), run: answer.state };
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

import { defineStore } from 'pinia';
import { ref } from 'vue';
import type { AppError } from '../../../main/common/result';
import type { JobImportResult, WeightsImportResult } from '../../../main/common/scaleout';
import type { TaskInfo } from '../../../main/common/tasks';
import { api } from '../api';
import { useTasksStore } from './tasks';

/**
 * Scaling out from the app: a run exported as a PyTorch DDP job (a task, followed through the
 * tasks store), a job's output imported back, weights trained elsewhere imported as a run.
 */
export const useScaleoutStore = defineStore('scaleout', () => {
  const exporting = ref<{ runId: number; taskId: string; path: string }>();
  const exportError = ref<AppError>();
  const importing = ref<'job' | 'weights'>();
  const importError = ref<AppError>();
  const imported = ref<{ kind: 'job'; result: JobImportResult } | { kind: 'weights'; result: WeightsImportResult }>();

  async function exportJob(runId: number, step: number | undefined, destination: string): Promise<void> {
    exportError.value = undefined;
    const result = await api().call('jobExport', { runId, destination, ...(step === undefined ? {} : { step }) });
    if (!result.ok) {
      exportError.value = result.error;
      return;
    }
    useTasksStore().upsert(result.value.task);
    exporting.value = { runId, taskId: result.value.task.id, path: result.value.path };
  }

  /** The export task of a run, as the tasks store follows it. */
  function exportTask(runId: number): TaskInfo | undefined {
    if (exporting.value?.runId !== runId) return undefined;
    return useTasksStore().all.find((task) => task.id === exporting.value!.taskId);
  }

  async function importFrom(kind: 'job' | 'weights', path: string): Promise<void> {
    importing.value = kind;
    importError.value = undefined;
    imported.value = undefined;
    if (kind === 'job') {
      const result = await api().call('jobImport', { path });
      if (result.ok) imported.value = { kind, result: result.value };
      else importError.value = result.error;
    } else {
      const result = await api().call('weightsImport', { path });
      if (result.ok) imported.value = { kind, result: result.value };
      else importError.value = result.error;
    }
    importing.value = undefined;
  }

  return { exporting, exportError, importing, importError, imported, exportJob, exportTask, importFrom };
});

import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import type { CallArgs } from '../../../main/common/api-contract';
import { ok, type Result } from '../../../main/common/result';
import type { JobImportResult, WeightsImportResult } from '../../../main/common/scaleout';
import type { TaskInfo } from '../../../main/common/tasks';
import { api } from '../api';
import { useCall } from '../composables/use-call';
import { useTasksStore } from './tasks';

/** What an import brought in: a job's output, or weights trained elsewhere. */
export type Imported = { kind: 'job'; result: JobImportResult } | { kind: 'weights'; result: WeightsImportResult };

/** Reads a job's output or outside weights back in, as `Imported`. */
async function importCall(kind: 'job' | 'weights', path: string): Promise<Result<Imported>> {
  if (kind === 'job') {
    const result = await api().call('jobImport', { path });
    return result.ok ? ok({ kind, result: result.value }) : result;
  }
  const result = await api().call('weightsImport', { path });
  return result.ok ? ok({ kind, result: result.value }) : result;
}

/**
 * Scaling out from the app: a run exported as a PyTorch DDP job (a task, followed through the
 * tasks store), a job's output imported back, weights trained elsewhere imported as a run.
 */
export const useScaleoutStore = defineStore('scaleout', () => {
  const exporting = ref<{ runId: number; taskId: string; path: string }>();
  const exportCall = useCall((args: CallArgs<'jobExport'>) => api().call('jobExport', args), { overlap: 'latest' });
  const { error: exportError } = exportCall;
  const importKind = ref<'job' | 'weights'>();
  const imports = useCall(importCall, { overlap: 'latest' });
  const { error: importError, value: imported } = imports;
  /** The kind of import under way, if one is. */
  const importing = computed(() => (imports.busy.value ? importKind.value : undefined));

  async function exportJob(runId: number, step: number | undefined, destination: string): Promise<void> {
    await exportCall.run({ runId, destination, ...(step === undefined ? {} : { step }) });
    const answer = exportCall.value.value;
    if (!answer) return;
    useTasksStore().upsert(answer.task);
    exporting.value = { runId, taskId: answer.task.id, path: answer.path };
  }

  /** The export task of a run, as the tasks store follows it. */
  function exportTask(runId: number): TaskInfo | undefined {
    if (exporting.value?.runId !== runId) return undefined;
    return useTasksStore().all.find((task) => task.id === exporting.value!.taskId);
  }

  async function importFrom(kind: 'job' | 'weights', path: string): Promise<void> {
    importKind.value = kind;
    await imports.run(kind, path);
  }

  return { exporting, exportError, importing, importError, imported, exportJob, exportTask, importFrom };
});

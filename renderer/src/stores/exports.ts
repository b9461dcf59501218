import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import type { CallArgs } from '../../../main/common/api-contract';
import type { ClassFoldersSummary, ExportFile } from '../../../main/common/finetune';
import type { AppError } from '../../../main/common/result';
import type { TaskInfo } from '../../../main/common/tasks';
import { api } from '../api';
import { useCall } from '../composables/use-call';
import { useFinetuneStore, type ExportInclude } from './finetune';
import { useTasksStore } from './tasks';

/**
 * Getting results out of the Fine-tune screen: labels and predictions as a download, a copy of the
 * library into one folder per class (a task), the viewed classifier and the backbone in use written to
 * a folder. Which classifier and backbone come from the fine-tune store, read when an export starts.
 */
export const useExportsStore = defineStore('exports', () => {
  const tasks = useTasksStore();

  const exportInclude = ref<ExportInclude>('both');
  const labelsExportCall = useCall((args: CallArgs<'labelsExport'>) => api().call('labelsExport', args));
  const exportError = labelsExportCall.error;
  const exportFormat = ref<'csv' | 'json'>();
  /** The format being exported, if an export runs. */
  const exportBusy = computed(() => (labelsExportCall.busy.value ? exportFormat.value : undefined));
  const lastExport = ref<{ fileName: string; rows: number }>();
  const foldersDestination = ref('');
  const foldersInclude = ref<'labels' | 'both'>('labels');
  /** Minimum confidence in percent for predictions copied into class folders. */
  const foldersMinConfidence = ref(80);
  const foldersTaskId = ref<string>();
  const foldersCall = useCall(
    (args: CallArgs<'classFoldersExport'>) => api().call('classFoldersExport', args),
    (value) => {
      foldersTaskId.value = value.task.id;
      if (!tasks.get(value.task.id)) tasks.upsert(value.task);
    },
  );
  const { busy: foldersBusy, error: foldersError } = foldersCall;
  const classifierDestination = ref('');
  const classifierExportCall = useCall((args: CallArgs<'classifierExport'>) =>
    api().call('classifierExport', args),
  );
  const {
    busy: classifierExportBusy,
    error: classifierExportError,
    value: classifierExported,
  } = classifierExportCall;
  const backboneDestination = ref('');
  const backboneExportCall = useCall((args: CallArgs<'backboneExport'>) =>
    api().call('backboneExport', args),
  );
  const {
    busy: backboneExportBusy,
    error: backboneExportError,
    value: backboneExported,
  } = backboneExportCall;
  const pickCall = useCall(() => api().call('libraryPickFolder', {}), { overlap: 'latest' });
  const pickError = pickCall.error;

  const foldersTask = computed(() => tasks.get(foldersTaskId.value));
  let following = false;

  /** Follows the folder copy's task, so a copy that fails says why next to its button. */
  function follow(): void {
    if (following) return;
    following = true;
    tasks.follow((info) => {
      if (info.id === foldersTaskId.value && info.status === 'failed')
        foldersError.value = { code: 'INTERNAL', message: info.error ?? 'The copy failed.' };
    });
  }

  /** Labels and/or predictions as a CSV or JSON file, saved through the browser's download. */
  async function exportLabels(format: 'csv' | 'json'): Promise<AppError | undefined> {
    const args: CallArgs<'labelsExport'> = { format, include: exportInclude.value };
    const selectedId = useFinetuneStore().selectedId;
    if (exportInclude.value !== 'labels' && selectedId !== undefined) args.classifierId = selectedId;
    if (!labelsExportCall.busy.value) exportFormat.value = format;
    const error = await labelsExportCall.run(args);
    const file = labelsExportCall.value.value;
    if (error || !file) return error;
    saveFile(file);
    lastExport.value = { fileName: file.fileName, rows: file.rows };
    return undefined;
  }

  async function exportClassFolders(): Promise<AppError | undefined> {
    const args: CallArgs<'classFoldersExport'> = {
      destination: foldersDestination.value.trim(),
      include: foldersInclude.value,
    };
    if (foldersInclude.value === 'both')
      args.minConfidence = Math.min(1, Math.max(0, foldersMinConfidence.value / 100));
    const selectedId = useFinetuneStore().selectedId;
    if (foldersInclude.value === 'both' && selectedId !== undefined) args.classifierId = selectedId;
    follow();
    return foldersCall.run(args);
  }

  async function exportClassifier(): Promise<AppError | undefined> {
    const classifierId = useFinetuneStore().viewedId;
    if (classifierId === undefined) return undefined;
    return classifierExportCall.run({ classifierId, destination: classifierDestination.value.trim() });
  }

  async function exportBackbone(): Promise<AppError | undefined> {
    const chosenSource = useFinetuneStore().source;
    if (!chosenSource) return undefined;
    return backboneExportCall.run({
      source: chosenSource,
      destination: backboneDestination.value.trim(),
      format: 'safetensors',
    });
  }

  /** The native folder dialog (desktop app only); null when cancelled or not available. */
  async function pickFolder(): Promise<string | null> {
    await pickCall.run();
    return pickCall.value.value?.path ?? null;
  }

  return {
    exportInclude,
    exportBusy,
    exportError,
    lastExport,
    foldersDestination,
    foldersInclude,
    foldersMinConfidence,
    foldersTaskId,
    foldersBusy,
    foldersError,
    classifierDestination,
    classifierExportBusy,
    classifierExportError,
    classifierExported,
    backboneDestination,
    backboneExportBusy,
    backboneExportError,
    backboneExported,
    pickError,
    foldersTask,
    exportLabels,
    exportClassFolders,
    exportClassifier,
    exportBackbone,
    pickFolder,
  };
});

/** Hands a file to the user as a download (a Blob and an <a download>: Electron and browsers alike). */
export function saveFile(file: ExportFile): void {
  const blob = new Blob([file.content], { type: file.mimeType || 'application/octet-stream' });
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = file.fileName;
  link.style.display = 'none';
  document.body.appendChild(link);
  link.click();
  link.remove();
  // Revoking at once can cancel the download in some browsers.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Summary of a finished class-folder copy, read from its task (counts, then the final message). */
export function foldersSummary(
  task: TaskInfo | undefined,
): (Pick<ClassFoldersSummary, 'copied' | 'unchanged'> & { failed: number }) | undefined {
  if (!task || task.status !== 'finished') return undefined;
  const counts = task.counts ?? {};
  return { copied: counts.copied ?? task.done, unchanged: counts.unchanged ?? 0, failed: counts.failed ?? 0 };
}

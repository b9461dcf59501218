import { dialog, type BrowserWindow, type OpenDialogOptions } from 'electron';
import type { TaskInfo } from '../main/common/tasks';
import type { Handlers } from '../main/services/dispatch';

/**
 * The desktop app's implementation of the contract's `libraryPickFolder`: the native folder
 * dialog, attached to our window. (The core's own handler answers UNAVAILABLE: browser mode
 * has no native dialog and shows a path field instead.)
 */
export function pickFolderHandler(window: () => BrowserWindow | undefined): Handlers['libraryPickFolder'] {
  return async () => {
    const parent = window();
    const options: OpenDialogOptions = {
      title: 'Add a folder of images',
      buttonLabel: 'Add folder',
      properties: ['openDirectory', 'dontAddToRecent'],
    };
    const result = parent ? await dialog.showOpenDialog(parent, options) : await dialog.showOpenDialog(options);
    return { path: result.canceled ? null : (result.filePaths[0] ?? null) };
  };
}

/**
 * A task failed because the trainer process crashed: says so with the last lines of its output
 * and offers the log folder (where the crash report is).
 */
export async function showTrainerCrash(parent: BrowserWindow | undefined, task: TaskInfo): Promise<'open-logs' | 'ok'> {
  const excerpt = task.logExcerpt ? `\n\nLast lines of its output:\n${task.logExcerpt.split('\n').slice(-15).join('\n')}` : '';
  const options = {
    type: 'error' as const,
    buttons: ['Open Logs Folder', 'OK'],
    defaultId: 1,
    cancelId: 1,
    title: 'The trainer crashed',
    message: `${task.title} failed: the trainer process crashed.`,
    detail: `${task.error ?? ''}${excerpt}${task.crashReport ? `\n\nCrash report: ${task.crashReport}` : ''}`,
  };
  const result = parent ? await dialog.showMessageBox(parent, options) : await dialog.showMessageBox(options);
  return result.response === 0 ? 'open-logs' : 'ok';
}

/**
 * Quitting with a run in progress: asks whether to stop it. Stopping writes a checkpoint first
 * and leaves the run resumable (interrupted); "Keep training" cancels the quit.
 */
export async function confirmQuitWhileTraining(parent: BrowserWindow | undefined): Promise<'stop' | 'stay'> {
  const options = {
    type: 'question' as const,
    buttons: ['Stop the run and quit', 'Keep training'],
    defaultId: 1,
    cancelId: 1,
    title: 'A run is training',
    message: 'A pretraining run is in progress. Stop it and quit?',
    detail: 'It writes a checkpoint first; you can resume it from the Runs page with one click.',
  };
  const result = parent ? await dialog.showMessageBox(parent, options) : await dialog.showMessageBox(options);
  return result.response === 0 ? 'stop' : 'stay';
}

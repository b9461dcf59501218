import { dialog, type BrowserWindow, type OpenDialogOptions } from 'electron';
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

/**
 * The preload: exposes `window.jigclu` with one method per contract call and one subscribe
 * method per contract event, built from the contract's name lists, and `window.jigcluFiles`
 * with the path of a dropped folder. No generic send, no getters, no Electron objects leak to
 * the page.
 */
import { contextBridge, ipcRenderer, webUtils, type IpcRendererEvent } from 'electron';
import {
  callNames,
  eventMethodName,
  eventNames,
  ipcCallChannel,
  ipcEventChannel,
  type EventName,
  type PreloadFiles,
} from '../main/common/api-contract';

type Listener = (payload: unknown) => void;

/** Builds the object exposed to the page; exported for tests. */
export function buildPreloadApi(renderer: Pick<typeof ipcRenderer, 'invoke' | 'on'>): Record<string, unknown> {
  const listeners = new Map<EventName, Set<Listener>>(eventNames.map((name) => [name, new Set<Listener>()]));
  renderer.on(ipcEventChannel, (_event: IpcRendererEvent, name: unknown, payload: unknown) => {
    const set = listeners.get(name as EventName);
    if (!set) return;
    for (const listener of set) listener(payload);
  });

  const api: Record<string, unknown> = {};
  for (const name of callNames) {
    api[name] = (args: unknown) => renderer.invoke(ipcCallChannel, name, args);
  }
  for (const name of eventNames) {
    api[eventMethodName(name)] = (listener: Listener) => {
      if (typeof listener !== 'function') throw new TypeError(`${eventMethodName(name)} needs a function`);
      listeners.get(name)?.add(listener);
      return () => {
        listeners.get(name)?.delete(listener);
      };
    };
  }
  return Object.freeze(api);
}

/**
 * `window.jigcluFiles`: the path of a file or folder dropped on the window. Only files the user
 * dropped or chose carry one (the page cannot make one up), and the path still goes through
 * libraryAddFolder's checks; exported for tests.
 */
export function buildFilesApi(utils: Pick<typeof webUtils, 'getPathForFile'>): PreloadFiles {
  return Object.freeze({
    pathOf(file: object): string {
      if (typeof file !== 'object' || file === null) throw new TypeError('pathOf needs a dropped file');
      return utils.getPathForFile(file as File);
    },
  });
}

contextBridge.exposeInMainWorld('jigclu', buildPreloadApi(ipcRenderer));
contextBridge.exposeInMainWorld('jigcluFiles', buildFilesApi(webUtils));

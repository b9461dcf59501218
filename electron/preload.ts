/**
 * The preload: exposes `window.jigclu` with one method per contract call and one subscribe
 * method per contract event, built from the contract's name lists. No generic send, no
 * getters, no Electron objects leak to the page.
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import {
  callNames,
  eventMethodName,
  eventNames,
  ipcCallChannel,
  ipcEventChannel,
  type EventName,
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

contextBridge.exposeInMainWorld('jigclu', buildPreloadApi(ipcRenderer));

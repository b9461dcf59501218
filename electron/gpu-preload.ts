/**
 * The compute window's preload (electron/gpu-window.ts): exposes nothing to the page. It only
 * passes the one message port the main process sends on its channel into the page's world
 * (window.postMessage with the port transferred, as Electron documents for context-isolated
 * pages); the page (gpu-host/page.ts) accepts one port, once.
 */
import { ipcRenderer, type IpcRendererEvent } from 'electron';
import { gpuHostPortChannel, gpuHostPortMessage } from '../main/gpu-host/protocol';

/** Forwards the first port that arrives on the channel to `target`; exported for tests. */
export function forwardGpuHostPort(renderer: Pick<typeof ipcRenderer, 'on' | 'removeAllListeners'>, target: Pick<Window, 'postMessage'>): void {
  renderer.on(gpuHostPortChannel, (event: IpcRendererEvent) => {
    const port = event.ports[0];
    if (!port) return;
    renderer.removeAllListeners(gpuHostPortChannel);
    target.postMessage(gpuHostPortMessage, '*', [port]);
  });
}

forwardGpuHostPort(ipcRenderer, window);

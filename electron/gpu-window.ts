/**
 * The desktop app's WebGPU compute window: a hidden, sandboxed window whose page
 * (gpu-host/, served as app://gpu-host/) runs tfjs on Chromium's navigator.gpu, because Dawn's
 * Node binding cannot map GPU buffers inside Electron's Node (the trainer). A utility process
 * asks for one (main/engine/backend/gpu-host-connection.ts); the main process opens it and hands one end
 * of a message channel to the page (through its preload, electron/gpu-preload.ts) and the other
 * to the process. The window lives as long as the process that asked for it.
 */
import { BrowserWindow, MessageChannelMain, type BrowserWindowConstructorOptions, type MessagePortMain } from 'electron';
import { gpuHostPortChannel } from '../main/gpu-host/protocol';
import { lockedDownPreferences } from './window';

/** The origin the compute page is served from (electron/protocol.ts). */
export const gpuHostOrigin = 'app://gpu-host';

/**
 * The compute window's options: never shown, locked down as the main window is (context
 * isolation, sandbox, no Node), no devtools, and not throttled while hidden (its page waits on
 * GPU work and messages, not on frames).
 */
export function gpuWindowOptions(preloadPath: string): BrowserWindowConstructorOptions {
  return {
    show: false,
    width: 320,
    height: 240,
    title: 'JigClu Studio compute',
    skipTaskbar: true,
    focusable: false,
    webPreferences: {
      preload: preloadPath,
      ...lockedDownPreferences,
      nodeIntegrationInSubFrames: false,
      devTools: false,
      backgroundThrottling: false,
    },
  };
}

/** The parts of a BrowserWindow the compute window uses (tests pass a fake). */
export interface GpuWindowLike {
  readonly webContents: {
    once(event: 'did-finish-load', listener: () => void): unknown;
    on(event: 'render-process-gone', listener: (event: unknown, details: { reason: string }) => void): unknown;
    postMessage(channel: string, message: unknown, transfer: MessagePortMain[]): void;
  };
  loadURL(url: string): Promise<void>;
  isDestroyed(): boolean;
  destroy(): void;
}

/** How the compute window is made (Electron's by default; tests pass fakes). */
export interface GpuWindowFactory {
  window(options: BrowserWindowConstructorOptions): GpuWindowLike;
  channel(): { port1: MessagePortMain; port2: MessagePortMain };
}

const electronFactory: GpuWindowFactory = {
  window: (options) => new BrowserWindow(options),
  channel: () => new MessageChannelMain(),
};

/** One open compute window: `port` goes to the process that asked; `close` ends the window. */
export interface GpuWindow {
  port: MessagePortMain;
  close(): void;
}

/**
 * Opens a compute window with `preloadPath` and returns the port for the process that asked.
 * The page gets the other end once it has loaded. If its renderer dies, the window is destroyed
 * and the process's port closes, so its open requests fail and the run keeps its checkpoint.
 */
export function openGpuWindow(preloadPath: string, make: GpuWindowFactory = electronFactory): GpuWindow {
  const { port1, port2 } = make.channel();
  const window = make.window(gpuWindowOptions(preloadPath));
  const close = (): void => {
    port2.close();
    if (!window.isDestroyed()) window.destroy();
  };
  window.webContents.once('did-finish-load', () => window.webContents.postMessage(gpuHostPortChannel, null, [port2]));
  window.webContents.on('render-process-gone', () => close());
  window.loadURL(`${gpuHostOrigin}/index.html`).catch(() => close());
  return { port: port1, close };
}

/**
 * The trainer process's way to the desktop app's WebGPU compute window. Inside Electron (a
 * utility process) it asks the main process for the window over process.parentPort; the answer
 * transfers one end of a message channel whose other end the window's page serves
 * (main/gpu-host/host.ts). Outside Electron there is none: WebGPU is Dawn's, in this process.
 */
import type { EngineReport } from '../../common/engine';
import { GpuHostClient, type GpuHostConnector } from '../../gpu-host/client';
import { gpuHostOpenRequest, gpuHostPortReply, type GpuPort } from '../../gpu-host/protocol';

/** Electron's MessagePortMain, as far as the connection uses it. */
export interface MainPortLike {
  postMessage(message: unknown): void;
  on(event: 'message', listener: (event: { data: unknown }) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
  start(): void;
  close(): void;
}

/** Electron's process.parentPort in a utility process, as far as the connection uses it. */
export interface ParentPortLike {
  postMessage(message: unknown): void;
  on(event: 'message', listener: (event: { data: unknown; ports?: MainPortLike[] }) => void): unknown;
}

/** A MessagePortMain as the compute host's client wants a port. */
export function mainPort(port: MainPortLike): GpuPort {
  const closeListeners: (() => void)[] = [];
  port.on('close', () => {
    for (const listener of closeListeners) listener();
  });
  return {
    postMessage: (message) => port.postMessage(message),
    onMessage: (listener) => {
      port.on('message', (event) => listener(event.data));
      port.start();
    },
    onClose: (listener) => closeListeners.push(listener),
    close: () => port.close(),
  };
}

/**
 * The connector to the compute window through `parent` (process.parentPort by default), or
 * undefined outside a utility process of the desktop app. The window is asked for once; every
 * call gives the same client. `timeoutMs` bounds the wait for the window (its page loads tfjs).
 */
export function parentGpuHost(parent: ParentPortLike | undefined = (process as { parentPort?: ParentPortLike }).parentPort, electron = process.versions.electron, timeoutMs = 60_000): GpuHostConnector | undefined {
  if (!parent || !electron) return undefined;
  let connecting: Promise<GpuHostClient> | undefined;
  return () => {
    connecting ??= new Promise<GpuHostClient>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        reject(new Error(`The desktop app did not open its compute window within ${timeoutMs / 1000} s.`));
      }, timeoutMs);
      parent.on('message', (event) => {
        const data = event.data as { type?: unknown; error?: unknown } | null;
        if (settled || typeof data !== 'object' || data === null || data.type !== gpuHostPortReply) return;
        settled = true;
        clearTimeout(timer);
        const port = event.ports?.[0];
        if (port) resolve(new GpuHostClient(mainPort(port)));
        else reject(new Error(`The desktop app could not open its compute window: ${typeof data.error === 'string' ? data.error : 'no port came with its answer'}.`));
      });
      parent.postMessage({ type: gpuHostOpenRequest });
    });
    return connecting;
  };
}

let appConnector: { value: GpuHostConnector | undefined } | undefined;

/** This process's one connector to the app's compute window (undefined outside the desktop app's utility processes). */
export function appGpuHost(): GpuHostConnector | undefined {
  appConnector ??= { value: parentGpuHost() };
  return appConnector.value;
}

/**
 * The compute window's client when `engine` runs on it (webgpu chosen inside the desktop app;
 * the probe already opened it), else undefined: the engine is this process's.
 */
export async function computeWindowFor(engine: Pick<EngineReport, 'chosen'>, electron = process.versions.electron): Promise<GpuHostClient | undefined> {
  if (engine.chosen !== 'webgpu' || !electron) return undefined;
  const connect = appGpuHost();
  if (!connect) throw new Error('WebGPU inside the desktop app runs in its compute window, and this process was not started by the app.');
  return connect();
}

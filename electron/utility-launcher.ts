import { utilityProcess, type MessagePortMain } from 'electron';
import { gpuHostOpenRequest, gpuHostPortReply } from '../main/gpu-host/protocol';
import type { ChildChannel, LaunchOptions, ProcessLauncher } from '../main/jobs/launcher';
import type { GpuWindow } from './gpu-window';

/** The part of Electron's UtilityProcess the launcher uses (tests pass a fake). */
export interface UtilityChild {
  readonly pid: number | undefined;
  readonly stderr: NodeJS.ReadableStream | null;
  postMessage(message: unknown, transfer?: MessagePortMain[]): void;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  on(event: 'exit', listener: (code: number) => void): unknown;
  kill(): boolean;
}

/** Starts a utility process; Electron's utilityProcess.fork by default. */
export type UtilityFork = (script: string, args: string[], options: { execArgv: string[]; stdio: ['ignore', 'inherit' | 'ignore', 'pipe']; serviceName: string }) => UtilityChild;

const electronFork: UtilityFork = (script, args, options) => utilityProcess.fork(script, args, options) as unknown as UtilityChild;

/**
 * The trainer and the engine probe as Electron utility processes: a Node environment started
 * by Electron itself, so the packaged app needs no ELECTRON_RUN_AS_NODE and its RunAsNode fuse
 * is off (see electron/fuses.mjs). Messages are structured clones both ways, as with the
 * 'advanced' serialisation of child_process. A process that asks for the WebGPU compute window
 * (its `gpuHostOpenRequest` message, not passed on) gets one from `openGpuHost`, with the
 * window's port; the window is closed when the process exits.
 */
export function utilityLauncher(fork: UtilityFork = electronFork, openGpuHost?: () => GpuWindow): ProcessLauncher {
  return (script: string, options: LaunchOptions = {}): ChildChannel => {
    const child = fork(script, options.args ?? [], {
      execArgv: options.execArgv ?? [],
      stdio: ['ignore', options.stdout ?? 'inherit', 'pipe'],
      serviceName: options.name ?? 'JigClu Studio helper',
    });
    let exited = false;
    let gpuWindow: GpuWindow | undefined;
    const exitListeners: ((code: number | null, signal: NodeJS.Signals | null) => void)[] = [];
    const isGpuHostRequest = (message: unknown): boolean => (message as { type?: unknown } | null)?.type === gpuHostOpenRequest;
    child.on('message', (message: unknown) => {
      if (!isGpuHostRequest(message) || exited) return;
      if (gpuWindow) return child.postMessage({ type: gpuHostPortReply, error: 'this process already has a compute window' });
      if (!openGpuHost) return child.postMessage({ type: gpuHostPortReply, error: 'this app has no WebGPU compute window' });
      try {
        gpuWindow = openGpuHost();
        child.postMessage({ type: gpuHostPortReply }, [gpuWindow.port]);
      } catch (error) {
        child.postMessage({ type: gpuHostPortReply, error: String((error as Error)?.message ?? error) });
      }
    });
    child.on('exit', (code: number) => {
      exited = true;
      gpuWindow?.close();
      // A utility process reports no signal; a kill shows as its exit code.
      for (const listener of exitListeners) listener(code, null);
    });
    return {
      get pid() {
        return child.pid;
      },
      get connected() {
        return !exited;
      },
      send(message) {
        if (!exited) child.postMessage(message);
      },
      onMessage(listener) {
        child.on('message', (message: unknown) => {
          if (!isGpuHostRequest(message)) listener(message);
        });
      },
      onStderr(listener) {
        child.stderr?.on('data', (chunk: Buffer) => listener(chunk.toString()));
      },
      onExit(listener) {
        exitListeners.push(listener);
      },
      kill() {
        child.kill();
      },
    };
  };
}

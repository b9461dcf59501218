import { fork } from 'node:child_process';

/**
 * How the app starts its helper processes (the trainer, the engine probe). Node forks a child
 * process; the desktop app passes one built on Electron's utilityProcess instead (see
 * electron/utility-launcher.ts), which needs no ELECTRON_RUN_AS_NODE, so the packaged app can
 * turn the RunAsNode fuse off. Another engine may bring its own host (a hidden window for
 * WebGPU) behind the same interface.
 */

/** One running helper process, as its parent sees it. */
export interface ChildChannel {
  readonly pid: number | undefined;
  /** False once the process exited or its message channel closed. */
  readonly connected: boolean;
  /** Sends a message (structured clone: typed arrays travel as they are). */
  send(message: unknown): void;
  onMessage(listener: (message: unknown) => void): void;
  /** Text the process wrote to its stderr. */
  onStderr(listener: (chunk: string) => void): void;
  /** Called once when the process ended; `signal` is null where the host cannot tell (utilityProcess). */
  onExit(listener: (code: number | null, signal: NodeJS.Signals | null) => void): void;
  /** Ends the process at once. */
  kill(): void;
}

export interface LaunchOptions {
  /** Arguments of the script (process.argv.slice(2) there). */
  args?: string[];
  /** Node flags, such as --max-old-space-size. */
  execArgv?: string[];
  /** Whether the child's stdout is shown in ours (the trainer's) or dropped (the probe's). */
  stdout?: 'inherit' | 'ignore';
  /** A name for the process in the OS task list, where the host supports it. */
  name?: string;
}

/** Starts `script` (a built .js entry) as a helper process. */
export type ProcessLauncher = (script: string, options?: LaunchOptions) => ChildChannel;

/** The Node launcher: child_process.fork with an IPC channel using structured clone. */
export const forkLauncher: ProcessLauncher = (script, options = {}) => {
  const child = fork(script, options.args ?? [], {
    stdio: ['ignore', options.stdout ?? 'inherit', 'pipe', 'ipc'],
    execArgv: options.execArgv ?? [],
    serialization: 'advanced',
  });
  let exited = false;
  const exitListeners: ((code: number | null, signal: NodeJS.Signals | null) => void)[] = [];
  const ended = (code: number | null, signal: NodeJS.Signals | null): void => {
    if (exited) return;
    exited = true;
    for (const listener of exitListeners) listener(code, signal);
  };
  child.on('exit', ended);
  // A process that could not start at all (a missing script, EAGAIN) never emits 'exit'.
  child.on('error', () => ended(child.exitCode ?? 1, null));
  return {
    get pid() {
      return child.pid;
    },
    get connected() {
      return child.connected;
    },
    send(message) {
      if (child.connected) child.send(message as Parameters<typeof child.send>[0]);
    },
    onMessage(listener) {
      child.on('message', listener);
    },
    onStderr(listener) {
      child.stderr?.on('data', (chunk: Buffer) => listener(chunk.toString()));
    },
    onExit(listener) {
      exitListeners.push(listener);
    },
    kill() {
      child.kill('SIGKILL');
    },
  };
};

/** What a helper process uses to talk to its parent, whichever launcher started it. */
export interface ParentChannel {
  /** False when the process was not started by a launcher (run by hand). */
  readonly available: boolean;
  /** Sends a message; resolves once it has left this process (so that exiting after it loses nothing). */
  send(message: unknown): Promise<void>;
  onMessage(listener: (message: unknown) => void): void;
  /** Called when the parent went away (child_process only; a utility process ends with its parent). */
  onDisconnect(listener: () => void): void;
}

interface ParentPort {
  postMessage(message: unknown): void;
  on(event: 'message', listener: (event: { data: unknown }) => void): void;
}

/** The channel to the parent: Electron's process.parentPort in a utility process, Node's IPC otherwise. */
export function parentChannel(): ParentChannel {
  const port = (process as { parentPort?: ParentPort }).parentPort;
  if (port) {
    return {
      available: true,
      send: (message) => {
        port.postMessage(message);
        // postMessage has no completion callback: give the message a moment to leave.
        return new Promise((resolve) => setTimeout(resolve, 50));
      },
      onMessage: (listener) => port.on('message', (event) => listener(event.data)),
      onDisconnect: () => undefined,
    };
  }
  return {
    available: typeof process.send === 'function',
    send: (message) =>
      new Promise((resolve) => {
        if (!process.connected || !process.send) resolve();
        else process.send(message, undefined, {}, () => resolve());
      }),
    onMessage: (listener) => process.on('message', listener),
    onDisconnect: (listener) => process.on('disconnect', listener),
  };
}

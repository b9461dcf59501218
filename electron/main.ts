/**
 * The desktop app's main process: lifecycle only. The core (store, services) comes from main/,
 * served to the one window over the validated IPC router.
 */
import path from 'node:path';
import { app, dialog, ipcMain, type BrowserWindow } from 'electron';
import { ipcCallChannel, ipcEventChannel } from '../main/common/api-contract';
import { startCore, type Core } from '../main/core';
import { webGpuSwitches } from '../main/gpu-host/chromium-switches';
import { defaultDataDir } from '../main/paths';
import { dispatch } from '../main/services/dispatch';
import type { TaskInfo } from '../main/common/tasks';
import { confirmQuitWhileTraining, pickFolderHandler, showTrainerCrash } from './dialogs';
import { openGpuWindow } from './gpu-window';
import { createIpcCallHandler, isOwnMainFrame } from './ipc-router';
import { installMenu, openLogsFolder } from './menu';
import { betterSqliteBinding } from './native';
import { registerAppScheme, serveMedia, serveRenderer } from './protocol';
import { applySecurityPolicies } from './security';
import { utilityLauncher } from './utility-launcher';
import { createMainWindow } from './window';

const here = import.meta.dirname;
/** Set once the user chose to stop a training run and quit (or none was training). */
let quitConfirmed = false;

function dataDirFromArgs(argv: string[]): string | undefined {
  const index = argv.findIndex((arg) => arg === '--data-dir' || arg.startsWith('--data-dir='));
  if (index < 0) return undefined;
  const arg = argv[index] ?? '';
  return path.resolve(arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : (argv[index + 1] ?? ''));
}

// One data folder for the app, the CLI and browser mode: Electron's userData points at it.
app.setPath('userData', dataDirFromArgs(process.argv) ?? defaultDataDir());
registerAppScheme();
// WebGPU for the compute window where Chromium keeps it behind a switch (see chromium-switches.ts).
for (const name of webGpuSwitches(process.platform, process.arch)) app.commandLine.appendSwitch(name);

let core: Core | undefined;
let mainWindow: BrowserWindow | undefined;

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.on('second-instance', () => {
    if (!mainWindow) return;
    if (mainWindow.isMinimized()) mainWindow.restore();
    mainWindow.focus();
  });
  app.whenReady().then(start, (error: unknown) => fail(error));
}

function fail(error: unknown): void {
  dialog.showErrorBox('JigClu Studio could not start', (error as Error)?.message ?? String(error));
  app.exit(1);
}

function start(): void {
  try {
    applySecurityPolicies();
    serveRenderer(path.join(here, '..', 'renderer'), path.join(here, '..', 'gpu-host'));
    const nativeBinding = betterSqliteBinding();
    core = startCore({
      dataDir: app.getPath('userData'),
      mode: 'electron',
      nativeBinding,
      versions: { electron: process.versions.electron, chrome: process.versions.chrome },
      // The trainer and the engine probe run as utility processes: no ELECTRON_RUN_AS_NODE,
      // so the packaged app's RunAsNode fuse is off.
      // A trainer on webgpu asks for the hidden compute window (Dawn cannot map buffers in Electron's Node).
      launcher: utilityLauncher(undefined, () => openGpuWindow(path.join(here, '..', 'preload', 'gpu-preload.cjs'))),
    });
    // The native folder dialog lives here, in electron/; the core's handler says browser mode has none.
    core.handlers.libraryPickFolder = pickFolderHandler(() => mainWindow);
    serveMedia(core.media);
    const handle = createIpcCallHandler({
      isTrustedSender: (event) => isOwnMainFrame(event, mainWindow?.webContents),
      dispatch: (name, args) => dispatch(core!.handlers, name, args),
    });
    ipcMain.handle(ipcCallChannel, (event, name: unknown, args: unknown) => handle(event, name, args));
    core.hub.subscribe((name, payload) => {
      if (mainWindow && !mainWindow.isDestroyed()) mainWindow.webContents.send(ipcEventChannel, name, payload);
      // A task that failed because the trainer crashed: a dialog with its last lines and the logs folder.
      const task = payload as TaskInfo;
      if (name === 'task' && task.status === 'failed' && task.crashReport) {
        void showTrainerCrash(mainWindow?.isDestroyed() ? undefined : mainWindow, task).then((choice) => {
          if (choice === 'open-logs' && core) openLogsFolder(core.dataDir);
        });
      }
    });
    installMenu(core.hub, core.dataDir);
    mainWindow = createMainWindow(core.db, path.join(here, '..', 'preload', 'preload.cjs'));
    // Closing the window with a run in progress asks first, like quitting does.
    mainWindow.on('close', (event) => {
      if (quitConfirmed || !core?.hasActiveRun()) return;
      event.preventDefault();
      askToStopAndQuit();
    });
    mainWindow.on('closed', () => {
      mainWindow = undefined;
      // A hidden compute window (a job still on WebGPU) would keep 'window-all-closed' from firing.
      app.quit();
    });
  } catch (error) {
    fail(error);
  }
}

// Quitting with a run in progress asks first; stopping checkpoints before the app goes.
let asking = false;
function askToStopAndQuit(): void {
  if (asking) return;
  asking = true;
  void confirmQuitWhileTraining(mainWindow)
    .then(async (choice) => {
      if (choice === 'stay') return;
      await core?.stopTraining();
      quitConfirmed = true;
      app.quit();
    })
    .finally(() => {
      asking = false;
    });
}
app.on('before-quit', (event) => {
  if (quitConfirmed || !core?.hasActiveRun()) return;
  event.preventDefault();
  askToStopAndQuit();
});
app.on('window-all-closed', () => app.quit());
app.on('will-quit', () => core?.close());

import path from 'node:path';
import { BrowserWindow, screen } from 'electron';
import type { Database } from '../main/store/db';
import { SettingsRepository } from '../main/store/settings-repository';
import { rendererOrigin } from './ipc-router';

interface WindowState {
  width: number;
  height: number;
  x?: number;
  y?: number;
  maximized?: boolean;
}

const stateKey = 'internal.windowState';

function restoredState(db: Database): WindowState {
  const saved = new SettingsRepository(db).get(stateKey) as WindowState | undefined;
  const fallback: WindowState = { width: 1280, height: 820 };
  if (!saved || typeof saved.width !== 'number' || typeof saved.height !== 'number') return fallback;
  // Ignore a position that is no longer on any display (a monitor was unplugged).
  if (saved.x !== undefined && saved.y !== undefined) {
    const visible = screen.getAllDisplays().some(({ workArea: a }) =>
      saved.x! >= a.x - 50 && saved.y! >= a.y - 50 && saved.x! < a.x + a.width && saved.y! < a.y + a.height);
    if (!visible) return { width: saved.width, height: saved.height, maximized: saved.maximized };
  }
  return saved;
}

/** What every window of the app runs with: isolated, sandboxed, no Node, no webviews. */
export const lockedDownPreferences = {
  contextIsolation: true,
  sandbox: true,
  nodeIntegration: false,
  nodeIntegrationInWorker: false,
  webSecurity: true,
  allowRunningInsecureContent: false,
  webviewTag: false,
  spellcheck: false,
} as const;

/** Creates the one app window, locked down, with its size and position remembered. */
export function createMainWindow(db: Database, preloadPath: string): BrowserWindow {
  const state = restoredState(db);
  const window = new BrowserWindow({
    width: Math.max(800, state.width),
    height: Math.max(560, state.height),
    x: state.x,
    y: state.y,
    minWidth: 800,
    minHeight: 560,
    show: false,
    title: 'JigClu Studio',
    backgroundColor: '#14161a',
    icon: path.join(import.meta.dirname, '..', '..', 'resources', 'icon.png'),
    webPreferences: { preload: preloadPath, ...lockedDownPreferences },
  });
  if (state.maximized) window.maximize();
  window.once('ready-to-show', () => window.show());
  window.on('close', () => {
    const bounds = window.getNormalBounds();
    new SettingsRepository(db).setMany({ [stateKey]: { ...bounds, maximized: window.isMaximized() } });
  });
  void window.loadURL(`${rendererOrigin}/index.html`);
  return window;
}

import { app, Menu, shell, type MenuItemConstructorOptions } from 'electron';
import fs from 'node:fs';
import { logsDir } from '../main/log';
import type { EventHub } from '../main/services/event-hub';

/** Opens <dataDir>/logs in the file manager (creating it when nothing was logged yet). */
export function openLogsFolder(dataDir: string): void {
  const dir = logsDir(dataDir);
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch {
    // openPath says what went wrong below.
  }
  void shell.openPath(dir);
}

/** The app menu; About and Settings open the renderer's panels through the `menu` event. */
export function installMenu(hub: EventHub, dataDir: string): void {
  const isMac = process.platform === 'darwin';
  const about: MenuItemConstructorOptions = {
    label: 'About JigClu Studio',
    click: () => hub.emit('menu', { command: 'about' }),
  };
  const template: MenuItemConstructorOptions[] = [
    ...(isMac ? [{ label: app.name, submenu: [about, { type: 'separator' }, { role: 'quit' }] } as MenuItemConstructorOptions] : []),
    {
      label: 'File',
      submenu: [
        { label: 'Settings…', accelerator: 'CmdOrCtrl+,', click: () => hub.emit('menu', { command: 'settings' }) },
        { label: 'Open Data Folder', click: () => void shell.openPath(dataDir) },
        { type: 'separator' },
        isMac ? { role: 'close' } : { role: 'quit' },
      ],
    },
    { role: 'editMenu' },
    {
      label: 'View',
      submenu: [
        { role: 'reload' },
        ...(app.isPackaged ? [] : [{ role: 'toggleDevTools' } as MenuItemConstructorOptions]),
        { type: 'separator' },
        { role: 'resetZoom' },
        { role: 'zoomIn' },
        { role: 'zoomOut' },
        { type: 'separator' },
        { role: 'togglefullscreen' },
      ],
    },
    { role: 'windowMenu' },
    { role: 'help', submenu: [...(isMac ? [] : [about, { type: 'separator' } as MenuItemConstructorOptions]), { label: 'Open Logs Folder', click: () => openLogsFolder(dataDir) }] },
  ];
  Menu.setApplicationMenu(Menu.buildFromTemplate(template));
}

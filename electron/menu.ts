import { app, Menu, shell, type MenuItemConstructorOptions } from 'electron';
import type { EventHub } from '../main/services/event-hub';

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
    { role: 'help', submenu: isMac ? [] : [about] },
  ];
  Menu.setApplicationMenu(Menu.buildFromTemplate(template));
}

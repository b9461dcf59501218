import { app, session, shell, type Session, type WebContents } from 'electron';
import { isExternalLinkAllowed } from '../main/common/links';
import { rendererOrigin } from './ipc-router';

/** The parts of Electron the policies use (tests pass fakes). */
export interface SecurityTargets {
  app: Pick<typeof app, 'on'>;
  session: Pick<Session, 'setPermissionRequestHandler' | 'setPermissionCheckHandler' | 'setDevicePermissionHandler' | 'setDisplayMediaRequestHandler' | 'on'>;
  openExternal: (url: string) => Promise<void>;
}

const electronTargets = (): SecurityTargets => ({ app, session: session.defaultSession, openExternal: (url) => shell.openExternal(url) });

/**
 * What a request to open a new window does: a link that is one of the app's own
 * (main/common/links.ts), exactly, opens in the system browser; nothing opens a window.
 */
export function handleWindowOpen(url: string, openExternal: SecurityTargets['openExternal']): { action: 'deny' } {
  if (isExternalLinkAllowed(url)) void openExternal(url);
  return { action: 'deny' };
}

/**
 * App-wide hardening, applied once: every web contents may navigate only within our renderer,
 * may not open windows (only the app's own links go to the system browser), may not attach
 * webviews; every permission request (camera, notifications, ...) and check is denied, and so
 * are device permissions (HID, serial, USB), device pickers and screen capture.
 */
export function applySecurityPolicies(targets: SecurityTargets = electronTargets()): void {
  targets.app.on('web-contents-created', (_event: unknown, contents: WebContents) => {
    contents.on('will-navigate', (event, url) => {
      if (!url.startsWith(`${rendererOrigin}/`)) event.preventDefault();
    });
    contents.on('will-redirect', (event, url) => {
      if (!url.startsWith(`${rendererOrigin}/`)) event.preventDefault();
    });
    contents.on('will-attach-webview', (event) => event.preventDefault());
    contents.setWindowOpenHandler(({ url }) => handleWindowOpen(url, targets.openExternal));
    // Web Bluetooth's device picker: choose none.
    contents.on('select-bluetooth-device', (event, _devices, callback) => {
      event.preventDefault();
      callback('');
    });
  });
  const sessionTarget = targets.session;
  sessionTarget.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  sessionTarget.setPermissionCheckHandler(() => false);
  sessionTarget.setDevicePermissionHandler(() => false);
  sessionTarget.setDisplayMediaRequestHandler((_request, callback) => callback(null));
  // WebHID, Web Serial and WebUSB pickers: cancelled without showing a device.
  sessionTarget.on('select-hid-device', (event, _details, callback) => {
    event.preventDefault();
    callback();
  });
  sessionTarget.on('select-serial-port', (event, _ports, _contents, callback) => {
    event.preventDefault();
    callback('');
  });
  sessionTarget.on('select-usb-device', (event, _details, callback) => {
    event.preventDefault();
    callback();
  });
}

import { app, session, shell, type WebContents } from 'electron';
import { rendererOrigin } from './ipc-router';

/**
 * App-wide hardening, applied once: every web contents may navigate only within our renderer,
 * may not open windows (https links go to the system browser), may not attach webviews, and
 * every permission request (camera, notifications, ...) is denied.
 */
export function applySecurityPolicies(): void {
  app.on('web-contents-created', (_event, contents: WebContents) => {
    contents.on('will-navigate', (event, url) => {
      if (!url.startsWith(`${rendererOrigin}/`)) event.preventDefault();
    });
    contents.on('will-redirect', (event, url) => {
      if (!url.startsWith(`${rendererOrigin}/`)) event.preventDefault();
    });
    contents.on('will-attach-webview', (event) => event.preventDefault());
    contents.setWindowOpenHandler(({ url }) => {
      if (url.startsWith('https://')) void shell.openExternal(url);
      return { action: 'deny' };
    });
  });
  session.defaultSession.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  session.defaultSession.setPermissionCheckHandler(() => false);
}

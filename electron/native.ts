import fs from 'node:fs';
import path from 'node:path';
import { app } from 'electron';

/**
 * Where the Electron-ABI build of better-sqlite3 lives. better-sqlite3 uses V8's API rather than
 * N-API, so the copy npm built for Node cannot load inside Electron, and node_modules is never
 * rebuilt in place (the CLI and the tests need the Node build there; electron-builder's
 * `npmRebuild` is off). In development `npm start` builds one into out/native/electron-<abi>/
 * (see main/launch.ts); `npm run dist` (electron/dist.mjs) builds the same file and ships it
 * as an extra resource, outside the asar: <resources>/native/better_sqlite3.node.
 */
export function betterSqliteBinding(): string | undefined {
  const candidates = app.isPackaged
    ? [path.join(process.resourcesPath, 'native', 'better_sqlite3.node')]
    : [path.join(app.getAppPath(), 'out', 'native', `electron-${process.versions.modules}`, 'better_sqlite3.node')];
  return candidates.find((file) => fs.existsSync(file));
}

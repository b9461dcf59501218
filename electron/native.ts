import fs from 'node:fs';
import path from 'node:path';
import { app } from 'electron';

/**
 * Where the Electron-ABI build of better-sqlite3 lives. better-sqlite3 uses V8's API rather than
 * N-API, so the copy npm built for Node cannot load inside Electron. Packaged apps get one
 * rebuilt for Electron by electron-builder (unpacked from the asar); in development
 * `npm start` builds one into out/native/electron-<abi>/ (see main/launch.ts) and leaves
 * node_modules untouched, so the Node-ABI copy keeps serving the tests and the CLI.
 */
export function betterSqliteBinding(): string | undefined {
  const candidates = app.isPackaged
    ? [path.join(process.resourcesPath, 'app.asar.unpacked', 'node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node')]
    : [path.join(app.getAppPath(), 'out', 'native', `electron-${process.versions.modules}`, 'better_sqlite3.node')];
  return candidates.find((file) => fs.existsSync(file));
}

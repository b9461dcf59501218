import path from 'node:path';
import { listBackups } from './backups';

/**
 * What went wrong with the data folder's storage, read from an SQLite or file-system error:
 * the disk is full, the folder is read-only, or the database is damaged. Each has its own
 * error code and a message that names the folder and says what to do.
 */
export type StorageProblem = 'DISK_FULL' | 'READ_ONLY' | 'DATABASE_CORRUPT';

/** The storage problem an error shows, if any. `dataDir` scopes permission errors to our own folder. */
export function storageProblemOf(error: unknown, dataDir?: string): StorageProblem | undefined {
  if (!error || typeof error !== 'object') return undefined;
  const { code, path: errorPath } = error as { code?: unknown; path?: unknown };
  if (typeof code !== 'string') return undefined;
  if (code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'EDQUOT') return 'DISK_FULL';
  if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB') return 'DATABASE_CORRUPT';
  if (code.startsWith('SQLITE_READONLY') || code === 'EROFS') return 'READ_ONLY';
  if ((code === 'EACCES' || code === 'EPERM') && dataDir && typeof errorPath === 'string') {
    const relative = path.relative(path.resolve(dataDir), path.resolve(errorPath));
    if (!relative.startsWith('..') && !path.isAbsolute(relative)) return 'READ_ONLY';
  }
  return undefined;
}

/** The sentence for a full disk. */
export function diskFullMessage(dataDir: string): string {
  return `The disk holding the data folder ${dataDir} is full: free some space there (or choose another data folder with --data-dir), then try again. The change that failed was not saved.`;
}

/** The sentence for a read-only data folder. */
export function readOnlyMessage(dataDir: string): string {
  return `The data folder ${dataDir} is read-only: JigClu Studio can show what it holds but cannot change it. Make the folder writable, or choose another data folder (--data-dir).`;
}

/**
 * The sentence for a damaged database: what was done (at start-up: not opened; while running:
 * no more writes) and how to recover (the newest backup; SQLite's .recover when there is
 * something to rescue).
 */
export function damagedMessage(databaseFile: string, finding: string, options: { when?: 'open' | 'running'; empty?: boolean } = {}): string {
  const backups = listBackups(databaseFile);
  const name = path.basename(databaseFile);
  const restore = backups.length
    ? `copy the newest backup, ${backups[0]}, in its place (a backup is made before each upgrade of the database)`
    : 'start again with an empty library (there is no backup: one is made before each upgrade of the database)';
  const done = options.when === 'running' ? 'JigClu Studio stopped writing to it.' : 'JigClu Studio did not open it and wrote nothing to it.';
  const rescue = options.empty ? '' : `; or rescue what SQLite can still read with: sqlite3 ${databaseFile} .recover | sqlite3 recovered.sqlite`;
  return (
    `The database ${databaseFile} is damaged (${finding}). ${done} ` +
    `To recover: quit JigClu Studio, move ${name} (with its -wal and -shm files) out of the data folder, then ${restore}${rescue}. ` +
    'Your image folders are not affected.'
  );
}

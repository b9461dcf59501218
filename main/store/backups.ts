import fs from 'node:fs';
import path from 'node:path';
import type { Database } from 'better-sqlite3';

/**
 * Copies of the database made before each schema upgrade, in <dataDir>/backups. A migration
 * that goes wrong, or a damaged database found later, can be recovered from the newest one.
 */

/** How many backups are kept (the oldest go first). */
export const keptBackups = 3;

/** The backup folder beside a database file. */
export function backupsDir(databaseFile: string): string {
  return path.join(path.dirname(databaseFile), 'backups');
}

/** Backup files beside a database, newest first. */
export function listBackups(databaseFile: string): string[] {
  const dir = backupsDir(databaseFile);
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((name) => /^jigclu-before-v\d+-.*\.sqlite$/.test(name))
    .map((name) => path.join(dir, name))
    .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs || b.localeCompare(a));
}

/**
 * Writes a consistent copy of the open database (VACUUM INTO: a transaction-consistent,
 * compacted copy) before migrating it from `fromVersion`, then keeps the newest `keptBackups`.
 * Returns the copy's path. Throws what SQLite or the file system threw (a full disk).
 */
export function backupBeforeMigration(db: Database, databaseFile: string, fromVersion: number, now: Date = new Date()): string {
  const dir = backupsDir(databaseFile);
  fs.mkdirSync(dir, { recursive: true });
  const stamp = now.toISOString().replace(/[:.]/g, '-');
  const target = path.join(dir, `jigclu-before-v${fromVersion + 1}-${stamp}.sqlite`);
  const partial = `${target}.partial`;
  fs.rmSync(partial, { force: true });
  try {
    db.prepare('VACUUM INTO ?').run(partial);
    fs.renameSync(partial, target);
  } catch (error) {
    fs.rmSync(partial, { force: true });
    throw error;
  }
  for (const old of listBackups(databaseFile).slice(keptBackups)) fs.rmSync(old, { force: true });
  return target;
}

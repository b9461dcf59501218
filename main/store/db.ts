import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { backupBeforeMigration } from './backups';
import { latestSchemaVersion, migrations, type Migration } from './migrations';
import { damagedMessage, diskFullMessage, readOnlyMessage, storageProblemOf } from './storage-errors';

export type { Database } from 'better-sqlite3';

/** Why the store could not be opened, with a message that says what to do. */
export class StoreError extends Error {
  readonly code: 'DATABASE_TOO_NEW' | 'DATABASE_OPEN_FAILED' | 'MIGRATION_FAILED' | 'DATABASE_DAMAGED' | 'DATABASE_READ_ONLY' | 'DISK_FULL';

  constructor(code: StoreError['code'], message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
    this.code = code;
  }
}

export interface OpenOptions {
  /**
   * Path of a better_sqlite3.node built for the running ABI. Node runs the copy npm built in
   * node_modules; Electron needs one built for Electron's ABI (see README, "Native modules").
   */
  nativeBinding?: string;
  /** Apply migrations up to this version only (tests of each migration use it). */
  targetVersion?: number;
  /**
   * Open without writing anything, for a data folder that cannot be written: no migration, no
   * journal change; every write is refused by SQLite (SQLITE_READONLY).
   */
  readOnly?: boolean;
}

/**
 * Opens (creating if needed) the app database: WAL journal, foreign keys on, migrations run in
 * one transaction each after a backup copy. Before anything is written it refuses an empty
 * file, a file that is not a database, a damaged database (PRAGMA quick_check) and one written
 * by a newer app version.
 */
export function openDatabase(file: string, options: OpenOptions = {}): Database.Database {
  const binding = options.nativeBinding ? { nativeBinding: options.nativeBinding } : {};
  if (file !== ':memory:') {
    if (!options.readOnly) fs.mkdirSync(path.dirname(file), { recursive: true });
    refuseEmptyFile(file);
  }
  let db: Database.Database | undefined;
  try {
    db = options.readOnly ? openReadOnly(file, binding) : new Database(file, binding);
    // The first read happens here, so "file is not a database" becomes a clear StoreError.
    schemaVersion(db);
  } catch (cause) {
    db?.close();
    throw cause instanceof StoreError ? cause : openFailure(file, cause);
  }
  try {
    assertIntact(db, file);
    // Checked before anything writes to the file (switching to WAL rewrites its header).
    assertNotTooNew(db, file);
    if (options.readOnly) {
      assertCurrentForReading(db, file);
      db.pragma('query_only = ON');
      return db;
    }
    db.pragma('journal_mode = WAL');
    db.pragma('foreign_keys = ON');
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 5000');
    migrate(db, file, options.targetVersion ?? latestSchemaVersion);
  } catch (error) {
    db.close();
    throw error instanceof StoreError ? error : openFailure(file, error);
  }
  return db;
}

/** A zero-length file is what a full disk or a failed copy leaves: never treat it as a new, empty library. */
function refuseEmptyFile(file: string): void {
  let size: number;
  try {
    size = fs.statSync(file).size;
  } catch {
    return; // No file yet: a new database is created.
  }
  if (size === 0) {
    throw new StoreError(
      'DATABASE_DAMAGED',
      damagedMessage(file, 'the file is empty, 0 bytes: it was cut off, perhaps by a full disk or an interrupted copy, and is not treated as a new, empty library', { empty: true }),
    );
  }
}

/** An error while opening, as a StoreError that says what to do. */
function openFailure(file: string, cause: unknown): StoreError {
  const dataDir = path.dirname(file);
  const problem = storageProblemOf(cause, dataDir);
  const detail = (cause as Error)?.message ?? String(cause);
  if (problem === 'DISK_FULL') return new StoreError('DISK_FULL', diskFullMessage(dataDir), { cause });
  if (problem === 'READ_ONLY') return new StoreError('DATABASE_READ_ONLY', readOnlyMessage(dataDir), { cause });
  if (problem === 'DATABASE_CORRUPT' && (cause as { code?: string }).code !== 'SQLITE_NOTADB') {
    return new StoreError('DATABASE_DAMAGED', damagedMessage(file, detail), { cause });
  }
  return new StoreError(
    'DATABASE_OPEN_FAILED',
    `Could not open the database at ${file}: ${detail}. Check that the data folder is writable, or choose another with --data-dir.`,
    { cause },
  );
}

/**
 * Opens a database in a folder that cannot be written. SQLite opens a WAL database read-only
 * only when its -shm file is there; otherwise (a cleanly closed database) the file is read
 * into memory and opened from there, marked as a rollback-journal database in the copy.
 */
function openReadOnly(file: string, binding: { nativeBinding?: string }): Database.Database {
  if (!fs.existsSync(file)) {
    throw new StoreError(
      'DATABASE_READ_ONLY',
      `The data folder ${path.dirname(file)} is read-only and holds no database yet: choose a writable data folder (--data-dir).`,
    );
  }
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { ...binding, readonly: true, fileMustExist: true });
    db.prepare('SELECT count(*) FROM sqlite_master').get();
    return db;
  } catch {
    db?.close();
  }
  const copy = fs.readFileSync(file);
  // Bytes 18-19 are the file format's write and read versions: 2 means WAL, 1 rollback journal.
  if (copy.length >= 20 && copy[18] === 2 && copy[19] === 2) {
    copy[18] = 1;
    copy[19] = 1;
  }
  return new Database(copy, { ...binding, readonly: true });
}

/** PRAGMA quick_check: a damaged database is refused before anything is written to it. */
function assertIntact(db: Database.Database, file: string): void {
  let findings: string[];
  try {
    findings = (db.pragma('quick_check(5)') as { quick_check: string }[]).map((row) => row.quick_check);
  } catch (cause) {
    throw new StoreError('DATABASE_DAMAGED', damagedMessage(file, `SQLite's integrity check failed: ${(cause as Error).message}`), { cause });
  }
  if (findings.length === 1 && findings[0] === 'ok') return;
  throw new StoreError('DATABASE_DAMAGED', damagedMessage(file, `SQLite's integrity check found: ${findings.slice(0, 3).join('; ')}`));
}

/** A read-only database must already have this version's schema: upgrading it would write. */
function assertCurrentForReading(db: Database.Database, file: string): void {
  const current = schemaVersion(db);
  if (current < latestSchemaVersion) {
    throw new StoreError(
      'DATABASE_READ_ONLY',
      `The database ${file} has schema version ${current} and needs an upgrade to version ${latestSchemaVersion} before this version of JigClu Studio can read it, ` +
        `but its data folder ${path.dirname(file)} is read-only. Make the folder writable once (the upgrade keeps a backup), or use the app version that wrote it.`,
    );
  }
}

/** The schema version stored in the database file. */
export function schemaVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/** Applies the pending migrations up to `target`, each in its own transaction. */
export function migrate(db: Database.Database, file: string, target = latestSchemaVersion): void {
  assertNotTooNew(db, file);
  const current = schemaVersion(db);
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ) STRICT`);
  const pending = migrations.filter((migration) => migration.version > current && migration.version <= target);
  // A database that holds data is copied before its schema changes (a new one holds nothing).
  if (pending.length > 0 && current > 0 && file !== ':memory:' && db.name !== ':memory:') {
    try {
      backupBeforeMigration(db, file, current);
    } catch (cause) {
      const problem = storageProblemOf(cause, path.dirname(file));
      throw new StoreError(
        problem === 'DISK_FULL' ? 'DISK_FULL' : 'MIGRATION_FAILED',
        `The database ${file} needs an upgrade from schema version ${current}, and JigClu Studio backs it up first, but the backup failed: ${(cause as Error).message}. ` +
          `${problem === 'DISK_FULL' ? diskFullMessage(path.dirname(file)) : 'Check that the data folder is writable.'} The database was not changed.`,
        { cause },
      );
    }
  }
  for (const migration of pending) applyMigration(db, migration);
}

/** Refuses a database written by a newer app, before anything is written to it. */
function assertNotTooNew(db: Database.Database, file: string): void {
  const current = schemaVersion(db);
  if (current > latestSchemaVersion) {
    throw new StoreError(
      'DATABASE_TOO_NEW',
      `The database at ${file} has schema version ${current}, but this version of JigClu Studio ` +
        `only knows versions up to ${latestSchemaVersion}. It was written by a newer JigClu Studio: ` +
        'update the app, or use another data folder (--data-dir). The database was not changed.',
    );
  }
}

function applyMigration(db: Database.Database, migration: Migration): void {
  const run = db.transaction(() => {
    migration.up(db);
    db.prepare('INSERT INTO schema_migrations (version, name) VALUES (?, ?)').run(
      migration.version,
      migration.name,
    );
    db.pragma(`user_version = ${migration.version}`);
  });
  try {
    run.immediate();
  } catch (cause) {
    throw new StoreError(
      'MIGRATION_FAILED',
      `Database migration ${migration.version} (${migration.name}) failed and was rolled back: ` +
        `${(cause as Error).message}`,
      { cause },
    );
  }
}

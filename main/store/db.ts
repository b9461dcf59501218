import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { latestSchemaVersion, migrations, type Migration } from './migrations';

export type { Database } from 'better-sqlite3';

/** Why the store could not be opened, with a message that says what to do. */
export class StoreError extends Error {
  readonly code: 'DATABASE_TOO_NEW' | 'DATABASE_OPEN_FAILED' | 'MIGRATION_FAILED';

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
}

/**
 * Opens (creating if needed) the app database: WAL journal, foreign keys on, migrations run in
 * one transaction each. Refuses a database written by a newer app version.
 */
export function openDatabase(file: string, options: OpenOptions = {}): Database.Database {
  if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true });
  let db: Database.Database | undefined;
  try {
    db = new Database(file, options.nativeBinding ? { nativeBinding: options.nativeBinding } : {});
    // The first read happens here, so "file is not a database" becomes a clear StoreError.
    schemaVersion(db);
  } catch (cause) {
    db?.close();
    throw new StoreError(
      'DATABASE_OPEN_FAILED',
      `Could not open the database at ${file}: ${(cause as Error).message}. ` +
        'Check that the data folder is writable, or choose another with --data-dir.',
      { cause },
    );
  }
  try {
    // Checked before anything writes to the file (switching to WAL rewrites its header).
    assertNotTooNew(db, file);
    db.pragma('journal_mode = WAL');
    db.pragma('foreign_keys = ON');
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 5000');
    migrate(db, file, options.targetVersion ?? latestSchemaVersion);
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
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
  for (const migration of migrations) {
    if (migration.version <= current || migration.version > target) continue;
    applyMigration(db, migration);
  }
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

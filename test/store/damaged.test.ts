import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { listBackups } from '../../main/store/backups';
import { openDatabase, schemaVersion, StoreError } from '../../main/store/db';
import { latestSchemaVersion } from '../../main/store/migrations';
import { useTempDirs } from './helpers';

/**
 * A damaged database is refused before anything is written to it (issue 17): a zero-length
 * file, corrupt pages in the middle (PRAGMA quick_check), each with a message that says how to
 * recover; a backup copy is made before each migration and named in that message.
 */

const { tempDir, track } = useTempDirs();

function sha(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

function openError(file: string, options?: Parameters<typeof openDatabase>[1]): StoreError {
  try {
    track(openDatabase(file, options));
  } catch (error) {
    expect(error).toBeInstanceOf(StoreError);
    return error as StoreError;
  }
  throw new Error(`openDatabase accepted ${file}`);
}

/** A database of the current schema with enough rows to span many pages, closed cleanly. */
function filledDatabase(): string {
  const file = path.join(tempDir(), 'jigclu.sqlite');
  const db = track(openDatabase(file));
  const insert = db.prepare('INSERT INTO settings (key, value) VALUES (?, ?)');
  db.transaction(() => {
    for (let i = 0; i < 3000; i++) insert.run(`filler.${String(i).padStart(5, '0')}`, JSON.stringify('x'.repeat(300)));
  })();
  db.close();
  return file;
}

/** Overwrites the middle of one page with garbage, as a bad sector or a torn write would. */
function corruptMiddlePage(file: string): void {
  const pageSize = 4096;
  const pages = fs.statSync(file).size / pageSize;
  expect(pages).toBeGreaterThan(50);
  const handle = fs.openSync(file, 'r+');
  try {
    const page = Math.floor(pages / 2);
    fs.writeSync(handle, Buffer.alloc(64, 0xa5), 0, 64, page * pageSize);
  } finally {
    fs.closeSync(handle);
  }
}

describe('a damaged database', () => {
  it('refuses a zero-length file instead of making it an empty library, writing nothing', () => {
    const dir = tempDir();
    const file = path.join(dir, 'jigclu.sqlite');
    fs.writeFileSync(file, '');
    const error = openError(file);
    expect(error.code).toBe('DATABASE_DAMAGED');
    expect(error.message).toContain(file);
    expect(error.message).toMatch(/empty, 0 bytes/);
    expect(error.message).not.toMatch(/\.recover/);
    expect(error.message).toMatch(/To recover/);
    expect(fs.statSync(file).size).toBe(0);
    expect(fs.readdirSync(dir).sort()).toEqual(['jigclu.sqlite']);
  });

  it('refuses a database with corrupt pages in the middle (quick_check), leaving the file byte for byte as it was', () => {
    const file = filledDatabase();
    corruptMiddlePage(file);
    const before = sha(file);
    const error = openError(file);
    expect(error.code).toBe('DATABASE_DAMAGED');
    expect(error.message).toContain(file);
    expect(error.message).toMatch(/integrity check/);
    expect(error.message).toMatch(/did not open it and wrote nothing to it/);
    expect(error.message).toMatch(/\.recover/);
    expect(sha(file)).toBe(before);
    expect(fs.existsSync(`${file}-wal`) ? fs.statSync(`${file}-wal`).size : 0).toBe(0);
  });

  it('opens the same database before the damage (so the refusal above is the damage)', () => {
    const file = filledDatabase();
    const db = track(openDatabase(file));
    expect(db.prepare('SELECT count(*) FROM settings').pluck().get()).toBe(3000);
  });
});

describe('backups before migrations', () => {
  it('copies a database holding data before upgrading it, and the copy opens at the old version with the data', () => {
    const file = path.join(tempDir(), 'jigclu.sqlite');
    const old = track(openDatabase(file, { targetVersion: latestSchemaVersion - 1 }));
    old.prepare('INSERT INTO settings (key, value) VALUES (?, ?)').run('kept', '"yes"');
    old.close();
    expect(listBackups(file)).toEqual([]);
    track(openDatabase(file)).close();
    const backups = listBackups(file);
    expect(backups).toHaveLength(1);
    expect(path.basename(backups[0]!)).toMatch(new RegExp(`^jigclu-before-v${latestSchemaVersion}-`));
    const copy = track(new Database(backups[0]!, { readonly: true }));
    expect(schemaVersion(copy)).toBe(latestSchemaVersion - 1);
    expect(copy.prepare("SELECT value FROM settings WHERE key = 'kept'").pluck().get()).toBe('"yes"');
  });

  it('makes no backup of a new, empty database, and keeps only the newest three', () => {
    const file = path.join(tempDir(), 'jigclu.sqlite');
    track(openDatabase(file, { targetVersion: 1 })).close();
    expect(listBackups(file)).toEqual([]);
    for (let version = 2; version <= Math.min(6, latestSchemaVersion); version++) track(openDatabase(file, { targetVersion: version })).close();
    const backups = listBackups(file);
    expect(backups).toHaveLength(Math.min(3, Math.min(6, latestSchemaVersion) - 1));
    expect(path.basename(backups[0]!)).toMatch(new RegExp(`^jigclu-before-v${Math.min(6, latestSchemaVersion)}-`));
  });

  it('refuses to migrate when the backup cannot be written, leaving the database at its old version', () => {
    const dir = tempDir();
    const file = path.join(dir, 'jigclu.sqlite');
    track(openDatabase(file, { targetVersion: latestSchemaVersion - 1 })).close();
    // A file where the backup folder should be: the backup fails as it would on a broken disk.
    fs.writeFileSync(path.join(dir, 'backups'), 'not a folder');
    const error = openError(file);
    expect(error.code).toBe('MIGRATION_FAILED');
    expect(error.message).toMatch(/backup failed/);
    expect(error.message).toMatch(/was not changed/);
    const db = track(new Database(file, { readonly: true }));
    expect(schemaVersion(db)).toBe(latestSchemaVersion - 1);
  });

  it('names the newest backup in the message about a damaged database', () => {
    const file = path.join(tempDir(), 'jigclu.sqlite');
    track(openDatabase(file, { targetVersion: latestSchemaVersion - 1 })).close();
    const db = track(openDatabase(file));
    const insert = db.prepare('INSERT INTO settings (key, value) VALUES (?, ?)');
    db.transaction(() => {
      for (let i = 0; i < 3000; i++) insert.run(`filler.${i}`, JSON.stringify('y'.repeat(300)));
    })();
    db.close();
    corruptMiddlePage(file);
    const error = openError(file);
    expect(error.code).toBe('DATABASE_DAMAGED');
    expect(error.message).toContain(listBackups(file)[0]!);
  });
});

describe('a database opened read-only', () => {
  it('reads a cleanly closed WAL database, refuses every write, and leaves the file as it was', () => {
    const file = filledDatabase();
    const before = sha(file);
    const db = track(openDatabase(file, { readOnly: true }));
    expect(db.prepare('SELECT count(*) FROM settings').pluck().get()).toBe(3000);
    expect(() => db.prepare("INSERT INTO settings (key, value) VALUES ('x', '1')").run()).toThrow(/readonly|read-only/i);
    db.close();
    expect(sha(file)).toBe(before);
  });

  it('refuses a database that needs an upgrade, saying the folder is read-only', () => {
    const file = path.join(tempDir(), 'jigclu.sqlite');
    track(openDatabase(file, { targetVersion: latestSchemaVersion - 1 })).close();
    const error = openError(file, { readOnly: true });
    expect(error.code).toBe('DATABASE_READ_ONLY');
    expect(error.message).toMatch(/read-only/);
    expect(error.message).toMatch(/needs an upgrade/);
  });

  it('refuses a read-only folder with no database yet', () => {
    const error = openError(path.join(tempDir(), 'jigclu.sqlite'), { readOnly: true });
    expect(error.code).toBe('DATABASE_READ_ONLY');
    expect(error.message).toMatch(/holds no database yet/);
  });
});

import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openDatabase, StoreError } from '../../main/store/db';
import { latestSchemaVersion } from '../../main/store/migrations';
import { useTempDirs } from './helpers';

/** A database written by a newer JigClu Studio (schema version latest+1) must be refused, untouched. */

const { tempDir, track } = useTempDirs();

/** A database as a newer app would leave it: our schema, some data, and user_version latest+1. */
function newerAppDatabase(journalMode: 'wal' | 'delete'): string {
  const file = path.join(tempDir(), 'studio.db');
  track(openDatabase(file)).close();
  const db = track(new Database(file));
  db.prepare('INSERT INTO settings (key, value) VALUES (?, ?)').run('written.by', '"a newer app"');
  db.exec('CREATE TABLE from_the_future (id INTEGER PRIMARY KEY)');
  db.pragma(`user_version = ${latestSchemaVersion + 1}`);
  db.pragma(`journal_mode = ${journalMode}`);
  db.close();
  expect(fs.existsSync(`${file}-wal`)).toBe(false);
  return file;
}

function openError(file: string): StoreError {
  try {
    track(openDatabase(file));
  } catch (error) {
    expect(error).toBeInstanceOf(StoreError);
    return error as StoreError;
  }
  throw new Error('openDatabase accepted a database from a newer app');
}

function userVersionOf(file: string): number {
  const db = track(new Database(file, { readonly: true }));
  const version = db.pragma('user_version', { simple: true }) as number;
  db.close();
  return version;
}

describe('a database written by a newer app', () => {
  it('is refused with DATABASE_TOO_NEW and a message naming the file and saying to update the app', () => {
    const file = newerAppDatabase('wal');
    const error = openError(file);
    expect(error.code).toBe('DATABASE_TOO_NEW');
    expect(error.name).toBe('StoreError');
    expect(error.message).toContain(file);
    expect(error.message).toMatch(/update the app/i);
    expect(error.message).toContain(`schema version ${latestSchemaVersion + 1}`);
  });

  it('is left byte for byte unchanged', () => {
    const file = newerAppDatabase('wal');
    const before = fs.readFileSync(file);
    expect(userVersionOf(file)).toBe(latestSchemaVersion + 1);

    expect(openError(file).code).toBe('DATABASE_TOO_NEW');
    // A second attempt (the user relaunches) changes nothing either.
    expect(openError(file).code).toBe('DATABASE_TOO_NEW');

    expect(fs.readFileSync(file).equals(before)).toBe(true);
    expect(userVersionOf(file)).toBe(latestSchemaVersion + 1);
    const db = track(new Database(file, { readonly: true }));
    expect(db.prepare('SELECT count(*) FROM schema_migrations').pluck().get()).toBe(latestSchemaVersion);
    expect(db.prepare("SELECT value FROM settings WHERE key = 'written.by'").pluck().get()).toBe(
      '"a newer app"',
    );
  });

  it('is refused for any version above latest, not only latest+1', () => {
    const file = newerAppDatabase('wal');
    const db = track(new Database(file));
    db.pragma(`user_version = ${latestSchemaVersion + 7}`);
    db.close();
    const error = openError(file);
    expect(error.code).toBe('DATABASE_TOO_NEW');
    expect(userVersionOf(file)).toBe(latestSchemaVersion + 7);
  });

  // Switching to WAL rewrites the file header (bytes 18-19), so the version must be checked first.
  it('is left unchanged when it uses a rollback journal rather than WAL', () => {
    const file = newerAppDatabase('delete');
    const before = fs.readFileSync(file);
    expect(openError(file).code).toBe('DATABASE_TOO_NEW');
    expect(fs.readFileSync(file).equals(before)).toBe(true);
  });
});

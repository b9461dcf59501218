import path from 'node:path';
import type Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openDatabase, schemaVersion } from '../../main/store/db';
import { migrations } from '../../main/store/migrations';
import { migration0001 } from '../../main/store/migrations/0001-settings';
import { isoTimestamp, migrationLog, useTempDirs } from './helpers';

/**
 * Migration 0001: the settings table. The generic checks (upgrade from N-1, rollback, log) live
 * in migrations.test.ts; this file checks what is particular to this migration. Migration 000N
 * gets its own migration-000N.test.ts alongside (migrations.test.ts fails without it).
 */

const VERSION = 1;
const { tempDir, track } = useTempDirs();

function openAtThisVersion(): Database.Database {
  return track(openDatabase(path.join(tempDir(), 'studio.db'), { targetVersion: VERSION }));
}

function insert(db: Database.Database, key: unknown, value: unknown): void {
  db.prepare('INSERT INTO settings (key, value) VALUES (?, ?)').run(key, value);
}

describe('migration 0001 (settings)', () => {
  it('is migration number 1 in the list', () => {
    expect(migration0001.version).toBe(VERSION);
    expect(migrations[VERSION - 1]).toBe(migration0001);
  });

  it('creates the settings table on an empty database', () => {
    const db = openAtThisVersion();
    expect(schemaVersion(db)).toBe(VERSION);
    expect(
      db
        .prepare<[], { name: string; type: string; notnull: number; pk: number }>(
          'SELECT name, type, "notnull", pk FROM pragma_table_info(\'settings\') ORDER BY cid',
        )
        .all(),
    ).toEqual([
      { name: 'key', type: 'TEXT', notnull: 1, pk: 1 },
      { name: 'value', type: 'TEXT', notnull: 1, pk: 0 },
      { name: 'updated_at', type: 'TEXT', notnull: 1, pk: 0 },
    ]);
    expect(db.prepare("SELECT strict FROM pragma_table_list WHERE name = 'settings'").get()).toEqual({
      strict: 1,
    });
    expect(migrationLog(db)).toMatchObject([{ version: VERSION, name: 'settings' }]);
    expect(migrationLog(db)[0]?.applied_at).toMatch(isoTimestamp);
  });

  it('accepts valid JSON values of every kind', () => {
    const db = openAtThisVersion();
    const values = ['{"a":[1,2,{"b":null}]}', '[]', '"text"', '42', '-1.5e3', 'true', 'null'];
    values.forEach((value, index) => insert(db, `k${index}`, value));
    expect(db.prepare('SELECT value FROM settings ORDER BY key').pluck().all()).toEqual(values);
  });

  it('refuses invalid JSON through the json_valid CHECK', () => {
    const db = openAtThisVersion();
    for (const bad of ['{not json', '', "{'single':'quotes'}", '[1,2', 'undefined']) {
      expect(() => insert(db, 'bad', bad), JSON.stringify(bad)).toThrow(
        expect.objectContaining({ code: 'SQLITE_CONSTRAINT_CHECK' }),
      );
    }
    expect(db.prepare('SELECT count(*) FROM settings').pluck().get()).toBe(0);
  });

  it('refuses NULL values, NULL keys, non-text values and duplicate keys', () => {
    const db = openAtThisVersion();
    expect(() => insert(db, 'k', null)).toThrow(
      expect.objectContaining({ code: 'SQLITE_CONSTRAINT_NOTNULL' }),
    );
    expect(() => insert(db, null, '1')).toThrow(
      expect.objectContaining({ code: 'SQLITE_CONSTRAINT_NOTNULL' }),
    );
    expect(() => insert(db, 'k', Buffer.from('{}'))).toThrow(
      expect.objectContaining({ code: 'SQLITE_CONSTRAINT_DATATYPE' }),
    );
    insert(db, 'k', '1');
    expect(() => insert(db, 'k', '2')).toThrow(
      expect.objectContaining({ code: 'SQLITE_CONSTRAINT_PRIMARYKEY' }),
    );
    expect(db.prepare('SELECT key, value FROM settings').all()).toEqual([{ key: 'k', value: '1' }]);
  });

  it('fills updated_at with the current UTC time when a row is inserted without it', () => {
    const db = openAtThisVersion();
    const before = Date.now();
    insert(db, 'theme', '"dark"');
    const after = Date.now();
    const updatedAt = db
      .prepare("SELECT updated_at FROM settings WHERE key = 'theme'")
      .pluck()
      .get() as string;
    expect(updatedAt).toMatch(isoTimestamp);
    const written = Date.parse(updatedAt);
    // SQLite's clock and Date.now() agree to the millisecond; allow a little slack either side.
    expect(written).toBeGreaterThanOrEqual(before - 1000);
    expect(written).toBeLessThanOrEqual(after + 1000);
  });
});

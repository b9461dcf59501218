import path from 'node:path';
import type Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openDatabase, schemaVersion } from '../../main/store/db';
import { migrations } from '../../main/store/migrations';
import { migration0006 } from '../../main/store/migrations/0006-class-colours';
import { migrationLog, useTempDirs } from './helpers';

/**
 * Migration 0006: a colour per label class (NULL = the automatic palette). The generic checks
 * live in migrations.test.ts; this file checks what is particular to it.
 */

const VERSION = 6;
const { tempDir, track } = useTempDirs();

function open(targetVersion: number, file = path.join(tempDir(), 'studio.db')): Database.Database {
  return track(openDatabase(file, { targetVersion }));
}

describe('migration 0006 (class colours)', () => {
  it('is migration number 6 and logs itself', () => {
    expect(migration0006.version).toBe(VERSION);
    expect(migrations[VERSION - 1]).toBe(migration0006);
    const db = open(VERSION);
    expect(schemaVersion(db)).toBe(VERSION);
    expect(migrationLog(db).map((row) => row.name).at(-1)).toBe('class colours');
  });

  it('gives existing classes no colour (the automatic palette) and keeps their labels', () => {
    const file = path.join(tempDir(), 'old.db');
    const old = open(VERSION - 1, file);
    old.prepare("INSERT INTO classes (name) VALUES ('cat'), ('dog')").run();
    old.close();
    const db = open(VERSION, file);
    expect(db.prepare('SELECT name, color FROM classes ORDER BY name').all()).toEqual([
      { name: 'cat', color: null },
      { name: 'dog', color: null },
    ]);
  });

  it('stores a lower-case #rrggbb colour and refuses anything else', () => {
    const db = open(VERSION);
    db.prepare("INSERT INTO classes (name, color) VALUES ('cat', '#1a2b3c')").run();
    expect(db.prepare("SELECT color FROM classes WHERE name = 'cat'").pluck().get()).toBe('#1a2b3c');
    for (const bad of ['red', '#fff', '#1A2B3C', '#1a2b3c4d', '']) {
      expect(() => db.prepare("INSERT INTO classes (name, color) VALUES ('bad', ?)").run(bad), bad).toThrow(
        expect.objectContaining({ code: 'SQLITE_CONSTRAINT_CHECK' }),
      );
    }
  });
});

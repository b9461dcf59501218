import path from 'node:path';
import type Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openDatabase, schemaVersion } from '../../main/store/db';
import { migrations } from '../../main/store/migrations';
import { migration0009 } from '../../main/store/migrations/0009-class-keys';
import { migrationLog, useTempDirs } from './helpers';

/**
 * Migration 0009: a stored number key (1-9) per class. The generic checks live in
 * migrations.test.ts; this file checks what is particular to it.
 */

const VERSION = 9;
const { tempDir, track } = useTempDirs();

function open(targetVersion: number, file = path.join(tempDir(), 'studio.db')): Database.Database {
  return track(openDatabase(file, { targetVersion }));
}

function keys(db: Database.Database): Record<string, number | null> {
  const rows = db.prepare('SELECT name, hotkey FROM classes ORDER BY id').all() as { name: string; hotkey: number | null }[];
  return Object.fromEntries(rows.map((row) => [row.name, row.hotkey]));
}

describe('migration 0009 (class keys)', () => {
  it('is migration number 9 and logs itself', () => {
    expect(migration0009.version).toBe(VERSION);
    expect(migrations[VERSION - 1]).toBe(migration0009);
    const db = open(VERSION);
    expect(schemaVersion(db)).toBe(VERSION);
    expect(migrationLog(db).map((row) => row.name).at(-1)).toBe('class keys');
  });

  it('gives existing classes keys 1-9 in name order (the keys they had), none past the ninth', () => {
    const file = path.join(tempDir(), 'old.db');
    const old = open(VERSION - 1, file);
    // Created out of name order: the keys follow the names, as the Label screen numbered them.
    const names = ['kiwi', 'apple', 'juniper', 'banana', 'fig', 'cherry', 'grape', 'date', 'elder', 'hazel', 'Zebra'];
    const insert = old.prepare('INSERT INTO classes (name) VALUES (?)');
    for (const name of names) insert.run(name);
    old.close();
    const db = open(VERSION, file);
    // Binary order, as ORDER BY name sorted them: 'Zebra' (upper case) first.
    expect(keys(db)).toEqual({ kiwi: null, apple: 2, juniper: null, banana: 3, fig: 7, cherry: 4, grape: 8, date: 5, elder: 6, hazel: 9, Zebra: 1 });
  });

  it('gives a new class the smallest free key, keeps the others, and refuses a key twice or out of range', () => {
    const db = open(VERSION);
    const insert = db.prepare('INSERT INTO classes (name) VALUES (?)');
    for (const name of ['cat', 'dog', 'bird']) insert.run(name);
    expect(keys(db)).toEqual({ cat: 1, dog: 2, bird: 3 });
    // Deleting dog frees 2; the next class takes it, the others keep theirs.
    db.prepare("DELETE FROM classes WHERE name = 'dog'").run();
    insert.run('ant');
    expect(keys(db)).toEqual({ cat: 1, bird: 3, ant: 2 });
    // A class given a key keeps it; one cleared by hand stays without.
    db.prepare("INSERT INTO classes (name, hotkey) VALUES ('eel', 9)").run();
    db.prepare("UPDATE classes SET hotkey = NULL WHERE name = 'cat'").run();
    insert.run('fox');
    expect(keys(db)).toEqual({ cat: null, bird: 3, ant: 2, eel: 9, fox: 1 });
    for (const name of ['g1', 'g2', 'g3', 'g4', 'g5']) insert.run(name);
    expect(keys(db)).toMatchObject({ g1: 4, g2: 5, g3: 6, g4: 7, g5: 8 });
    // All nine taken: the tenth class has no key (the picker reaches it).
    insert.run('h10');
    expect(keys(db).h10).toBeNull();
    expect(() => db.prepare("UPDATE classes SET hotkey = 3 WHERE name = 'h10'").run()).toThrow(
      expect.objectContaining({ code: 'SQLITE_CONSTRAINT_UNIQUE' }),
    );
    for (const bad of [0, 10]) {
      expect(() => db.prepare("UPDATE classes SET hotkey = ? WHERE name = 'cat'").run(bad), String(bad)).toThrow(
        expect.objectContaining({ code: 'SQLITE_CONSTRAINT_CHECK' }),
      );
    }
  });
});

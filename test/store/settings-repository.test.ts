import path from 'node:path';
import type Database from 'better-sqlite3';
import { beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../main/store/db';
import { SettingsRepository } from '../../main/store/settings-repository';
import { isoTimestamp, useTempDirs } from './helpers';

const { tempDir, track } = useTempDirs();

let file: string;
let db: Database.Database;
let repo: SettingsRepository;

beforeEach(() => {
  file = path.join(tempDir(), 'studio.db');
  db = track(openDatabase(file));
  repo = new SettingsRepository(db);
});

function storedRows(): { key: string; value: string }[] {
  return db.prepare<[], { key: string; value: string }>('SELECT key, value FROM settings ORDER BY key').all();
}

const sample = {
  'ui.theme': 'dark',
  'ui.scale': 1.25,
  'train.epochs': 200,
  'train.seed': -7,
  'train.augment': true,
  'train.resume': false,
  'data.lastFolder': null,
  'data.folders': ['C:\\Users\\ana\\Pictures', '/home/ana/photos'],
  'model.head': { layers: [{ units: 128, activation: 'relu' }], dropout: 0.5, name: 'ß → 图像 😀' },
  'empty.object': {},
  'empty.string': '',
} satisfies Record<string, unknown>;

describe('SettingsRepository', () => {
  it('returns undefined and {} for an empty store', () => {
    expect(repo.get('ui.theme')).toBeUndefined();
    expect(repo.all()).toEqual({});
  });

  it('round-trips values of every JSON kind through get and all', () => {
    repo.setMany(sample);
    for (const [key, value] of Object.entries(sample)) expect(repo.get(key), key).toEqual(value);
    expect(repo.all()).toEqual(sample);
    // Stored as JSON text, one row per key.
    expect(storedRows()).toHaveLength(Object.keys(sample).length);
    expect(JSON.parse(storedRows().find((row) => row.key === 'model.head')?.value ?? 'null')).toEqual(
      sample['model.head'],
    );
  });

  it('keeps the values after the database is closed and reopened', () => {
    repo.setMany(sample);
    db.close();
    const reopened = new SettingsRepository(track(openDatabase(file)));
    expect(reopened.all()).toEqual(sample);
  });

  it('tells a stored null apart from a missing key', () => {
    repo.setMany({ present: null });
    expect(repo.get('present')).toBeNull();
    expect(repo.get('absent')).toBeUndefined();
    expect(repo.all()).toHaveProperty('present', null);
  });

  it('overwrites existing keys, refreshing updated_at, and leaves other keys alone', () => {
    repo.setMany({ a: 1, b: 'keep' });
    db.prepare("UPDATE settings SET updated_at = '2000-01-01T00:00:00.000Z'").run();
    repo.setMany({ a: { now: 'an object' } });
    expect(repo.all()).toEqual({ a: { now: 'an object' }, b: 'keep' });
    const stamps = Object.fromEntries(
      db
        .prepare<[], { key: string; updated_at: string }>('SELECT key, updated_at FROM settings')
        .all()
        .map((r) => [r.key, r.updated_at]),
    );
    expect(stamps['a']).toMatch(isoTimestamp);
    expect(stamps['a']).not.toBe('2000-01-01T00:00:00.000Z');
    expect(stamps['b']).toBe('2000-01-01T00:00:00.000Z');
  });

  it('skips undefined values: they are neither written nor overwrite what is stored', () => {
    repo.setMany({ a: 1, b: 'two' });
    repo.setMany({ a: undefined, b: 'three', c: undefined });
    expect(repo.all()).toEqual({ a: 1, b: 'three' });
    expect(storedRows().map((row) => row.key)).toEqual(['a', 'b']);
    expect(repo.get('c')).toBeUndefined();
  });

  it('writes an all-undefined batch as nothing', () => {
    repo.setMany({ x: undefined });
    repo.setMany({});
    expect(storedRows()).toEqual([]);
  });

  describe('setMany is atomic', () => {
    const unstorable: [string, unknown][] = [
      ['a BigInt (JSON.stringify throws)', 10n],
      [
        'a circular object (JSON.stringify throws)',
        (() => {
          const loop: Record<string, unknown> = {};
          loop['self'] = loop;
          return loop;
        })(),
      ],
      ['a function (JSON.stringify gives undefined)', () => 1],
    ];

    it.each(unstorable)('writes none of a batch that holds %s', (_what, bad) => {
      repo.setMany({ existing: 'before', other: 1 });
      const rowsBefore = db.prepare('SELECT key, value, updated_at FROM settings ORDER BY key').all();

      // Keys before the bad one have already been upserted when it fails; they must be undone.
      expect(() => repo.setMany({ existing: 'after', fresh: [1, 2, 3], bad, later: true })).toThrow();

      expect(db.prepare('SELECT key, value, updated_at FROM settings ORDER BY key').all()).toEqual(
        rowsBefore,
      );
      expect(repo.all()).toEqual({ existing: 'before', other: 1 });
      expect(repo.get('fresh')).toBeUndefined();
      expect(repo.get('later')).toBeUndefined();
      expect(db.inTransaction).toBe(false);

      // The repository still works afterwards.
      repo.setMany({ fresh: 'ok' });
      expect(repo.get('fresh')).toBe('ok');
    });

    it('rolls back a batch whose first value fails before anything is written', () => {
      expect(() => repo.setMany({ bad: 1n, good: 'x' })).toThrow(TypeError);
      expect(storedRows()).toEqual([]);
    });
  });
});

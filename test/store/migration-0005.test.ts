import path from 'node:path';
import type Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openDatabase, schemaVersion } from '../../main/store/db';
import { migrations } from '../../main/store/migrations';
import { migration0005 } from '../../main/store/migrations/0005-embeddings';
import { migrationLog, useTempDirs } from './helpers';

/**
 * Migration 0005: embedding sets, vectors, clusterings and projections. The generic checks
 * live in migrations.test.ts; this file checks what is particular to it.
 */

const VERSION = 5;
const { tempDir, track } = useTempDirs();

function openAtThisVersion(): Database.Database {
  return track(openDatabase(path.join(tempDir(), 'studio.db'), { targetVersion: VERSION }));
}

function seed(db: Database.Database): { run: number; image: number; set: number } {
  const run = Number(db.prepare("INSERT INTO runs (name, config, engine, image_count, files_hash, run_dir) VALUES ('r', '{}', 'cpu', 1, 'aa', '/runs/1')").run().lastInsertRowid);
  const folder = Number(db.prepare("INSERT INTO folders (path, name, min_side, max_pixels) VALUES ('/pics', 'pics', 8, 1000000)").run().lastInsertRowid);
  const image = Number(
    db
      .prepare("INSERT INTO images (folder_id, rel_path, size, mtime_ms, width, height, format, content_hash) VALUES (?, 'a.jpg', 10, 1, 8, 8, 'jpeg', 'ab')")
      .run(folder).lastInsertRowid,
  );
  const set = Number(db.prepare("INSERT INTO embedding_sets (kind, run_id, step, dim, size) VALUES ('checkpoint', ?, 3, 2, 64)").run(run).lastInsertRowid);
  return { run, image, set };
}

function count(db: Database.Database, table: string): number {
  return db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;
}

describe('migration 0005 (embeddings)', () => {
  it('is migration number 5, logs itself and creates STRICT tables', () => {
    expect(migration0005.version).toBe(VERSION);
    expect(migrations[VERSION - 1]).toBe(migration0005);
    const db = openAtThisVersion();
    expect(schemaVersion(db)).toBe(VERSION);
    expect(migrationLog(db).map((row) => row.name).at(-1)).toBe('embeddings');
    for (const table of ['embedding_sets', 'embeddings', 'clusterings', 'cluster_members', 'projections']) {
      expect(db.prepare('SELECT strict FROM pragma_table_list WHERE name = ?').get(table), table).toEqual({ strict: 1 });
    }
  });

  it('keeps one set per backbone and one vector per image and set', () => {
    const db = openAtThisVersion();
    const { run, image, set } = seed(db);
    expect(() => db.prepare("INSERT INTO embedding_sets (kind, run_id, step, dim, size) VALUES ('checkpoint', ?, 3, 2, 64)").run(run)).toThrow(
      expect.objectContaining({ code: 'SQLITE_CONSTRAINT_UNIQUE' }),
    );
    const vector = db.prepare("INSERT INTO embeddings (set_id, image_id, content_hash, vector) VALUES (?, ?, 'ab', x'00000000')");
    vector.run(set, image);
    expect(() => vector.run(set, image)).toThrow(expect.objectContaining({ code: 'SQLITE_CONSTRAINT_PRIMARYKEY' }));
    expect(() => db.prepare("INSERT INTO embedding_sets (kind, run_id, step, dim, size) VALUES ('imagenet', ?, 3, 2, 64)").run(run)).toThrow(
      expect.objectContaining({ code: 'SQLITE_CONSTRAINT_CHECK' }),
    );
  });

  it('forgets vectors, clusterings and maps with their run or image, and nothing else', () => {
    const db = openAtThisVersion();
    const { run, image, set } = seed(db);
    db.prepare("INSERT INTO embeddings (set_id, image_id, content_hash, vector) VALUES (?, ?, 'ab', x'00000000')").run(set, image);
    const clustering = Number(
      db.prepare("INSERT INTO clusterings (set_id, k, metric, seed, folder_key, images, inertia, iterations) VALUES (?, 2, 'cosine', 0, '', 1, 0, 1)").run(set).lastInsertRowid,
    );
    db.prepare('INSERT INTO cluster_members (clustering_id, image_id, cluster, distance) VALUES (?, ?, 0, 0.1)').run(clustering, image);
    db.prepare("INSERT INTO projections (set_id, method, folder_key, image_ids, xy) VALUES (?, 'pca', '', x'01000000', x'0000000000000000')").run(set);
    db.prepare('DELETE FROM images WHERE id = ?').run(image);
    expect([count(db, 'embeddings'), count(db, 'cluster_members'), count(db, 'clusterings')]).toEqual([0, 0, 1]);
    db.prepare('DELETE FROM runs WHERE id = ?').run(run);
    expect([count(db, 'embedding_sets'), count(db, 'clusterings'), count(db, 'projections'), count(db, 'folders')]).toEqual([0, 0, 0, 1]);
  });
});

import path from 'node:path';
import type Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openDatabase, schemaVersion } from '../../main/store/db';
import { migrations } from '../../main/store/migrations';
import { migration0007 } from '../../main/store/migrations/0007-classifiers';
import { migrationLog, useTempDirs } from './helpers';

/**
 * Migration 0007: classifiers trained from a few labels and their predictions per image. The
 * generic checks live in migrations.test.ts; this file checks what is particular to it.
 */

const VERSION = 7;
const { tempDir, track } = useTempDirs();

function open(targetVersion: number, file = path.join(tempDir(), 'studio.db')): Database.Database {
  return track(openDatabase(file, { targetVersion }));
}

function seed(db: Database.Database): { runId: number; imageId: number; classifierId: number } {
  const runId = Number(
    db
      .prepare("INSERT INTO runs (name, config, engine, image_count, files_hash, run_dir, status) VALUES ('Run 1', '{}', 'cpu', 1, 'ab', '/runs/1', 'finished')")
      .run().lastInsertRowid,
  );
  const folderId = Number(db.prepare("INSERT INTO folders (path, name, min_side, max_pixels) VALUES ('/photos', 'photos', 8, 1000000)").run().lastInsertRowid);
  const imageId = Number(
    db
      .prepare("INSERT INTO images (folder_id, rel_path, size, mtime_ms, width, height, format, content_hash) VALUES (?, 'a.jpg', 1, 1, 8, 8, 'jpeg', 'cd')")
      .run(folderId).lastInsertRowid,
  );
  const classifierId = Number(
    db
      .prepare(
        `INSERT INTO classifiers (run_id, step, source_kind, mode, classes, val_accuracy, best_epoch, history, confusion, per_class, train_count, validation_count, head)
         VALUES (?, 0, 'random', 'fine-tune', '[]', NULL, 1, '[]', '[]', '[]', 4, 0, x'00000000')`,
      )
      .run(runId).lastInsertRowid,
  );
  db.prepare('INSERT INTO predictions (classifier_id, image_id, class_id, confidence) VALUES (?, ?, 1, 0.5)').run(classifierId, imageId);
  return { runId, imageId, classifierId };
}

describe('migration 0007 (classifiers)', () => {
  it('is migration number 7 and logs itself', () => {
    expect(migration0007.version).toBe(VERSION);
    expect(migrations[VERSION - 1]).toBe(migration0007);
    const db = open(VERSION);
    expect(schemaVersion(db)).toBe(VERSION);
    expect(migrationLog(db).map((row) => row.name).at(-1)).toBe('classifiers');
  });

  it("stores a classifier with no validation accuracy, and a prediction's split defaults to 'none'", () => {
    const db = open(VERSION);
    const { classifierId } = seed(db);
    expect(db.prepare('SELECT val_accuracy FROM classifiers WHERE id = ?').pluck().get(classifierId)).toBeNull();
    expect(db.prepare('SELECT split FROM predictions WHERE classifier_id = ?').pluck().get(classifierId)).toBe('none');
  });

  it('refuses unknown modes, source kinds and splits', () => {
    const db = open(VERSION);
    const { classifierId, imageId } = seed(db);
    expect(() => db.prepare("UPDATE classifiers SET mode = 'knn' WHERE id = ?").run(classifierId)).toThrow(expect.objectContaining({ code: 'SQLITE_CONSTRAINT_CHECK' }));
    expect(() => db.prepare("UPDATE classifiers SET source_kind = 'imagenet' WHERE id = ?").run(classifierId)).toThrow(expect.objectContaining({ code: 'SQLITE_CONSTRAINT_CHECK' }));
    expect(() => db.prepare("UPDATE predictions SET split = 'test' WHERE image_id = ?").run(imageId)).toThrow(expect.objectContaining({ code: 'SQLITE_CONSTRAINT_CHECK' }));
  });

  it('deletes predictions with their image or classifier, and classifiers with their run', () => {
    const db = open(VERSION);
    const first = seed(db);
    db.prepare('DELETE FROM images WHERE id = ?').run(first.imageId);
    expect(db.prepare('SELECT count(*) FROM predictions').pluck().get()).toBe(0);
    expect(db.prepare('SELECT count(*) FROM classifiers').pluck().get()).toBe(1);
    db.prepare('DELETE FROM runs WHERE id = ?').run(first.runId);
    expect(db.prepare('SELECT count(*) FROM classifiers').pluck().get()).toBe(0);
  });
});

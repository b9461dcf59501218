import path from 'node:path';
import type Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openDatabase, schemaVersion } from '../../main/store/db';
import { migrations } from '../../main/store/migrations';
import { migration0008 } from '../../main/store/migrations/0008-classifier-rounds';
import { migrationLog, useTempDirs } from './helpers';

/**
 * Migration 0008: classifiers get their fine-tune round, label count and saved model folder.
 * The generic checks live in migrations.test.ts; this file checks what is particular to it.
 */

const VERSION = 8;
const { tempDir, track } = useTempDirs();

function open(targetVersion: number, file = path.join(tempDir(), 'studio.db')): Database.Database {
  return track(openDatabase(file, { targetVersion }));
}

function seedRun(db: Database.Database): number {
  return Number(
    db
      .prepare("INSERT INTO runs (name, config, engine, image_count, files_hash, run_dir, status) VALUES ('Run 1', '{}', 'cpu', 1, 'ab', '/runs/1', 'finished')")
      .run().lastInsertRowid,
  );
}

function addClassifier(db: Database.Database, runId: number, spec: { step: number; kind?: string; mode: string; classes?: string; train?: number; validation?: number }): number {
  return Number(
    db
      .prepare(
        `INSERT INTO classifiers (run_id, step, source_kind, mode, classes, val_accuracy, best_epoch, history, confusion, per_class, train_count, validation_count, head)
         VALUES (?, ?, ?, ?, ?, NULL, 1, '[]', '[]', '[]', ?, ?, x'00000000')`,
      )
      .run(runId, spec.step, spec.kind ?? 'checkpoint', spec.mode, spec.classes ?? '[1,2]', spec.train ?? 4, spec.validation ?? 2).lastInsertRowid,
  );
}

describe('migration 0008 (classifier rounds)', () => {
  it('is migration number 8 and logs itself', () => {
    expect(migration0008.version).toBe(VERSION);
    expect(migrations[VERSION - 1]).toBe(migration0008);
    const db = open(VERSION);
    expect(schemaVersion(db)).toBe(VERSION);
    expect(migrationLog(db).map((row) => row.name).at(-1)).toBe('classifier rounds');
  });

  it('groups existing classifiers into rounds in id order and counts their labels', () => {
    const file = path.join(tempDir(), 'studio.db');
    const old = open(VERSION - 1, file);
    const runId = seedRun(old);
    const ids = [
      // Round 1: a linear probe then a fine-tune on the same backbone and classes.
      addClassifier(old, runId, { step: 10, mode: 'linear-probe' }),
      addClassifier(old, runId, { step: 10, mode: 'fine-tune' }),
      // Round 2: the same backbone again (a linear probe again starts a new round).
      addClassifier(old, runId, { step: 10, mode: 'linear-probe', train: 7, validation: 3 }),
      // Round 3: another checkpoint.
      addClassifier(old, runId, { step: 20, mode: 'fine-tune' }),
      // Round 4: the same checkpoint with other classes.
      addClassifier(old, runId, { step: 20, mode: 'linear-probe', classes: '[1,2,3]' }),
    ];
    old.close();
    const db = open(VERSION, file);
    const rows = db.prepare('SELECT id, round, label_count, model_dir FROM classifiers ORDER BY id').all();
    expect(rows).toEqual([
      { id: ids[0], round: 1, label_count: 6, model_dir: null },
      { id: ids[1], round: 1, label_count: 6, model_dir: null },
      { id: ids[2], round: 2, label_count: 10, model_dir: null },
      { id: ids[3], round: 3, label_count: 6, model_dir: null },
      { id: ids[4], round: 4, label_count: 6, model_dir: null },
    ]);
  });

  it('defaults new rows to round 1 and refuses a round below 1', () => {
    const db = open(VERSION);
    const id = addClassifier(db, seedRun(db), { step: 0, kind: 'random', mode: 'fine-tune' });
    expect(db.prepare('SELECT round, label_count, model_dir FROM classifiers WHERE id = ?').get(id)).toEqual({ round: 1, label_count: 0, model_dir: null });
    expect(() => db.prepare('UPDATE classifiers SET round = 0 WHERE id = ?').run(id)).toThrow(expect.objectContaining({ code: 'SQLITE_CONSTRAINT_CHECK' }));
  });
});

import path from 'node:path';
import type Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openDatabase, schemaVersion } from '../../main/store/db';
import { migrations } from '../../main/store/migrations';
import { migration0004 } from '../../main/store/migrations/0004-run-monitoring';
import { RunsRepository } from '../../main/store/runs-repository';
import { migrationLog, useTempDirs } from './helpers';

/**
 * Migration 0004: run monitoring (batch accuracies per step, kNN per epoch), run lineage, and
 * the backbone chosen for clusters and fine-tuning. The generic checks live in
 * migrations.test.ts; this file checks what is particular to it.
 */

const VERSION = 4;
const { tempDir, track } = useTempDirs();

function openAtThisVersion(): Database.Database {
  return track(openDatabase(path.join(tempDir(), 'studio.db'), { targetVersion: VERSION }));
}

function addRun(db: Database.Database, runDir = '/data/runs/1'): number {
  return Number(
    db
      .prepare("INSERT INTO runs (name, config, engine, image_count, files_hash, run_dir) VALUES ('r', '{}', 'cpu', 24, 'aa', ?)")
      .run(runDir).lastInsertRowid,
  );
}

function count(db: Database.Database, table: string): number {
  return db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;
}

describe('migration 0004 (run monitoring)', () => {
  it('is migration number 4 in the list and logs itself', () => {
    expect(migration0004.version).toBe(VERSION);
    expect(migrations[VERSION - 1]).toBe(migration0004);
    const db = openAtThisVersion();
    expect(schemaVersion(db)).toBe(VERSION);
    expect(migrationLog(db).map((row) => row.name).at(-1)).toBe('run-monitoring');
    for (const table of ['run_epochs', 'backbone_choice']) {
      expect(db.prepare('SELECT strict FROM pragma_table_list WHERE name = ?').get(table), table).toEqual({ strict: 1 });
    }
  });

  it('keeps one kNN value per epoch, in [0, 1], and forgets them with their run', () => {
    const db = openAtThisVersion();
    const run = addRun(db);
    const insert = db.prepare('INSERT INTO run_epochs (run_id, epoch, step, knn_accuracy) VALUES (?, ?, ?, ?)');
    insert.run(run, 0, 0, 0.25);
    insert.run(run, 1, 3, 0.5);
    expect(() => insert.run(run, 1, 3, 0.5)).toThrow(expect.objectContaining({ code: 'SQLITE_CONSTRAINT_PRIMARYKEY' }));
    expect(() => insert.run(run, 2, 6, 1.5)).toThrow(expect.objectContaining({ code: 'SQLITE_CONSTRAINT_CHECK' }));
    db.prepare('DELETE FROM runs WHERE id = ?').run(run);
    expect(count(db, 'run_epochs')).toBe(0);
  });

  it('holds at most one backbone choice, gone with its run; a deleted parent leaves its child run in place', () => {
    const db = openAtThisVersion();
    const parent = addRun(db, '/data/runs/1');
    const child = addRun(db, '/data/runs/2');
    db.prepare('UPDATE runs SET parent_run_id = ?, parent_step = 6 WHERE id = ?').run(parent, child);
    const choose = db.prepare("INSERT INTO backbone_choice (only, run_id, step, file) VALUES (?, ?, 3, 'x')");
    choose.run(1, parent);
    expect(() => choose.run(2, child)).toThrow(expect.objectContaining({ code: 'SQLITE_CONSTRAINT_CHECK' }));
    db.prepare('DELETE FROM runs WHERE id = ?').run(parent);
    expect(count(db, 'backbone_choice')).toBe(0);
    expect(db.prepare('SELECT parent_run_id, parent_step FROM runs WHERE id = ?').get(child)).toEqual({ parent_run_id: null, parent_step: 6 });
  });

  it('stores batch accuracies per step, averaged like the losses when curves are downsampled', () => {
    const db = openAtThisVersion();
    const run = addRun(db);
    const repo = new RunsRepository(db);
    repo.addMetrics(
      run,
      [1, 2, 3, 4].map((step) => ({
        step,
        epoch: 0,
        total: step,
        cluster: step,
        location: 0,
        lr: 0.1,
        imagesPerSecond: null,
        locationAccuracy: step / 4,
        clusterAccuracy: step / 8,
      })),
    );
    expect(repo.metrics(run, 10).map((m) => m.locationAccuracy)).toEqual([0.25, 0.5, 0.75, 1]);
    expect(repo.metrics(run, 2).map((m) => [m.step, m.locationAccuracy, m.clusterAccuracy])).toEqual([
      [2, 0.375, 0.1875],
      [4, 0.875, 0.4375],
    ]);
  });
});

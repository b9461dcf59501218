import path from 'node:path';
import type Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openDatabase, schemaVersion } from '../../main/store/db';
import { migrations } from '../../main/store/migrations';
import { migration0003 } from '../../main/store/migrations/0003-runs';
import { migrationLog, useTempDirs } from './helpers';

/**
 * Migration 0003: pretraining run history (runs, run_metrics, checkpoints). The generic checks
 * live in migrations.test.ts; this file checks what is particular to it.
 */

const VERSION = 3;
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

describe('migration 0003 (runs)', () => {
  it('is migration number 3 in the list', () => {
    expect(migration0003.version).toBe(VERSION);
    expect(migrations[VERSION - 1]).toBe(migration0003);
  });

  it('creates three STRICT tables and logs itself', () => {
    const db = openAtThisVersion();
    expect(schemaVersion(db)).toBe(VERSION);
    for (const table of ['runs', 'run_metrics', 'checkpoints']) {
      expect(db.prepare('SELECT strict FROM pragma_table_list WHERE name = ?').get(table), table).toEqual({ strict: 1 });
    }
    expect(migrationLog(db).map((row) => [row.version, row.name])).toEqual([
      [1, 'settings'],
      [2, 'library'],
      [3, 'runs'],
    ]);
  });

  it('fills defaults: a new run is running, has an empty note and a start time', () => {
    const db = openAtThisVersion();
    const run = addRun(db);
    const row = db.prepare('SELECT status, note, ended_at, started_at FROM runs WHERE id = ?').get(run) as Record<string, unknown>;
    expect(row).toMatchObject({ status: 'running', note: '', ended_at: null });
    expect(String(row.started_at)).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('never lets two runs share a folder, nor a run log a step twice', () => {
    const db = openAtThisVersion();
    const run = addRun(db, '/data/runs/1');
    expect(() => addRun(db, '/data/runs/1')).toThrow(expect.objectContaining({ code: 'SQLITE_CONSTRAINT_UNIQUE' }));
    const metric = db.prepare('INSERT INTO run_metrics (run_id, step, epoch, total, cluster, location, lr) VALUES (?, 1, 0, 1, 1, 1, 0.1)');
    metric.run(run);
    expect(() => metric.run(run)).toThrow(expect.objectContaining({ code: 'SQLITE_CONSTRAINT_PRIMARYKEY' }));
  });

  it('never reuses the id of a deleted run (AUTOINCREMENT), so events and folders of old runs cannot be mistaken', () => {
    const db = openAtThisVersion();
    const first = addRun(db, '/data/runs/1');
    db.prepare('DELETE FROM runs WHERE id = ?').run(first);
    expect(addRun(db, '/data/runs/2')).toBe(first + 1);
  });

  it('refuses values outside the allowed sets', () => {
    const db = openAtThisVersion();
    const run = addRun(db);
    const check = expect.objectContaining({ code: 'SQLITE_CONSTRAINT_CHECK' });
    expect(() => db.prepare("UPDATE runs SET status = 'queued' WHERE id = ?").run(run)).toThrow(check);
    expect(() => db.prepare("UPDATE runs SET config = '{oops' WHERE id = ?").run(run)).toThrow(check);
    expect(() => db.prepare("INSERT INTO checkpoints (run_id, step, epoch, kind, file) VALUES (?, 1, 0, 'daily', 'x')").run(run)).toThrow(check);
    expect(() => db.prepare("INSERT INTO checkpoints (run_id, step, epoch, kind, file) VALUES (?, 1, 0, 'step', 'x')").run(run + 100)).toThrow(
      expect.objectContaining({ code: 'SQLITE_CONSTRAINT_FOREIGNKEY' }),
    );
  });

  it("forgets a run's metrics and checkpoints with it, and nothing else", () => {
    const db = openAtThisVersion();
    const doomed = addRun(db, '/data/runs/1');
    const kept = addRun(db, '/data/runs/2');
    for (const run of [doomed, kept]) {
      db.prepare('INSERT INTO run_metrics (run_id, step, epoch, total, cluster, location, lr) VALUES (?, 1, 0, 1, 1, 1, 0.1)').run(run);
      db.prepare("INSERT INTO checkpoints (run_id, step, epoch, kind, file) VALUES (?, 1, 0, 'step', 'x')").run(run);
    }
    db.prepare('DELETE FROM runs WHERE id = ?').run(doomed);
    expect([count(db, 'runs'), count(db, 'run_metrics'), count(db, 'checkpoints')]).toEqual([1, 1, 1]);
  });
});

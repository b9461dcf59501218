import type { Migration } from './types';

/**
 * Pretraining run history: one row per run (config, engine, dataset snapshot, status, final
 * numbers), the metrics it reported step by step, and the checkpoints it wrote. Each run has
 * its own folder (run_dir is unique), so two runs never share a checkpoint folder.
 */
export const migration0003: Migration = {
  version: 3,
  name: 'runs',
  up(db) {
    db.exec(`
      CREATE TABLE runs (
        id                  INTEGER PRIMARY KEY AUTOINCREMENT,
        name                TEXT NOT NULL,
        note                TEXT NOT NULL DEFAULT '',
        config              TEXT NOT NULL CHECK (json_valid(config)),
        engine              TEXT NOT NULL,
        image_count         INTEGER NOT NULL CHECK (image_count >= 0),
        files_hash          TEXT NOT NULL,
        run_dir             TEXT NOT NULL UNIQUE,
        status              TEXT NOT NULL DEFAULT 'running'
                            CHECK (status IN ('running', 'paused', 'finished', 'cancelled', 'crashed', 'interrupted')),
        error               TEXT,
        started_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        ended_at            TEXT,
        final_total_loss    REAL,
        final_cluster_loss  REAL,
        final_location_loss REAL,
        knn_accuracy        REAL
      ) STRICT;
      CREATE INDEX runs_status ON runs (status);

      CREATE TABLE run_metrics (
        run_id            INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        step              INTEGER NOT NULL CHECK (step >= 0),
        epoch             INTEGER NOT NULL CHECK (epoch >= 0),
        total             REAL NOT NULL,
        cluster           REAL NOT NULL,
        location          REAL NOT NULL,
        lr                REAL NOT NULL,
        images_per_second REAL,
        at                TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        PRIMARY KEY (run_id, step)
      ) STRICT;

      CREATE TABLE checkpoints (
        id         INTEGER PRIMARY KEY,
        run_id     INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        step       INTEGER NOT NULL CHECK (step >= 0),
        epoch      INTEGER NOT NULL CHECK (epoch >= 0),
        kind       TEXT NOT NULL CHECK (kind IN ('step', 'epoch', 'final', 'stop')),
        file       TEXT NOT NULL,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        UNIQUE (run_id, file)
      ) STRICT;
      CREATE INDEX checkpoints_run ON checkpoints (run_id, step);
    `);
  },
};

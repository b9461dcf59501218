import type { Migration } from './types';

/**
 * Run monitoring and lineage: batch-level accuracies per step (location head, nearest-patch
 * same source), the kNN monitor before training (epoch 0) and after each epoch, a run's parent (when it continues from an
 * older checkpoint of another run), its total steps and kNN monitor subset, and the checkpoint
 * chosen as the backbone for clusters and fine-tuning.
 */
export const migration0004: Migration = {
  version: 4,
  name: 'run-monitoring',
  up(db) {
    db.exec(`
      ALTER TABLE run_metrics ADD COLUMN location_accuracy REAL;
      ALTER TABLE run_metrics ADD COLUMN cluster_accuracy REAL;

      ALTER TABLE runs ADD COLUMN parent_run_id INTEGER REFERENCES runs (id) ON DELETE SET NULL;
      ALTER TABLE runs ADD COLUMN parent_step INTEGER;
      ALTER TABLE runs ADD COLUMN total_steps INTEGER;
      ALTER TABLE runs ADD COLUMN monitor TEXT CHECK (monitor IS NULL OR json_valid(monitor));

      CREATE TABLE run_epochs (
        run_id       INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        epoch        INTEGER NOT NULL CHECK (epoch >= 0),
        step         INTEGER NOT NULL CHECK (step >= 0),
        knn_accuracy REAL NOT NULL CHECK (knn_accuracy BETWEEN 0 AND 1),
        at           TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        PRIMARY KEY (run_id, epoch)
      ) STRICT;

      CREATE TABLE backbone_choice (
        only       INTEGER PRIMARY KEY CHECK (only = 1),
        run_id     INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        step       INTEGER NOT NULL CHECK (step >= 0),
        file       TEXT NOT NULL,
        chosen_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
      ) STRICT;
    `);
  },
};

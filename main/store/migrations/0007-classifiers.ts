import type { Migration } from './types';

/**
 * Classifiers trained from a few labels (a linear probe or a fine-tune of a backbone) and their
 * predictions for every image of their scope: the predicted class, its confidence, and whether
 * the image was a training or validation image of the classifier, with the class of its label
 * when it was trained (for the cells of the confusion matrix).
 * At most one classifier is `chosen` (its predictions are the ones shown): the better one of the
 * latest round by validation accuracy, or the one the user picked.
 */
export const migration0007: Migration = {
  version: 7,
  name: 'classifiers',
  up(db) {
    db.exec(`
      CREATE TABLE classifiers (
        id               INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id           INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        step             INTEGER NOT NULL CHECK (step >= 0),
        source_kind      TEXT NOT NULL CHECK (source_kind IN ('checkpoint', 'random')),
        mode             TEXT NOT NULL CHECK (mode IN ('linear-probe', 'fine-tune')),
        classes          TEXT NOT NULL CHECK (json_valid(classes)),
        val_accuracy     REAL,
        best_epoch       INTEGER NOT NULL,
        history          TEXT NOT NULL CHECK (json_valid(history)),
        confusion        TEXT NOT NULL CHECK (json_valid(confusion)),
        per_class        TEXT NOT NULL CHECK (json_valid(per_class)),
        train_count      INTEGER NOT NULL CHECK (train_count >= 0),
        validation_count INTEGER NOT NULL CHECK (validation_count >= 0),
        head             BLOB NOT NULL,
        chosen           INTEGER NOT NULL DEFAULT 0 CHECK (chosen IN (0, 1)),
        created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
      ) STRICT;

      CREATE TABLE predictions (
        classifier_id INTEGER NOT NULL REFERENCES classifiers (id) ON DELETE CASCADE,
        image_id      INTEGER NOT NULL REFERENCES images (id) ON DELETE CASCADE,
        class_id      INTEGER NOT NULL,
        confidence    REAL NOT NULL,
        split         TEXT NOT NULL DEFAULT 'none' CHECK (split IN ('train', 'validation', 'none')),
        label_class_id INTEGER,
        PRIMARY KEY (classifier_id, image_id)
      ) STRICT;
      CREATE INDEX predictions_confidence ON predictions (classifier_id, confidence);
    `);
  },
};

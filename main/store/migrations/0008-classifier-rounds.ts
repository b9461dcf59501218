import type { Migration } from './types';

/**
 * Fine-tune rounds and saved classifiers: every classifier gets the round (one finetuneStart)
 * that trained it, the number of labelled images it learned from, and the folder of its saved
 * TF.js model (null for classifiers trained before models were saved). With very few labels a
 * classifier's accuracy is a k-fold estimate: `folds` says how many (null for one held-out split),
 * and a prediction of a validation image keeps the class predicted for it out of fold
 * (`validation_class_id`; null = the prediction's own class, as before).
 *
 * Existing classifiers are grouped into rounds in id order: a classifier starts a new round
 * when its backbone or classes differ from the round's, or when the round already has one of
 * its mode (a round trained each mode at most once per backbone). Their label count is their
 * training plus validation images.
 */
export const migration0008: Migration = {
  version: 8,
  name: 'classifier rounds',
  up(db) {
    db.exec(`
      ALTER TABLE classifiers ADD COLUMN round INTEGER NOT NULL DEFAULT 1 CHECK (round >= 1);
      ALTER TABLE classifiers ADD COLUMN label_count INTEGER NOT NULL DEFAULT 0 CHECK (label_count >= 0);
      ALTER TABLE classifiers ADD COLUMN model_dir TEXT;
      ALTER TABLE classifiers ADD COLUMN folds INTEGER CHECK (folds IS NULL OR folds >= 2);
      ALTER TABLE predictions ADD COLUMN validation_class_id INTEGER;
      UPDATE classifiers SET label_count = train_count + validation_count;
    `);
    const rows = db.prepare('SELECT id, run_id, step, source_kind, mode, classes FROM classifiers ORDER BY id').all() as {
      id: number;
      run_id: number;
      step: number;
      source_kind: string;
      mode: string;
      classes: string;
    }[];
    const update = db.prepare('UPDATE classifiers SET round = ? WHERE id = ?');
    let round = 0;
    let key = '';
    let modes = new Set<string>();
    for (const row of rows) {
      const rowKey = JSON.stringify([row.run_id, row.step, row.source_kind, row.classes]);
      if (round === 0 || rowKey !== key || modes.has(row.mode)) {
        round += 1;
        key = rowKey;
        modes = new Set();
      }
      modes.add(row.mode);
      update.run(round, row.id);
    }
  },
};

import type { Database } from 'better-sqlite3';

/**
 * Classifiers trained from labels and their predictions (tables of migration 0007) for the
 * fine-tune service. A classifier and all its predictions are written in one transaction.
 */

export interface ClassifierRow {
  id: number;
  run_id: number;
  run_name: string;
  step: number;
  source_kind: 'checkpoint' | 'random';
  mode: 'linear-probe' | 'fine-tune';
  classes: string;
  val_accuracy: number | null;
  best_epoch: number;
  history: string;
  confusion: string;
  per_class: string;
  train_count: number;
  validation_count: number;
  chosen: number;
  created_at: string;
}

export interface NewClassifier {
  runId: number;
  step: number;
  sourceKind: 'checkpoint' | 'random';
  mode: 'linear-probe' | 'fine-tune';
  classes: { id: number; name: string }[];
  valAccuracy: number | null;
  bestEpoch: number;
  history: unknown;
  confusion: number[][];
  perClass: (number | null)[];
  trainCount: number;
  validationCount: number;
  /** Weights then bias. */
  head: Float32Array;
}

export interface NewPrediction {
  imageId: number;
  classId: number;
  confidence: number;
  split: 'train' | 'validation' | 'none';
  /** The class of the image's label when the classifier was trained, if any. */
  labelClassId: number | null;
}

export interface PredictionRow {
  image_id: number;
  class_id: number;
  confidence: number;
  version: string;
  label: string | null;
}

export interface PredictionFilter {
  classId?: number | undefined;
  minConfidence?: number | undefined;
  maxConfidence?: number | undefined;
  unlabelledOnly: boolean;
}

const columns = `k.id, k.run_id, r.name AS run_name, k.step, k.source_kind, k.mode, k.classes, k.val_accuracy, k.best_epoch, k.history,
                 k.confusion, k.per_class, k.train_count, k.validation_count, k.chosen, k.created_at`;

export class ClassifiersRepository {
  constructor(readonly db: Database) {}

  /** Stores a classifier with its predictions; returns its id. */
  add(classifier: NewClassifier, predictions: NewPrediction[]): number {
    return this.db.transaction(() => {
      const id = Number(
        this.db
          .prepare(
            `INSERT INTO classifiers (run_id, step, source_kind, mode, classes, val_accuracy, best_epoch, history, confusion, per_class, train_count, validation_count, head)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(
            classifier.runId,
            classifier.step,
            classifier.sourceKind,
            classifier.mode,
            JSON.stringify(classifier.classes),
            classifier.valAccuracy,
            classifier.bestEpoch,
            JSON.stringify(classifier.history),
            JSON.stringify(classifier.confusion),
            JSON.stringify(classifier.perClass),
            classifier.trainCount,
            classifier.validationCount,
            Buffer.from(classifier.head.buffer, classifier.head.byteOffset, classifier.head.byteLength),
          ).lastInsertRowid,
      );
      const insert = this.db.prepare('INSERT INTO predictions (classifier_id, image_id, class_id, confidence, split, label_class_id) VALUES (?, ?, ?, ?, ?, ?)');
      for (const p of predictions) insert.run(id, p.imageId, p.classId, p.confidence, p.split, p.labelClassId);
      return id;
    })();
  }

  /** Every classifier, newest first. */
  list(): ClassifierRow[] {
    return this.db.prepare(`SELECT ${columns} FROM classifiers k JOIN runs r ON r.id = k.run_id ORDER BY k.id DESC`).all() as ClassifierRow[];
  }

  get(id: number): ClassifierRow | undefined {
    return this.db.prepare(`SELECT ${columns} FROM classifiers k JOIN runs r ON r.id = k.run_id WHERE k.id = ?`).get(id) as ClassifierRow | undefined;
  }

  chosenId(): number | undefined {
    return this.db.prepare('SELECT id FROM classifiers WHERE chosen = 1').pluck().get() as number | undefined;
  }

  /** Makes one classifier the chosen one (and no other). */
  choose(id: number): void {
    this.db.transaction(() => {
      this.db.prepare('UPDATE classifiers SET chosen = 0 WHERE chosen = 1 AND id <> ?').run(id);
      this.db.prepare('UPDATE classifiers SET chosen = 1 WHERE id = ?').run(id);
    })();
  }

  /** One page of a classifier's predictions with the total that match the filter. */
  page(classifierId: number, filter: PredictionFilter, order: 'asc' | 'desc', offset: number, limit: number): { rows: PredictionRow[]; total: number } {
    const where = ['p.classifier_id = ?'];
    const params: unknown[] = [classifierId];
    if (filter.classId !== undefined) {
      where.push('p.class_id = ?');
      params.push(filter.classId);
    }
    if (filter.minConfidence !== undefined) {
      where.push('p.confidence >= ?');
      params.push(filter.minConfidence);
    }
    if (filter.maxConfidence !== undefined) {
      where.push('p.confidence <= ?');
      params.push(filter.maxConfidence);
    }
    if (filter.unlabelledOnly) where.push('NOT EXISTS (SELECT 1 FROM labels l WHERE l.image_id = p.image_id)');
    const clause = where.join(' AND ');
    const total = this.db.prepare(`SELECT count(*) FROM predictions p WHERE ${clause}`).pluck().get(...params) as number;
    const direction = order === 'asc' ? 'ASC' : 'DESC';
    const rows = this.db
      .prepare(
        `SELECT p.image_id, p.class_id, p.confidence, substr(i.content_hash, 1, 16) AS version,
                (SELECT c.name FROM labels l JOIN classes c ON c.id = l.class_id WHERE l.image_id = p.image_id ORDER BY l.source = 'hand' DESC LIMIT 1) AS label
         FROM predictions p JOIN images i ON i.id = p.image_id
         WHERE ${clause} ORDER BY p.confidence ${direction}, p.image_id LIMIT ? OFFSET ?`,
      )
      .all(...params, limit, offset) as PredictionRow[];
    return { rows, total };
  }

  /** Validation images predicted as `predictedClassId` whose label was `trueClassId` when it was trained. */
  confusionImages(classifierId: number, trueClassId: number, predictedClassId: number): number[] {
    return this.db
      .prepare(
        `SELECT p.image_id FROM predictions p
         WHERE p.classifier_id = ? AND p.split = 'validation' AND p.class_id = ?
           AND p.label_class_id = ?
         ORDER BY p.image_id`,
      )
      .pluck()
      .all(classifierId, predictedClassId, trueClassId) as number[];
  }
}

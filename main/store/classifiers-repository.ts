import type { Database } from 'better-sqlite3';
import { joinFolderPath } from './library-repository';

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
  /** The fine-tune round (one finetuneStart) that trained it (migration 0008). */
  round: number;
  label_count: number;
  /** The folder of its saved TF.js model, if it was saved. */
  model_dir: string | null;
  folds: number | null;
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
  round: number;
  labelCount: number;
  modelDir: string | null;
  /** Folds of the k-fold estimate, or null for one held-out split. */
  folds: number | null;
}

export interface NewPrediction {
  imageId: number;
  classId: number;
  confidence: number;
  split: 'train' | 'validation' | 'none';
  /** The class of the image's label when the classifier was trained, if any. */
  labelClassId: number | null;
  /** For a validation image: the class predicted for it by a model that did not train on it, when that differs from classId's model (k-fold). */
  validationClassId?: number | null;
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
                 k.confusion, k.per_class, k.train_count, k.validation_count, k.chosen, k.created_at,
                 k.round, k.label_count, k.model_dir, k.folds`;

/** A prediction with what the review order and the exports need. */
export interface PredictionFact {
  image_id: number;
  class_id: number;
  confidence: number;
}

export class ClassifiersRepository {
  constructor(readonly db: Database) {}

  /** Stores a classifier with its predictions; returns its id. */
  add(classifier: NewClassifier, predictions: NewPrediction[]): number {
    return this.db.transaction(() => {
      const id = Number(
        this.db
          .prepare(
            `INSERT INTO classifiers (run_id, step, source_kind, mode, classes, val_accuracy, best_epoch, history, confusion, per_class, train_count, validation_count, head,
                                      round, label_count, model_dir, folds)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
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
            classifier.round,
            classifier.labelCount,
            classifier.modelDir,
            classifier.folds,
          ).lastInsertRowid,
      );
      const insert = this.db.prepare(
        'INSERT INTO predictions (classifier_id, image_id, class_id, confidence, split, label_class_id, validation_class_id) VALUES (?, ?, ?, ?, ?, ?, ?)',
      );
      for (const p of predictions) insert.run(id, p.imageId, p.classId, p.confidence, p.split, p.labelClassId, p.validationClassId ?? null);
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

  /** The number the next fine-tune round gets: the latest round + 1 (1 at first). */
  nextRound(): number {
    return ((this.db.prepare('SELECT max(round) FROM classifiers').pluck().get() as number | null) ?? 0) + 1;
  }

  /** Every classifier in round then id order (oldest first), for the rounds view. */
  byRound(): ClassifierRow[] {
    return this.db.prepare(`SELECT ${columns} FROM classifiers k JOIN runs r ON r.id = k.run_id ORDER BY k.round, k.id`).all() as ClassifierRow[];
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

  private filterClause(classifierId: number, filter: PredictionFilter): { clause: string; params: unknown[] } {
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
    return { clause: where.join(' AND '), params };
  }

  /** One page of a classifier's predictions with the total that match the filter. */
  page(classifierId: number, filter: PredictionFilter, order: 'asc' | 'desc', offset: number, limit: number): { rows: PredictionRow[]; total: number } {
    const { clause, params } = this.filterClause(classifierId, filter);
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

  /** Every prediction that matches the filter, least confident first (ties by image id). */
  matching(classifierId: number, filter: PredictionFilter): PredictionFact[] {
    const { clause, params } = this.filterClause(classifierId, filter);
    return this.db
      .prepare(`SELECT p.image_id, p.class_id, p.confidence FROM predictions p WHERE ${clause} ORDER BY p.confidence ASC, p.image_id`)
      .all(...params) as PredictionFact[];
  }

  /** The page rows (thumbnail version, label) of some predictions of a classifier, in the order given. */
  rowsOf(classifierId: number, imageIds: number[]): PredictionRow[] {
    if (imageIds.length === 0) return [];
    const rows = this.db
      .prepare(
        `SELECT p.image_id, p.class_id, p.confidence, substr(i.content_hash, 1, 16) AS version,
                (SELECT c.name FROM labels l JOIN classes c ON c.id = l.class_id WHERE l.image_id = p.image_id ORDER BY l.source = 'hand' DESC LIMIT 1) AS label
         FROM predictions p JOIN images i ON i.id = p.image_id
         WHERE p.classifier_id = ? AND p.image_id IN (SELECT value FROM json_each(?))`,
      )
      .all(classifierId, JSON.stringify(imageIds)) as PredictionRow[];
    const byId = new Map(rows.map((row) => [row.image_id, row]));
    return imageIds.map((imageId) => byId.get(imageId)).filter((row): row is PredictionRow => row !== undefined);
  }

  /**
   * Per image, its cluster in the newest clustering of the embedding set of a backbone
   * (kind, run, step), or undefined when that backbone has no clustering.
   */
  newestClusters(source: { kind: 'checkpoint' | 'random'; runId: number; step: number }): Map<number, number> | undefined {
    const clusteringId = this.db
      .prepare(
        `SELECT c.id FROM clusterings c JOIN embedding_sets s ON s.id = c.set_id
         WHERE s.kind = ? AND s.run_id = ? AND s.step = ? ORDER BY c.id DESC LIMIT 1`,
      )
      .pluck()
      .get(source.kind, source.runId, source.kind === 'checkpoint' ? source.step : 0) as number | undefined;
    if (clusteringId === undefined) return undefined;
    const rows = this.db.prepare('SELECT image_id, cluster FROM cluster_members WHERE clustering_id = ?').all(clusteringId) as { image_id: number; cluster: number }[];
    return new Map(rows.map((row) => [row.image_id, row.cluster]));
  }

  /**
   * Every library image (id order) with its effective label (a hand label wins over a folder
   * label) and where that label came from, for the exports.
   */
  labelledImages(): { id: number; path: string; content_hash: string; class_id: number | null; label: string | null; source: 'hand' | 'folder' | null }[] {
    const rows = this.db
      .prepare(
        `SELECT i.id, f.path AS folder_path, i.rel_path, i.content_hash, l.class_id, c.name AS label, l.source
         FROM images i JOIN folders f ON f.id = i.folder_id
         LEFT JOIN labels l ON l.image_id = i.id AND l.source = (SELECT l2.source FROM labels l2 WHERE l2.image_id = i.id ORDER BY l2.source = 'hand' DESC LIMIT 1)
         LEFT JOIN classes c ON c.id = l.class_id
         ORDER BY i.id`,
      )
      .all() as { id: number; folder_path: string; rel_path: string; content_hash: string; class_id: number | null; label: string | null; source: 'hand' | 'folder' | null }[];
    return rows.map(({ folder_path: folderPath, rel_path: relPath, ...rest }) => ({ ...rest, path: joinFolderPath(folderPath, relPath) }));
  }

  /** The folders of the library (their paths as stored). */
  libraryFolders(): string[] {
    return this.db.prepare('SELECT path FROM folders ORDER BY id').pluck().all() as string[];
  }

  /** Every prediction of a classifier by image id. */
  predictionsOf(classifierId: number): Map<number, PredictionFact> {
    const rows = this.db.prepare('SELECT image_id, class_id, confidence FROM predictions WHERE classifier_id = ?').all(classifierId) as PredictionFact[];
    return new Map(rows.map((row) => [row.image_id, row]));
  }

  /** Validation images predicted as `predictedClassId` whose label was `trueClassId` when it was trained. */
  confusionImages(classifierId: number, trueClassId: number, predictedClassId: number): number[] {
    return this.db
      .prepare(
        `SELECT p.image_id FROM predictions p
         WHERE p.classifier_id = ? AND p.split = 'validation' AND COALESCE(p.validation_class_id, p.class_id) = ?
           AND p.label_class_id = ?
         ORDER BY p.image_id`,
      )
      .pluck()
      .all(classifierId, predictedClassId, trueClassId) as number[];
  }
}

import crypto from 'node:crypto';
import type { Database } from 'better-sqlite3';
import { parseStoredPretrainConfig, type PretrainConfig } from '../common/pretrain-config';
import { joinFolderPath } from './library-repository';
import type { BackboneChoice, CheckpointInfo, RunEpochMetric, RunInfo, RunLosses, RunMetric, RunStatus } from '../common/runs';

/** A row of `runs` as SQLite returns it. */
interface RunRow {
  id: number;
  name: string;
  note: string;
  config: string;
  engine: string;
  image_count: number;
  files_hash: string;
  run_dir: string;
  status: RunStatus;
  error: string | null;
  started_at: string;
  ended_at: string | null;
  final_total_loss: number | null;
  final_cluster_loss: number | null;
  final_location_loss: number | null;
  knn_accuracy: number | null;
  last_step: number | null;
  checkpoint_count: number;
  parent_run_id: number | null;
  parent_step: number | null;
  total_steps: number | null;
  monitor: string | null;
}

const runColumns = `r.*, (SELECT max(step) FROM run_metrics m WHERE m.run_id = r.id) AS last_step,
  (SELECT count(*) FROM checkpoints c WHERE c.run_id = r.id) AS checkpoint_count`;

function toRunInfo(row: RunRow): RunInfo {
  const finalLosses: RunLosses | null =
    row.final_total_loss === null ? null : { total: row.final_total_loss, cluster: row.final_cluster_loss ?? 0, location: row.final_location_loss ?? 0 };
  return {
    id: row.id,
    name: row.name,
    note: row.note,
    config: parseStoredPretrainConfig(JSON.parse(row.config)),
    engine: row.engine,
    imageCount: row.image_count,
    filesHash: row.files_hash,
    runDir: row.run_dir,
    status: row.status,
    error: row.error,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    finalLosses,
    knnAccuracy: row.knn_accuracy,
    lastStep: row.last_step ?? 0,
    checkpointCount: row.checkpoint_count,
    totalSteps: row.total_steps,
    parentRunId: row.parent_run_id,
    parentStep: row.parent_step,
    monitor: row.monitor === null ? null : (JSON.parse(row.monitor) as RunInfo['monitor']),
  };
}

/** The images a run trains on: absolute paths, in id order. */
export interface RunFile {
  id: number;
  folder_path: string;
  rel_path: string;
  content_hash: string;
  size: number;
  mtime_ms: number;
}

/** A library image with what a job manifest needs (size and dimensions after EXIF orientation). */
export interface TrainingImage extends RunFile {
  size: number;
  width: number;
  height: number;
}

/**
 * A run's file list as its folder keeps it (files.json: the folders, and each image's library
 * id, absolute path, size and modification time, in training order) and the hash of the list
 * stored with the run (folder, path and content hash of each image).
 */
export function runFileList(rows: RunFile[]): { folders: string[]; files: { id: number; path: string; size: number; mtimeMs: number }[]; filesHash: string } {
  const hash = crypto.createHash('sha256');
  for (const row of rows) hash.update(`${row.folder_path}\0${row.rel_path}\0${row.content_hash}\n`);
  return {
    folders: [...new Set(rows.map((row) => row.folder_path))].sort(),
    files: rows.map((row) => ({ id: row.id, path: joinFolderPath(row.folder_path, row.rel_path), size: row.size, mtimeMs: row.mtime_ms })),
    filesHash: hash.digest('hex'),
  };
}

/** Pretraining runs, their metrics and checkpoints (migration 0003). */
export class RunsRepository {
  constructor(readonly db: Database) {}

  /** Creates a run; its folder is named after its id by `folderFor`. */
  create(run: {
    name: string;
    config: PretrainConfig;
    engine: string;
    imageCount: number;
    filesHash: string;
    folderFor: (id: number) => string;
    parent?: { runId: number; step: number };
    monitor?: RunInfo['monitor'];
  }): RunInfo {
    return this.db
      .transaction(() => {
        const id = Number(
          this.db
            .prepare('INSERT INTO runs (name, config, engine, image_count, files_hash, run_dir, parent_run_id, parent_step, monitor) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
            .run(
              run.name,
              JSON.stringify(run.config),
              run.engine,
              run.imageCount,
              run.filesHash,
              `pending:${process.pid}:${Date.now()}:${Math.random()}`,
              run.parent?.runId ?? null,
              run.parent?.step ?? null,
              run.monitor ? JSON.stringify(run.monitor) : null,
            ).lastInsertRowid,
        );
        this.db.prepare('UPDATE runs SET run_dir = ? WHERE id = ?').run(run.folderFor(id), id);
        return this.get(id)!;
      })
      .immediate();
  }

  get(id: number): RunInfo | undefined {
    const row = this.db.prepare(`SELECT ${runColumns} FROM runs r WHERE r.id = ?`).get(id) as RunRow | undefined;
    return row ? toRunInfo(row) : undefined;
  }

  list(): RunInfo[] {
    return (this.db.prepare(`SELECT ${runColumns} FROM runs r ORDER BY r.id DESC`).all() as RunRow[]).map(toRunInfo);
  }

  nextRunNumber(): number {
    return (this.db.prepare("SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'runs'), 0) + 1").pluck().get() as number);
  }

  setStatus(id: number, status: RunStatus, error: string | null = null): void {
    const ended = ['finished', 'cancelled', 'crashed', 'interrupted'].includes(status);
    this.db
      .prepare(
        `UPDATE runs SET status = ?, error = coalesce(?, error),
           ended_at = CASE WHEN ? THEN strftime('%Y-%m-%dT%H:%M:%fZ', 'now') ELSE NULL END WHERE id = ?`,
      )
      .run(status, error, ended ? 1 : 0, id);
  }

  /** Sets the config (a continued run may train more epochs) and its total steps once known. */
  setPlan(id: number, plan: { config?: PretrainConfig; totalSteps?: number }): void {
    if (plan.config) this.db.prepare('UPDATE runs SET config = ? WHERE id = ?').run(JSON.stringify(plan.config), id);
    if (plan.totalSteps !== undefined) this.db.prepare('UPDATE runs SET total_steps = ? WHERE id = ?').run(plan.totalSteps, id);
  }

  /** A run continues in place from a checkpoint at `step`: metrics and kNN values after it are dropped (they are trained again). */
  rewindTo(id: number, step: number): void {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM run_metrics WHERE run_id = ? AND step > ?').run(id, step);
      this.db.prepare('DELETE FROM run_epochs WHERE run_id = ? AND step > ?').run(id, step);
      this.db.prepare("UPDATE runs SET status = 'running', error = NULL, ended_at = NULL WHERE id = ?").run(id);
    })();
  }

  addEpochMetric(id: number, metric: RunEpochMetric): void {
    this.db.transaction(() => {
      this.db.prepare('INSERT OR REPLACE INTO run_epochs (run_id, epoch, step, knn_accuracy) VALUES (?, ?, ?, ?)').run(id, metric.epoch, metric.step, metric.knnAccuracy);
      this.db.prepare('UPDATE runs SET knn_accuracy = ? WHERE id = ?').run(metric.knnAccuracy, id);
    })();
  }

  epochMetrics(id: number): RunEpochMetric[] {
    return this.db.prepare('SELECT epoch, step, knn_accuracy AS knnAccuracy FROM run_epochs WHERE run_id = ? ORDER BY epoch').all(id) as RunEpochMetric[];
  }

  chooseBackbone(choice: { runId: number; step: number; file: string }): void {
    this.db.prepare('INSERT OR REPLACE INTO backbone_choice (only, run_id, step, file) VALUES (1, ?, ?, ?)').run(choice.runId, choice.step, choice.file);
  }

  backbone(): BackboneChoice | null {
    const row = this.db
      .prepare('SELECT b.run_id AS runId, r.name AS runName, b.step, b.file, b.chosen_at AS chosenAt FROM backbone_choice b JOIN runs r ON r.id = b.run_id')
      .get() as BackboneChoice | undefined;
    return row ?? null;
  }

  setEngine(id: number, engine: string): void {
    this.db.prepare('UPDATE runs SET engine = ? WHERE id = ?').run(engine, id);
  }

  rename(id: number, name: string): void {
    this.db.prepare('UPDATE runs SET name = ? WHERE id = ?').run(name, id);
  }

  setNote(id: number, note: string): void {
    this.db.prepare('UPDATE runs SET note = ? WHERE id = ?').run(note, id);
  }

  /** Copies the losses of the last metric row into the run's final losses. */
  setFinalLosses(id: number): void {
    this.db
      .prepare(
        `UPDATE runs SET (final_total_loss, final_cluster_loss, final_location_loss) =
           (SELECT total, cluster, location FROM run_metrics WHERE run_id = ? ORDER BY step DESC LIMIT 1)
         WHERE id = ? AND EXISTS (SELECT 1 FROM run_metrics WHERE run_id = ?)`,
      )
      .run(id, id, id);
  }

  delete(id: number): void {
    this.db.prepare('DELETE FROM runs WHERE id = ?').run(id);
  }

  /** Runs the app left running or paused when it was killed: they end as interrupted. */
  markInterrupted(): number {
    return this.db
      .prepare(
        `UPDATE runs SET status = 'interrupted', ended_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'),
           error = coalesce(error, 'The app stopped while this run was training; resume it from its last checkpoint.')
         WHERE status IN ('running', 'paused')`,
      )
      .run().changes;
  }

  addMetric(id: number, metric: RunMetric): void {
    this.db
      .prepare(
        `INSERT OR REPLACE INTO run_metrics (run_id, step, epoch, total, cluster, location, lr, images_per_second, location_accuracy, cluster_accuracy)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(id, metric.step, metric.epoch, metric.total, metric.cluster, metric.location, metric.lr, metric.imagesPerSecond, metric.locationAccuracy, metric.clusterAccuracy);
  }

  /** Many steps' metrics in one transaction. */
  addMetrics(id: number, metrics: RunMetric[]): void {
    this.db.transaction(() => {
      for (const metric of metrics) this.addMetric(id, metric);
    })();
  }

  metricCount(id: number): number {
    return this.db.prepare('SELECT count(*) FROM run_metrics WHERE run_id = ?').pluck().get(id) as number;
  }

  /**
   * The metrics of a run in step order, at most `maxPoints` of them: consecutive rows are
   * averaged in equal buckets (each point carries the last step of its bucket).
   */
  metrics(id: number, maxPoints: number): RunMetric[] {
    const count = this.metricCount(id);
    const stride = Math.max(1, Math.ceil(count / maxPoints));
    return this.db
      .prepare(
        `SELECT max(step) AS step, max(epoch) AS epoch, avg(total) AS total, avg(cluster) AS cluster, avg(location) AS location,
                avg(lr) AS lr, avg(images_per_second) AS imagesPerSecond,
                avg(location_accuracy) AS locationAccuracy, avg(cluster_accuracy) AS clusterAccuracy
         FROM (SELECT *, row_number() OVER (ORDER BY step) - 1 AS rn FROM run_metrics WHERE run_id = ?)
         GROUP BY rn / CAST(? AS INTEGER) ORDER BY step`,
      )
      .all(id, stride) as RunMetric[];
  }

  addCheckpoint(id: number, checkpoint: Omit<CheckpointInfo, 'createdAt'>): void {
    this.db
      .prepare('INSERT OR IGNORE INTO checkpoints (run_id, step, epoch, kind, file) VALUES (?, ?, ?, ?, ?)')
      .run(id, checkpoint.step, checkpoint.epoch, checkpoint.kind, checkpoint.file);
  }

  removeCheckpoint(id: number, file: string): void {
    this.db.prepare('DELETE FROM checkpoints WHERE run_id = ? AND file = ?').run(id, file);
  }

  checkpoints(id: number): CheckpointInfo[] {
    return this.db
      .prepare('SELECT step, epoch, kind, file, created_at AS createdAt FROM checkpoints WHERE run_id = ? ORDER BY step, id')
      .all(id) as CheckpointInfo[];
  }

  /** The library images of some folders (all folders when `folderIds` is undefined), in id order. */
  files(folderIds?: number[]): RunFile[] {
    if (folderIds) {
      const placeholders = folderIds.map(() => '?').join(', ');
      return this.db
        .prepare(
          `SELECT i.id, f.path AS folder_path, i.rel_path, i.content_hash, i.size, i.mtime_ms FROM images i JOIN folders f ON f.id = i.folder_id
           WHERE i.folder_id IN (${placeholders}) ORDER BY i.id`,
        )
        .all(...folderIds) as RunFile[];
    }
    return this.db
      .prepare('SELECT i.id, f.path AS folder_path, i.rel_path, i.content_hash, i.size, i.mtime_ms FROM images i JOIN folders f ON f.id = i.folder_id ORDER BY i.id')
      .all() as RunFile[];
  }

  /** The library rows of these image ids (those still in the library), by id. */
  trainingImages(ids: number[]): Map<number, TrainingImage> {
    const out = new Map<number, TrainingImage>();
    const query = (count: number) =>
      this.db.prepare(
        `SELECT i.id, f.path AS folder_path, i.rel_path, i.content_hash, i.size, i.width, i.height
         FROM images i JOIN folders f ON f.id = i.folder_id WHERE i.id IN (${Array(count).fill('?').join(', ')})`,
      );
    for (let i = 0; i < ids.length; i += 5000) {
      const chunk = ids.slice(i, i + 5000);
      for (const row of query(chunk.length).all(...chunk) as TrainingImage[]) out.set(row.id, row);
    }
    return out;
  }

  /** Which of these folder ids are not registered. */
  unknownFolders(folderIds: number[]): number[] {
    const known = new Set(this.db.prepare('SELECT id FROM folders').pluck().all() as number[]);
    return folderIds.filter((id) => !known.has(id));
  }
}

import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openDatabase, schemaVersion, StoreError } from '../../main/store/db';
import { latestSchemaVersion, migrations } from '../../main/store/migrations';
import {
  dumpRows,
  ident,
  migrationLog,
  migrationTestFileName,
  schemaDiff,
  schemaSnapshot,
  useTempDirs,
  type SchemaDiff,
} from './helpers';

/**
 * Generic checks that run for every migration in the list. Adding migration N means adding:
 *  - its entry in `expectedAdditions` below (what it adds to the schema, in creation order),
 *  - a seeder in `seeders` for each table it creates (so later migrations are tested on data),
 *  - its own test file, test/store/migration-000N.test.ts.
 * Each of these is checked, so a migration that lacks one fails the suite.
 */

type Additions = Pick<SchemaDiff, 'tables' | 'columns' | 'indexes' | 'triggers' | 'views'>;

const expectedAdditions: Record<number, Additions> = {
  1: {
    tables: { settings: ['key', 'value', 'updated_at'] },
    columns: {},
    indexes: [],
    triggers: [],
    views: [],
  },
  2: {
    tables: {
      folders: [
        'id',
        'path',
        'name',
        'min_side',
        'max_pixels',
        'labels_from_folders',
        'scan_status',
        'last_scan_at',
        'last_scan',
        'added_at',
      ],
      images: [
        'id',
        'folder_id',
        'rel_path',
        'size',
        'mtime_ms',
        'width',
        'height',
        'format',
        'content_hash',
        'copies',
        'folder_class',
        'note',
        'thumb_state',
        'imported_at',
      ],
      rejected_files: ['id', 'folder_id', 'rel_path', 'size', 'mtime_ms', 'kind', 'reason', 'seen_at'],
      classes: ['id', 'name', 'created_at'],
      labels: ['image_id', 'class_id', 'source', 'created_at'],
    },
    columns: {},
    indexes: ['images_duplicates', 'images_folder', 'images_hash', 'images_thumb_pending', 'labels_class'],
    triggers: [],
    views: [],
  },
  3: {
    tables: {
      runs: [
        'id',
        'name',
        'note',
        'config',
        'engine',
        'image_count',
        'files_hash',
        'run_dir',
        'status',
        'error',
        'started_at',
        'ended_at',
        'final_total_loss',
        'final_cluster_loss',
        'final_location_loss',
        'knn_accuracy',
      ],
      run_metrics: ['run_id', 'step', 'epoch', 'total', 'cluster', 'location', 'lr', 'images_per_second', 'at'],
      checkpoints: ['id', 'run_id', 'step', 'epoch', 'kind', 'file', 'created_at'],
    },
    columns: {},
    indexes: ['checkpoints_run', 'runs_status'],
    triggers: [],
    views: [],
  },
  4: {
    tables: {
      run_epochs: ['run_id', 'epoch', 'step', 'knn_accuracy', 'at'],
      backbone_choice: ['only', 'run_id', 'step', 'file', 'chosen_at'],
    },
    columns: {
      run_metrics: ['location_accuracy', 'cluster_accuracy'],
      runs: ['parent_run_id', 'parent_step', 'total_steps', 'monitor'],
    },
    indexes: [],
    triggers: [],
    views: [],
  },
  5: {
    tables: {
      embedding_sets: ['id', 'kind', 'run_id', 'step', 'checkpoint_file', 'dim', 'size', 'created_at', 'updated_at'],
      embeddings: ['set_id', 'image_id', 'content_hash', 'vector'],
      clusterings: ['id', 'set_id', 'k', 'metric', 'seed', 'folder_key', 'images', 'inertia', 'iterations', 'scores', 'created_at'],
      cluster_members: ['clustering_id', 'image_id', 'cluster', 'distance', 'outlier'],
      projections: ['set_id', 'method', 'folder_key', 'image_ids', 'xy', 'created_at'],
    },
    columns: {},
    indexes: ['cluster_members_order', 'clusterings_set', 'embeddings_image'],
    triggers: [],
    views: [],
  },
  6: {
    tables: {},
    columns: { classes: ['color'] },
    indexes: [],
    triggers: [],
    views: [],
  },
  7: {
    tables: {
      classifiers: [
        'id',
        'run_id',
        'step',
        'source_kind',
        'mode',
        'classes',
        'val_accuracy',
        'best_epoch',
        'history',
        'confusion',
        'per_class',
        'train_count',
        'validation_count',
        'head',
        'chosen',
        'created_at',
      ],
      predictions: ['classifier_id', 'image_id', 'class_id', 'confidence', 'split', 'label_class_id'],
    },
    columns: {},
    indexes: ['predictions_confidence'],
    triggers: [],
    views: [],
  },
  8: {
    tables: {},
    columns: { classifiers: ['round', 'label_count', 'model_dir', 'folds'], predictions: ['validation_class_id'] },
    indexes: [],
    triggers: [],
    views: [],
  },
  9: {
    tables: {},
    columns: { classes: ['hotkey'] },
    indexes: ['classes_hotkey'],
    triggers: ['classes_hotkey_new'],
    views: [],
  },
};

/** The one seeded run (created on first use), for the seeders of tables that need a run. */
function seedRun(db: Database.Database): number {
  const runDir = '/seed/runs/1';
  db.prepare(
    `INSERT OR IGNORE INTO runs (name, config, engine, image_count, files_hash, run_dir, status, ended_at, final_total_loss)
     VALUES ('Run 1 ☃', ?, 'cpu', 24, ?, ?, 'finished', '2026-01-02T03:04:05.678Z', 9.25)`,
  ).run(JSON.stringify({ preset: 'cpu-small', batch: 8 }), 'ef'.repeat(32), runDir);
  return db.prepare('SELECT id FROM runs WHERE run_dir = ?').pluck().get(runDir) as number;
}

/** The one seeded embedding set (of the seeded run's checkpoint at step 3). */
function seedEmbeddingSet(db: Database.Database): number {
  db.prepare("INSERT OR IGNORE INTO embedding_sets (kind, run_id, step, checkpoint_file, dim, size) VALUES ('checkpoint', ?, 3, '/seed/runs/1/step-3.safetensors', 2, 64)").run(seedRun(db));
  return db.prepare("SELECT id FROM embedding_sets WHERE kind = 'checkpoint' AND step = 3").pluck().get() as number;
}

/** The one seeded clustering. */
function seedClustering(db: Database.Database): number {
  const existing = db.prepare('SELECT id FROM clusterings LIMIT 1').pluck().get() as number | undefined;
  if (existing !== undefined) return existing;
  return Number(
    db
      .prepare("INSERT INTO clusterings (set_id, k, metric, seed, folder_key, images, inertia, iterations, scores) VALUES (?, 3, 'cosine', 0, '', 1, 0.5, 7, ?)")
      .run(seedEmbeddingSet(db), JSON.stringify({ nmi: 0.5, ari: 0.25, purity: 0.75, labelled: 1 })).lastInsertRowid,
  );
}

/** The one seeded classifier (a linear probe on the seeded run's checkpoint at step 3). */
function seedClassifier(db: Database.Database): number {
  const existing = db.prepare('SELECT id FROM classifiers LIMIT 1').pluck().get() as number | undefined;
  if (existing !== undefined) return existing;
  return Number(
    db
      .prepare(
        `INSERT INTO classifiers (run_id, step, source_kind, mode, classes, val_accuracy, best_epoch, history, confusion, per_class, train_count, validation_count, head)
         VALUES (?, 3, 'checkpoint', 'linear-probe', ?, 0.75, 2, ?, ?, ?, 6, 2, ?)`,
      )
      .run(
        seedRun(db),
        JSON.stringify([{ id: 1, name: 'cats 猫' }, { id: 2, name: 'dogs' }]),
        JSON.stringify([{ epoch: 1, trainLoss: 0.5, valAccuracy: 0.75, valLoss: 0.25, lr: 0.01 }]),
        JSON.stringify([[1, 0], [1, 0]]),
        JSON.stringify([1, 0]),
        Buffer.from(new Float32Array([0.5, -0.5, 0.25, 0.125, 0, 1]).buffer),
      ).lastInsertRowid,
  );
}

/** A folder row for seeders that need one (each with its own path: paths are unique). */
function seedFolder(db: Database.Database, folderPath: string): number {
  return Number(
    db
      .prepare('INSERT INTO folders (path, name, min_side, max_pixels) VALUES (?, ?, 8, 178956970)')
      .run(folderPath, folderPath.split('/').at(-1)).lastInsertRowid,
  );
}

/**
 * The folder and image the folders and images seeders write, shared with seeders of tables that
 * sort before them (cluster_members, embeddings) so each table still ends up with one row.
 */
function sharedFolder(db: Database.Database): number {
  const existing = db.prepare("SELECT id FROM folders WHERE path = '/seed/photos'").pluck().get() as number | undefined;
  return existing ?? seedFolder(db, '/seed/photos');
}

function sharedImage(db: Database.Database): number {
  const folder = sharedFolder(db);
  const existing = db.prepare('SELECT id FROM images WHERE folder_id = ?').pluck().get(folder) as number | undefined;
  return existing ?? seedImage(db, folder);
}

/** An image row for seeders that need one. */
function seedImage(db: Database.Database, folderId: number): number {
  return Number(
    db
      .prepare(
        `INSERT INTO images (folder_id, rel_path, size, mtime_ms, width, height, format, content_hash, folder_class, note)
         VALUES (?, 'cats/café 猫.jpg', 1639, 1732530000123.5, 80, 80, 'jpeg', ?, 'cats', 'EXIF orientation 6 applied')`,
      )
      .run(folderId, 'ab'.repeat(32)).lastInsertRowid,
  );
}

/** Writes one row of plausible data into a table, for the upgrade-keeps-data checks. */
const seeders: Record<string, (db: Database.Database) => void> = {
  settings: (db) =>
    db
      .prepare('INSERT INTO settings (key, value) VALUES (?, ?)')
      .run('seed.theme', JSON.stringify({ mode: 'dark', scale: 1.25 })),
  folders: (db) => {
    const id = sharedFolder(db);
    db.prepare("UPDATE folders SET scan_status = 'finished', last_scan = ?, last_scan_at = '2026-01-02T03:04:05.678Z' WHERE id = ?").run(
      JSON.stringify({ seen: 3, imported: 2, rejected: 1 }),
      id,
    );
  },
  images: (db) => {
    sharedImage(db);
  },
  rejected_files: (db) =>
    db
      .prepare(
        "INSERT INTO rejected_files (folder_id, rel_path, size, mtime_ms, kind, reason) VALUES (?, 'truncated.jpg', 10048, 1732530000000, 'corrupt', 'corrupt or truncated image')",
      )
      .run(seedFolder(db, '/seed/for-rejected')),
  classes: (db) => db.prepare("INSERT INTO classes (name) VALUES ('seed-class')").run(),
  labels: (db) => {
    const image = seedImage(db, seedFolder(db, '/seed/for-labels'));
    const classId = db.prepare("INSERT INTO classes (name) VALUES ('seed-label-class')").run().lastInsertRowid;
    db.prepare("INSERT INTO labels (image_id, class_id, source) VALUES (?, ?, 'folder')").run(image, classId);
  },
  runs: (db) => {
    seedRun(db);
  },
  run_metrics: (db) =>
    db
      .prepare('INSERT INTO run_metrics (run_id, step, epoch, total, cluster, location, lr, images_per_second) VALUES (?, 3, 0, 9.5, 8.25, 1.25, 0.001, 12.5)')
      .run(seedRun(db)),
  run_epochs: (db) => db.prepare('INSERT INTO run_epochs (run_id, epoch, step, knn_accuracy) VALUES (?, 1, 3, 0.375)').run(seedRun(db)),
  backbone_choice: (db) =>
    db.prepare("INSERT INTO backbone_choice (only, run_id, step, file) VALUES (1, ?, 3, '/seed/runs/1/checkpoints/step-3.safetensors')").run(seedRun(db)),
  embedding_sets: (db) => {
    seedEmbeddingSet(db);
  },
  embeddings: (db) =>
    db
      .prepare('INSERT INTO embeddings (set_id, image_id, content_hash, vector) VALUES (?, ?, ?, ?)')
      .run(seedEmbeddingSet(db), sharedImage(db), 'ab'.repeat(32), Buffer.from(new Float32Array([0.6, 0.8]).buffer)),
  clusterings: (db) => {
    seedClustering(db);
  },
  cluster_members: (db) =>
    db
      .prepare('INSERT INTO cluster_members (clustering_id, image_id, cluster, distance) VALUES (?, ?, 1, 0.25)')
      .run(seedClustering(db), sharedImage(db)),
  projections: (db) =>
    db
      .prepare("INSERT INTO projections (set_id, method, folder_key, image_ids, xy) VALUES (?, 'pca', '', ?, ?)")
      .run(seedEmbeddingSet(db), Buffer.from(new Int32Array([1]).buffer), Buffer.from(new Float32Array([0.5, -0.5]).buffer)),
  classifiers: (db) => {
    seedClassifier(db);
  },
  predictions: (db) =>
    db
      .prepare("INSERT INTO predictions (classifier_id, image_id, class_id, confidence, split, label_class_id) VALUES (?, ?, 1, 0.875, 'validation', 2)")
      .run(seedClassifier(db), sharedImage(db)),
  checkpoints: (db) =>
    db
      .prepare("INSERT INTO checkpoints (run_id, step, epoch, kind, file) VALUES (?, 3, 0, 'epoch', '/seed/runs/for-checkpoints/checkpoints/step-3.ckpt')")
      .run(seedRun(db)),
};

const { tempDir, track } = useTempDirs();

function dbFile(): string {
  return path.join(tempDir(), 'nested', 'studio.db');
}

/** A raw handle that runs no migrations, to look at (or tamper with) a file as it is. */
function raw(file: string): Database.Database {
  return track(new Database(file));
}

/** Tables the app owns, i.e. everything but the migrations log. */
function userTables(db: Database.Database): string[] {
  return Object.keys(schemaSnapshot(db).tables).filter((table) => table !== 'schema_migrations');
}

function additionsOf(diff: SchemaDiff): Additions {
  const { tables, columns, indexes, triggers, views } = diff;
  return { tables, columns, indexes, triggers, views };
}

function expectedFor(version: number): Additions {
  const expected = expectedAdditions[version];
  if (!expected) throw new Error(`expectedAdditions has no entry for migration ${version}`);
  return expected;
}

/** A statement that creates, ahead of the migration, the last object the migration would add. */
function conflictingStatement(additions: Additions): string {
  const tables = Object.keys(additions.tables);
  const lastTable = tables.at(-1);
  if (lastTable) return `CREATE TABLE ${ident(lastTable)} (conflict_marker TEXT)`;
  const columnTables = Object.entries(additions.columns);
  const lastColumn = columnTables.at(-1);
  if (lastColumn) {
    const [table, columns] = lastColumn;
    return `ALTER TABLE ${ident(table)} ADD COLUMN ${ident(columns.at(-1) ?? '')} TEXT`;
  }
  const index = additions.indexes.at(-1);
  if (index) return `CREATE INDEX ${ident(index)} ON schema_migrations (name)`;
  const view = additions.views.at(-1) ?? additions.triggers.at(-1);
  if (view) return `CREATE VIEW ${ident(view)} AS SELECT 1`;
  throw new Error('the migration adds nothing');
}

describe('the migrations list', () => {
  it('is numbered 1..n in order with no gaps, and latestSchemaVersion is n', () => {
    expect(migrations.length).toBeGreaterThan(0);
    expect(migrations.map((migration) => migration.version)).toEqual(migrations.map((_, index) => index + 1));
    expect(latestSchemaVersion).toBe(migrations.length);
  });

  it('gives every migration a non-empty, unique name', () => {
    const names = migrations.map((migration) => migration.name);
    for (const name of names) expect(name.trim()).not.toBe('');
    expect(new Set(names).size).toBe(names.length);
  });

  it.each(
    migrations.map((migration) => [migration.version, migrationTestFileName(migration.version)] as const),
  )('migration %i has its own test file %s', (_version, fileName) => {
    expect(fs.existsSync(path.join(import.meta.dirname, fileName)), `test/store/${fileName} is missing`).toBe(
      true,
    );
  });

  it('has an expected-schema entry for every migration, and a seeder for every table', () => {
    expect(
      Object.keys(expectedAdditions)
        .map(Number)
        .sort((a, b) => a - b),
    ).toEqual(migrations.map((migration) => migration.version));
    const db = track(openDatabase(dbFile()));
    const tables = userTables(db);
    expect(tables.filter((table) => !seeders[table])).toEqual([]);
    // Every seeder really writes a row into its table at the latest schema.
    for (const table of tables) {
      seeders[table]?.(db);
      const { count } = db.prepare(`SELECT count(*) AS count FROM ${ident(table)}`).get() as {
        count: number;
      };
      expect(count, `seeder for ${table}`).toBe(1);
    }
  });
});

describe.each(migrations.map((migration) => [migration.version, migration] as const))(
  'migration %i',
  (version, migration) => {
    it('on an empty database, targetVersion N gives user_version N and adds what it should', () => {
      const before = schemaSnapshot(track(openDatabase(dbFile(), { targetVersion: version - 1 })));

      const file = dbFile();
      const db = track(openDatabase(file, { targetVersion: version }));
      expect(schemaVersion(db)).toBe(version);
      expect(db.pragma('user_version', { simple: true })).toBe(version);

      const after = schemaSnapshot(db);
      const diff = schemaDiff(before, after);
      expect(diff.removed, 'migrations only ever add').toEqual([]);
      expect(additionsOf(diff)).toEqual(expectedFor(version));
      for (const [table, columns] of Object.entries(expectedFor(version).tables)) {
        expect(
          db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = ?").get(table),
        ).toEqual({ n: 1 });
        expect(db.prepare('SELECT name FROM pragma_table_info(?)').all(table)).toEqual(
          columns.map((name) => ({ name })),
        );
      }

      const log = migrationLog(db);
      expect(log.map((row) => row.version)).toEqual(migrations.slice(0, version).map((m) => m.version));
      expect(log.map((row) => row.name)).toEqual(migrations.slice(0, version).map((m) => m.name));
      db.close();
      expect(fs.existsSync(file)).toBe(true);
    });

    it('upgrades a database at N-1 to N, keeping its data and logging the migration once', () => {
      const file = dbFile();
      const old = track(openDatabase(file, { targetVersion: version - 1 }));
      expect(schemaVersion(old)).toBe(version - 1);
      for (const table of userTables(old)) {
        const seed = seeders[table];
        if (!seed) throw new Error(`no seeder for table ${table}`);
        seed(old);
      }
      const oldSchema = schemaSnapshot(old);
      const oldRows = dumpRows(old, oldSchema);
      delete oldRows['schema_migrations'];
      const oldLog = migrationLog(old);
      old.close();

      const db = track(openDatabase(file, { targetVersion: version }));
      expect(schemaVersion(db)).toBe(version);

      // The upgraded schema is exactly the one a fresh database at N gets.
      const fresh = track(openDatabase(dbFile(), { targetVersion: version }));
      expect(schemaSnapshot(db)).toEqual(schemaSnapshot(fresh));
      expect(
        db
          .prepare(
            "SELECT type, name, sql FROM sqlite_master WHERE name <> 'schema_migrations' ORDER BY name",
          )
          .all(),
      ).toEqual(
        fresh
          .prepare(
            "SELECT type, name, sql FROM sqlite_master WHERE name <> 'schema_migrations' ORDER BY name",
          )
          .all(),
      );

      // Old rows are all still there (read through the old columns).
      const newRows = dumpRows(db, oldSchema);
      delete newRows['schema_migrations'];
      expect(newRows).toEqual(oldRows);

      // The log kept its old rows untouched and gained exactly one, for this migration.
      const log = migrationLog(db);
      expect(log.slice(0, -1)).toEqual(oldLog);
      expect(log).toHaveLength(version);
      expect(log.at(-1)).toMatchObject({ version, name: migration.name });
      expect(
        db.prepare('SELECT count(*) AS n FROM schema_migrations WHERE version = ?').get(version),
      ).toEqual({ n: 1 });
    });

    it('is rolled back as a whole when it fails, leaving the database at N-1', () => {
      const file = dbFile();
      track(openDatabase(file, { targetVersion: version - 1 })).close();
      const additions = expectedFor(version);

      // Something the migration is about to create already exists, so its DDL fails.
      const tamper = raw(file);
      tamper.exec(conflictingStatement(additions));
      const tamperedSchema = schemaSnapshot(tamper);
      tamper.close();

      let error: unknown;
      try {
        track(openDatabase(file, { targetVersion: version }));
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(StoreError);
      expect((error as StoreError).code).toBe('MIGRATION_FAILED');
      expect((error as StoreError).message).toContain(`migration ${version} (${migration.name})`);
      expect((error as StoreError).message).toContain('rolled back');

      const after = raw(file);
      expect(schemaVersion(after)).toBe(version - 1);
      expect(migrationLog(after).map((row) => row.version)).not.toContain(version);
      expect(schemaSnapshot(after)).toEqual(tamperedSchema);
    });

    it('rolls back what it already created when logging it fails afterwards', () => {
      const file = dbFile();
      track(openDatabase(file, { targetVersion: version - 1 })).close();
      const before = schemaSnapshot(raw(file));

      // A stray log row for N makes the INSERT into schema_migrations fail *after* up() has run.
      const tamper = raw(file);
      tamper.prepare("INSERT INTO schema_migrations (version, name) VALUES (?, 'stray')").run(version);
      tamper.close();

      expect(() => openDatabase(file, { targetVersion: version })).toThrow(
        expect.objectContaining({ name: 'StoreError', code: 'MIGRATION_FAILED' }),
      );

      const after = raw(file);
      expect(schemaVersion(after)).toBe(version - 1);
      expect(schemaSnapshot(after), 'nothing the migration created survives').toEqual(before);
      expect(migrationLog(after).filter((row) => row.version === version)).toMatchObject([{ name: 'stray' }]);

      // Once the stray row is gone the migration applies normally.
      after.prepare('DELETE FROM schema_migrations WHERE version = ?').run(version);
      after.close();
      expect(schemaVersion(track(openDatabase(file, { targetVersion: version })))).toBe(version);
    });
  },
);

describe('reopening', () => {
  it('applies nothing to a database that is already up to date', () => {
    const file = dbFile();
    const first = track(openDatabase(file));
    expect(schemaVersion(first)).toBe(latestSchemaVersion);
    const log = migrationLog(first);
    const schema = first.prepare('SELECT type, name, sql FROM sqlite_master ORDER BY name').all();
    first.close();

    const again = track(openDatabase(file));
    expect(schemaVersion(again)).toBe(latestSchemaVersion);
    expect(migrationLog(again)).toEqual(log);
    expect(again.prepare('SELECT type, name, sql FROM sqlite_master ORDER BY name').all()).toEqual(schema);
  });

  it('opens the database in WAL mode with foreign keys on', () => {
    const db = track(openDatabase(dbFile()));
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
  });
});

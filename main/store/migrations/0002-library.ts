import type { Migration } from './types';

/**
 * The image library: registered folders, the images imported from them, the files refused
 * (with a reason each), and label classes with the labels of images (from class-folder names
 * or given by hand; later issues use them for kNN monitoring, evaluation and fine-tuning).
 *
 * Paths inside a folder are stored '/'-separated relative to the folder. Images are keyed by
 * (folder, path) so an import killed mid-way and run again cannot duplicate a row.
 */
export const migration0002: Migration = {
  version: 2,
  name: 'library',
  up(db) {
    db.exec(`
      CREATE TABLE folders (
        id                 INTEGER PRIMARY KEY,
        path               TEXT NOT NULL UNIQUE,
        name               TEXT NOT NULL,
        min_side           INTEGER NOT NULL CHECK (min_side >= 1),
        max_pixels         INTEGER NOT NULL CHECK (max_pixels >= 1),
        labels_from_folders INTEGER NOT NULL DEFAULT 0 CHECK (labels_from_folders IN (0, 1)),
        scan_status        TEXT NOT NULL DEFAULT 'never'
                           CHECK (scan_status IN ('never', 'running', 'finished', 'cancelled', 'failed')),
        last_scan_at       TEXT,
        last_scan          TEXT CHECK (last_scan IS NULL OR json_valid(last_scan)),
        added_at           TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
      ) STRICT;

      CREATE TABLE images (
        id           INTEGER PRIMARY KEY,
        folder_id    INTEGER NOT NULL REFERENCES folders (id) ON DELETE CASCADE,
        rel_path     TEXT NOT NULL,
        size         INTEGER NOT NULL CHECK (size >= 0),
        mtime_ms     REAL NOT NULL,
        width        INTEGER NOT NULL CHECK (width > 0),
        height       INTEGER NOT NULL CHECK (height > 0),
        format       TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        copies       INTEGER NOT NULL DEFAULT 1 CHECK (copies >= 1),
        folder_class TEXT,
        note         TEXT,
        thumb_state  INTEGER NOT NULL DEFAULT 0 CHECK (thumb_state IN (0, 1, 2)),
        imported_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        UNIQUE (folder_id, rel_path)
      ) STRICT;
      CREATE INDEX images_folder ON images (folder_id, id);
      CREATE INDEX images_hash ON images (content_hash);
      CREATE INDEX images_duplicates ON images (folder_id, id) WHERE copies > 1;
      CREATE INDEX images_thumb_pending ON images (id) WHERE thumb_state = 0;

      CREATE TABLE rejected_files (
        id        INTEGER PRIMARY KEY,
        folder_id INTEGER NOT NULL REFERENCES folders (id) ON DELETE CASCADE,
        rel_path  TEXT NOT NULL,
        size      INTEGER NOT NULL CHECK (size >= 0),
        mtime_ms  REAL NOT NULL,
        kind      TEXT NOT NULL,
        reason    TEXT NOT NULL,
        seen_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        UNIQUE (folder_id, rel_path)
      ) STRICT;

      CREATE TABLE classes (
        id         INTEGER PRIMARY KEY,
        name       TEXT NOT NULL UNIQUE CHECK (length(name) > 0),
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
      ) STRICT;

      CREATE TABLE labels (
        image_id   INTEGER NOT NULL REFERENCES images (id) ON DELETE CASCADE,
        class_id   INTEGER NOT NULL REFERENCES classes (id) ON DELETE CASCADE,
        source     TEXT NOT NULL CHECK (source IN ('folder', 'hand')),
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        PRIMARY KEY (image_id, source)
      ) STRICT;
      CREATE INDEX labels_class ON labels (class_id, image_id);
    `);
  },
};

import type { Migration } from './types';

/**
 * Embeddings, clusters and maps: one embedding set per backbone (a run's checkpoint, or its
 * architecture at random init), one vector per image (with the content hash it was computed
 * from, so only new or changed images are embedded again), k-means clusterings with each
 * image's cluster and distance, and 2-D projections.
 */
export const migration0005: Migration = {
  version: 5,
  name: 'embeddings',
  up(db) {
    db.exec(`
      CREATE TABLE embedding_sets (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        kind            TEXT NOT NULL CHECK (kind IN ('checkpoint', 'random')),
        run_id          INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        step            INTEGER NOT NULL CHECK (step >= 0),
        checkpoint_file TEXT,
        dim             INTEGER NOT NULL CHECK (dim > 0),
        size            INTEGER NOT NULL CHECK (size > 0),
        created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        updated_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        UNIQUE (kind, run_id, step)
      ) STRICT;

      CREATE TABLE embeddings (
        set_id       INTEGER NOT NULL REFERENCES embedding_sets (id) ON DELETE CASCADE,
        image_id     INTEGER NOT NULL REFERENCES images (id) ON DELETE CASCADE,
        content_hash TEXT NOT NULL,
        vector       BLOB NOT NULL,
        PRIMARY KEY (set_id, image_id)
      ) STRICT;
      CREATE INDEX embeddings_image ON embeddings (image_id);

      CREATE TABLE clusterings (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        set_id      INTEGER NOT NULL REFERENCES embedding_sets (id) ON DELETE CASCADE,
        k           INTEGER NOT NULL CHECK (k >= 2),
        metric      TEXT NOT NULL CHECK (metric IN ('cosine', 'euclidean')),
        seed        INTEGER NOT NULL,
        folder_key  TEXT NOT NULL,
        images      INTEGER NOT NULL,
        inertia     REAL NOT NULL,
        iterations  INTEGER NOT NULL,
        scores      TEXT CHECK (scores IS NULL OR json_valid(scores)),
        created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
      ) STRICT;
      CREATE INDEX clusterings_set ON clusterings (set_id, id);

      CREATE TABLE cluster_members (
        clustering_id INTEGER NOT NULL REFERENCES clusterings (id) ON DELETE CASCADE,
        image_id      INTEGER NOT NULL REFERENCES images (id) ON DELETE CASCADE,
        cluster       INTEGER NOT NULL CHECK (cluster >= 0),
        distance      REAL NOT NULL,
        outlier       INTEGER NOT NULL DEFAULT 0 CHECK (outlier IN (0, 1)),
        PRIMARY KEY (clustering_id, image_id)
      ) STRICT;
      CREATE INDEX cluster_members_order ON cluster_members (clustering_id, cluster, distance);

      CREATE TABLE projections (
        set_id     INTEGER NOT NULL REFERENCES embedding_sets (id) ON DELETE CASCADE,
        method     TEXT NOT NULL CHECK (method IN ('pca', 'umap')),
        folder_key TEXT NOT NULL,
        image_ids  BLOB NOT NULL,
        xy         BLOB NOT NULL,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        PRIMARY KEY (set_id, method, folder_key)
      ) STRICT;
    `);
  },
};

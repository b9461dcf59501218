import type { Database } from 'better-sqlite3';
import type { DistanceMetric, EmbeddingSource } from '../common/embeddings';
import { joinFolderPath } from './library-repository';

/** A row of `embedding_sets`. */
export interface EmbeddingSetRow {
  id: number;
  kind: 'checkpoint' | 'random';
  run_id: number;
  step: number;
  checkpoint_file: string | null;
  dim: number;
  size: number;
  created_at: string;
  updated_at: string;
  run_name: string;
  images: number;
}

/** An image a set should hold: id, content hash, file path, folder and label. */
export interface EmbeddableImage {
  id: number;
  content_hash: string;
  folder_id: number;
  path: string;
  class_id: number | null;
  label: string | null;
}

/** Vectors of a set for some images, in one Float32Array (row i = imageIds[i]). */
export interface LoadedVectors {
  imageIds: number[];
  vectors: Float32Array;
  dim: number;
}

function toBlob(vector: Float32Array): Buffer {
  return Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength);
}

/** The key of a folder choice (all folders = ''). */
export function folderKey(folderIds?: number[]): string {
  return folderIds ? [...new Set(folderIds)].sort((a, b) => a - b).join(',') : '';
}

/** Embedding sets, their vectors, clusterings and projections (migration 0005). */
export class EmbeddingsRepository {
  constructor(readonly db: Database) {}

  private setQuery = `SELECT s.*, r.name AS run_name, (SELECT count(*) FROM embeddings e WHERE e.set_id = s.id) AS images
                      FROM embedding_sets s JOIN runs r ON r.id = s.run_id`;

  findSet(source: EmbeddingSource): EmbeddingSetRow | undefined {
    const step = source.kind === 'checkpoint' ? source.step : 0;
    return this.db.prepare(`${this.setQuery} WHERE s.kind = ? AND s.run_id = ? AND s.step = ?`).get(source.kind, source.runId, step) as EmbeddingSetRow | undefined;
  }

  getSet(id: number): EmbeddingSetRow | undefined {
    return this.db.prepare(`${this.setQuery} WHERE s.id = ?`).get(id) as EmbeddingSetRow | undefined;
  }

  sets(): EmbeddingSetRow[] {
    return this.db.prepare(`${this.setQuery} ORDER BY s.updated_at DESC, s.id DESC`).all() as EmbeddingSetRow[];
  }

  createSet(source: EmbeddingSource, spec: { checkpointFile: string | null; dim: number; size: number }): EmbeddingSetRow {
    const step = source.kind === 'checkpoint' ? source.step : 0;
    const id = Number(
      this.db
        .prepare('INSERT INTO embedding_sets (kind, run_id, step, checkpoint_file, dim, size) VALUES (?, ?, ?, ?, ?, ?)')
        .run(source.kind, source.runId, step, spec.checkpointFile, spec.dim, spec.size).lastInsertRowid,
    );
    return this.getSet(id)!;
  }

  /** Library images (of some folders, or all), with their label (a hand label wins), in id order. */
  images(folderIds?: number[]): EmbeddableImage[] {
    const where = folderIds ? `WHERE i.folder_id IN (${folderIds.map(() => '?').join(', ')})` : '';
    return this.db
      .prepare(
        `SELECT i.id, i.content_hash, i.folder_id, f.path AS folder_path, i.rel_path,
                (SELECT l.class_id FROM labels l WHERE l.image_id = i.id ORDER BY l.source = 'hand' DESC LIMIT 1) AS class_id,
                (SELECT c.name FROM labels l JOIN classes c ON c.id = l.class_id WHERE l.image_id = i.id ORDER BY l.source = 'hand' DESC LIMIT 1) AS label
         FROM images i JOIN folders f ON f.id = i.folder_id ${where} ORDER BY i.id`,
      )
      .all(...(folderIds ?? []))
      .map((row) => {
        const { folder_path: folderPath, rel_path: relPath, ...rest } = row as EmbeddableImage & { folder_path: string; rel_path: string };
        return { ...rest, path: joinFolderPath(folderPath, relPath) };
      });
  }

  /** The images of `images` without an up-to-date vector in the set (new, or changed content). */
  missing(setId: number, images: EmbeddableImage[]): EmbeddableImage[] {
    const known = new Map(
      (this.db.prepare('SELECT image_id, content_hash FROM embeddings WHERE set_id = ?').all(setId) as { image_id: number; content_hash: string }[]).map((row) => [
        row.image_id,
        row.content_hash,
      ]),
    );
    return images.filter((image) => known.get(image.id) !== image.content_hash);
  }

  /** Stores vectors (one transaction). */
  putVectors(setId: number, rows: { imageId: number; contentHash: string; vector: Float32Array }[]): void {
    const insert = this.db.prepare('INSERT OR REPLACE INTO embeddings (set_id, image_id, content_hash, vector) VALUES (?, ?, ?, ?)');
    this.db.transaction(() => {
      for (const row of rows) insert.run(setId, row.imageId, row.contentHash, toBlob(row.vector));
      this.db.prepare("UPDATE embedding_sets SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?").run(setId);
    })();
  }

  /** The vectors of the given images that the set holds, in the order given (images without one are left out). */
  vectors(setId: number, imageIds: number[], dim: number): LoadedVectors {
    const rows = this.db.prepare('SELECT image_id, vector FROM embeddings WHERE set_id = ?').all(setId) as { image_id: number; vector: Buffer }[];
    const byId = new Map(rows.map((row) => [row.image_id, row.vector]));
    const kept = imageIds.filter((imageId) => byId.has(imageId));
    const vectors = new Float32Array(kept.length * dim);
    kept.forEach((imageId, i) => {
      const blob = byId.get(imageId)!;
      vectors.set(new Float32Array(blob.buffer, blob.byteOffset, blob.byteLength / 4), i * dim);
    });
    return { imageIds: kept, vectors, dim };
  }

  vector(setId: number, imageId: number): Float32Array | undefined {
    const blob = this.db.prepare('SELECT vector FROM embeddings WHERE set_id = ? AND image_id = ?').pluck().get(setId, imageId) as Buffer | undefined;
    return blob ? new Float32Array(blob.buffer.slice(blob.byteOffset, blob.byteOffset + blob.byteLength)) : undefined;
  }

  // ---- clusterings --------------------------------------------------------------------

  addClustering(spec: {
    setId: number;
    k: number;
    metric: DistanceMetric;
    seed: number;
    folderKey: string;
    inertia: number;
    iterations: number;
    scores: unknown;
    members: { imageId: number; cluster: number; distance: number; outlier: boolean }[];
  }): number {
    return this.db.transaction(() => {
      const id = Number(
        this.db
          .prepare('INSERT INTO clusterings (set_id, k, metric, seed, folder_key, images, inertia, iterations, scores) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
          .run(spec.setId, spec.k, spec.metric, spec.seed, spec.folderKey, spec.members.length, spec.inertia, spec.iterations, spec.scores === null ? null : JSON.stringify(spec.scores))
          .lastInsertRowid,
      );
      const insert = this.db.prepare('INSERT INTO cluster_members (clustering_id, image_id, cluster, distance, outlier) VALUES (?, ?, ?, ?, ?)');
      for (const member of spec.members) insert.run(id, member.imageId, member.cluster, member.distance, member.outlier ? 1 : 0);
      return id;
    })();
  }

  clustering(id: number):
    | { id: number; set_id: number; k: number; metric: DistanceMetric; seed: number; folder_key: string; images: number; inertia: number; iterations: number; scores: string | null; created_at: string }
    | undefined {
    return this.db.prepare('SELECT * FROM clusterings WHERE id = ?').get(id) as never;
  }

  latestClustering(setId: number): number | undefined {
    return this.db.prepare('SELECT id FROM clusterings WHERE set_id = ? ORDER BY id DESC LIMIT 1').pluck().get(setId) as number | undefined;
  }

  /** Every member of a clustering with its label, nearest its centre first within each cluster. */
  members(clusteringId: number): { image_id: number; cluster: number; distance: number; outlier: number; version: string; label: string | null }[] {
    return this.db
      .prepare(
        `SELECT m.image_id, m.cluster, m.distance, m.outlier, substr(i.content_hash, 1, 16) AS version,
                (SELECT c.name FROM labels l JOIN classes c ON c.id = l.class_id WHERE l.image_id = m.image_id ORDER BY l.source = 'hand' DESC LIMIT 1) AS label
         FROM cluster_members m JOIN images i ON i.id = m.image_id
         WHERE m.clustering_id = ? ORDER BY m.cluster, m.distance`,
      )
      .all(clusteringId) as never;
  }

  clusterPage(clusteringId: number, cluster: number, offset: number, limit: number): { rows: { image_id: number; distance: number; outlier: number; version: string; label: string | null }[]; total: number } {
    const total = this.db.prepare('SELECT count(*) FROM cluster_members WHERE clustering_id = ? AND cluster = ?').pluck().get(clusteringId, cluster) as number;
    const rows = this.db
      .prepare(
        `SELECT m.image_id, m.distance, m.outlier, substr(i.content_hash, 1, 16) AS version,
                (SELECT c.name FROM labels l JOIN classes c ON c.id = l.class_id WHERE l.image_id = m.image_id ORDER BY l.source = 'hand' DESC LIMIT 1) AS label
         FROM cluster_members m JOIN images i ON i.id = m.image_id
         WHERE m.clustering_id = ? AND m.cluster = ? ORDER BY m.distance LIMIT ? OFFSET ?`,
      )
      .all(clusteringId, cluster, limit, offset) as never;
    return { rows, total };
  }

  // ---- projections --------------------------------------------------------------------

  putProjection(setId: number, method: 'pca' | 'umap', key: string, imageIds: number[], xy: Float32Array): void {
    const ids = Int32Array.from(imageIds);
    this.db
      .prepare('INSERT OR REPLACE INTO projections (set_id, method, folder_key, image_ids, xy) VALUES (?, ?, ?, ?, ?)')
      .run(setId, method, key, Buffer.from(ids.buffer), toBlob(xy));
  }

  projection(setId: number, method: 'pca' | 'umap', key: string): { imageIds: number[]; xy: Float32Array } | undefined {
    const row = this.db.prepare('SELECT image_ids, xy FROM projections WHERE set_id = ? AND method = ? AND folder_key = ?').get(setId, method, key) as
      | { image_ids: Buffer; xy: Buffer }
      | undefined;
    if (!row) return undefined;
    const ids = new Int32Array(row.image_ids.buffer.slice(row.image_ids.byteOffset, row.image_ids.byteOffset + row.image_ids.byteLength));
    const xy = new Float32Array(row.xy.buffer.slice(row.xy.byteOffset, row.xy.byteOffset + row.xy.byteLength));
    return { imageIds: Array.from(ids), xy };
  }

  /** Projections go stale when images are embedded again: they are dropped then. */
  dropProjections(setId: number): void {
    this.db.prepare('DELETE FROM projections WHERE set_id = ?').run(setId);
  }
}

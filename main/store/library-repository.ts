import path from 'node:path';
import { StatementCache } from './statements';
import type {
  ClassInfo,
  FolderClass,
  GalleryItem,
  GalleryPage,
  ImageDetails,
  Problem,
  ProblemKind,
  ProblemsPage,
  ScanSummary,
} from '../common/library';
import { galleryQuerySchema, problemsQuerySchema, type GalleryQuery } from '../common/library';

/**
 * The library tables (migration 0002): folders, images, rejected_files, classes, labels.
 * Every statement is prepared once; writes that belong together run in one transaction.
 */

export interface FolderRow {
  id: number;
  path: string;
  name: string;
  min_side: number;
  max_pixels: number;
  labels_from_folders: number;
  scan_status: 'never' | 'running' | 'finished' | 'cancelled' | 'failed';
  last_scan_at: string | null;
  last_scan: string | null;
  added_at: string;
}

export interface FolderCounts {
  images: number;
  rejected: number;
  labelled: number;
  duplicates: number;
  thumbnailsPending: number;
}

/** What a scan needs to know about a file it has seen before. */
export interface KnownImage {
  id: number;
  rel_path: string;
  size: number;
  mtime_ms: number;
  content_hash: string;
}

export interface KnownRejected {
  id: number;
  rel_path: string;
  size: number;
  mtime_ms: number;
  reason: string;
}

/** A decoded image as a scan stores it. */
export interface ImageRecord {
  relPath: string;
  size: number;
  mtimeMs: number;
  width: number;
  height: number;
  format: string;
  contentHash: string;
  folderClass: string | null;
  note: string | null;
}

export interface RejectedRecord {
  relPath: string;
  size: number;
  mtimeMs: number;
  kind: ProblemKind;
  reason: string;
}

/** Where an image's file is, for serving it. */
export interface ImageLocation {
  id: number;
  folder_path: string;
  /** The folder's pixel limit: renditions refuse larger images, like the import. */
  max_pixels: number;
  rel_path: string;
  content_hash: string;
  thumb_state: number;
}

interface GalleryRow {
  id: number;
  folder_id: number;
  rel_path: string;
  width: number;
  height: number;
  format: string;
  copies: number;
  version: string;
  label: string | null;
}

/** A gallery tile from a row of the gallery queries. */
function toGalleryItem(row: GalleryRow): GalleryItem {
  return {
    id: row.id,
    folderId: row.folder_id,
    relPath: row.rel_path,
    width: row.width,
    height: row.height,
    format: row.format,
    copies: row.copies,
    version: row.version,
    ...(row.label !== null ? { label: row.label } : {}),
  };
}

/** The label an image shows: a hand label wins over a folder label. */
const labelColumn = `(SELECT c.name FROM labels l JOIN classes c ON c.id = l.class_id
   WHERE l.image_id = images.id ORDER BY l.source = 'hand' DESC LIMIT 1) AS label`;

export class LibraryRepository extends StatementCache {
  // ---- folders -------------------------------------------------------------------------

  addFolder(folder: { path: string; name: string; minSide: number; maxPixels: number }): FolderRow {
    const id = this.prepare('INSERT INTO folders (path, name, min_side, max_pixels) VALUES (?, ?, ?, ?)').run(
      folder.path,
      folder.name,
      folder.minSide,
      folder.maxPixels,
    ).lastInsertRowid;
    return this.folder(Number(id))!;
  }

  folder(id: number): FolderRow | undefined {
    return this.prepare<[number], FolderRow>('SELECT * FROM folders WHERE id = ?').get(id);
  }

  folderByPath(folderPath: string): FolderRow | undefined {
    return this.prepare<[string], FolderRow>('SELECT * FROM folders WHERE path = ?').get(folderPath);
  }

  folders(): FolderRow[] {
    return this.prepare<[], FolderRow>('SELECT * FROM folders ORDER BY id').all();
  }

  folderCounts(id: number): FolderCounts {
    const images = this.prepare<[number], { n: number; duplicates: number; pending: number }>(
      `SELECT count(*) AS n, coalesce(sum(copies > 1), 0) AS duplicates, coalesce(sum(thumb_state = 0), 0) AS pending
       FROM images WHERE folder_id = ?`,
    ).get(id)!;
    const rejected = this.prepare<[number], { n: number }>('SELECT count(*) AS n FROM rejected_files WHERE folder_id = ?').get(id)!;
    const labelled = this.prepare<[number], { n: number }>(
      `SELECT count(DISTINCT l.image_id) AS n FROM labels l JOIN images i ON i.id = l.image_id WHERE i.folder_id = ?`,
    ).get(id)!;
    return { images: images.n, rejected: rejected.n, labelled: labelled.n, duplicates: images.duplicates, thumbnailsPending: images.pending };
  }

  folderClasses(id: number): FolderClass[] {
    return this.prepare<[number], FolderClass>(
      `SELECT folder_class AS name, count(*) AS images FROM images
       WHERE folder_id = ? AND folder_class IS NOT NULL GROUP BY folder_class ORDER BY folder_class`,
    ).all(id);
  }

  setScanStatus(id: number, status: FolderRow['scan_status'], summary?: ScanSummary): void {
    if (summary) {
      this.prepare(
        `UPDATE folders SET scan_status = ?, last_scan = ?, last_scan_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?`,
      ).run(status, JSON.stringify(summary), id);
    } else {
      this.prepare('UPDATE folders SET scan_status = ? WHERE id = ?').run(status, id);
    }
  }

  setLabelsFromFolders(id: number, on: boolean): void {
    this.prepare('UPDATE folders SET labels_from_folders = ? WHERE id = ?').run(on ? 1 : 0, id);
  }

  /** Number of images of a folder that carry any label (used to ask before removing it). */
  labelledImages(folderId: number): number {
    return this.folderCounts(folderId).labelled;
  }

  /** Deletes a folder and (by cascade) its images, problems and labels; returns the content hashes it held. */
  removeFolder(id: number): { images: number; hashes: string[] } {
    return this.transaction(() => {
      const hashes = this.prepare<[number], { content_hash: string }>('SELECT DISTINCT content_hash FROM images WHERE folder_id = ?')
        .all(id)
        .map((row) => row.content_hash);
      const images = this.prepare<[number], { n: number }>('SELECT count(*) AS n FROM images WHERE folder_id = ?').get(id)!.n;
      this.prepare('DELETE FROM labels WHERE image_id IN (SELECT id FROM images WHERE folder_id = ?)').run(id);
      this.prepare('DELETE FROM images WHERE folder_id = ?').run(id);
      this.prepare('DELETE FROM rejected_files WHERE folder_id = ?').run(id);
      this.prepare('DELETE FROM folders WHERE id = ?').run(id);
      this.refreshCopies(hashes);
      return { images, hashes };
    });
  }

  // ---- what a scan knows ---------------------------------------------------------------

  knownImages(folderId: number): KnownImage[] {
    return this.prepare<[number], KnownImage>('SELECT id, rel_path, size, mtime_ms, content_hash FROM images WHERE folder_id = ?').all(folderId);
  }

  knownRejected(folderId: number): KnownRejected[] {
    return this.prepare<[number], KnownRejected>('SELECT id, rel_path, size, mtime_ms, reason FROM rejected_files WHERE folder_id = ?').all(folderId);
  }

  /** Stores a decoded image at its path (insert, or replace what was there); returns its id. */
  upsertImage(folderId: number, record: ImageRecord): number {
    const row = this.prepare<unknown[], { id: number }>(
      `INSERT INTO images (folder_id, rel_path, size, mtime_ms, width, height, format, content_hash, folder_class, note, thumb_state)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)
       ON CONFLICT (folder_id, rel_path) DO UPDATE SET
         size = excluded.size, mtime_ms = excluded.mtime_ms, width = excluded.width, height = excluded.height,
         format = excluded.format, folder_class = excluded.folder_class, note = excluded.note,
         thumb_state = CASE WHEN images.content_hash = excluded.content_hash THEN images.thumb_state ELSE 0 END,
         content_hash = excluded.content_hash,
         imported_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
       RETURNING id`,
    ).get(
      folderId,
      record.relPath,
      record.size,
      record.mtimeMs,
      record.width,
      record.height,
      record.format,
      record.contentHash,
      record.folderClass,
      record.note,
    )!;
    this.prepare('DELETE FROM rejected_files WHERE folder_id = ? AND rel_path = ?').run(folderId, record.relPath);
    return row.id;
  }

  /** Records that a known image's file changed its size or mtime but not its content. */
  touchImage(id: number, size: number, mtimeMs: number): void {
    this.prepare('UPDATE images SET size = ?, mtime_ms = ? WHERE id = ?').run(size, mtimeMs, id);
  }

  /** Moves a known image to a new path (same content), keeping its id, labels and thumbnail. */
  moveImage(id: number, relPath: string, size: number, mtimeMs: number, folderClass: string | null): void {
    this.prepare('UPDATE images SET rel_path = ?, size = ?, mtime_ms = ?, folder_class = ? WHERE id = ?').run(relPath, size, mtimeMs, folderClass, id);
  }

  /** Stores a refused file at its path, replacing any image that was there; returns the hash it displaced. */
  upsertRejected(folderId: number, record: RejectedRecord): string | undefined {
    const displaced = this.prepare<[number, string], { id: number; content_hash: string }>(
      'SELECT id, content_hash FROM images WHERE folder_id = ? AND rel_path = ?',
    ).get(folderId, record.relPath);
    if (displaced) this.deleteImage(displaced.id);
    this.prepare(
      `INSERT INTO rejected_files (folder_id, rel_path, size, mtime_ms, kind, reason) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (folder_id, rel_path) DO UPDATE SET size = excluded.size, mtime_ms = excluded.mtime_ms,
         kind = excluded.kind, reason = excluded.reason, seen_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`,
    ).run(folderId, record.relPath, record.size, record.mtimeMs, record.kind, record.reason);
    return displaced?.content_hash;
  }

  deleteImage(id: number): void {
    this.prepare('DELETE FROM labels WHERE image_id = ?').run(id);
    this.prepare('DELETE FROM images WHERE id = ?').run(id);
  }

  deleteRejected(id: number): void {
    this.prepare('DELETE FROM rejected_files WHERE id = ?').run(id);
  }

  /** Forgets whatever is recorded at a path (the file is no longer an image candidate). */
  forgetPath(folderId: number, relPath: string): string | undefined {
    const displaced = this.prepare<[number, string], { id: number; content_hash: string }>(
      'SELECT id, content_hash FROM images WHERE folder_id = ? AND rel_path = ?',
    ).get(folderId, relPath);
    if (displaced) this.deleteImage(displaced.id);
    this.prepare('DELETE FROM rejected_files WHERE folder_id = ? AND rel_path = ?').run(folderId, relPath);
    return displaced?.content_hash;
  }

  /** Recounts how many images share each of these hashes (the duplicates filter reads it). */
  refreshCopies(hashes: Iterable<string>): void {
    const update = this.prepare<[string, string]>(
      'UPDATE images SET copies = (SELECT count(*) FROM images WHERE content_hash = ?) WHERE content_hash = ?',
    );
    for (const hash of new Set(hashes)) update.run(hash, hash);
  }

  /** True while some image still has this content (its thumbnail is still needed). */
  hashInUse(hash: string): boolean {
    return this.prepare<[string], { one: number }>('SELECT 1 AS one FROM images WHERE content_hash = ? LIMIT 1').get(hash) !== undefined;
  }

  // ---- classes and labels --------------------------------------------------------------

  /** The id of the class with this name, creating it when needed. */
  classId(name: string): number {
    this.prepare('INSERT INTO classes (name) VALUES (?) ON CONFLICT (name) DO NOTHING').run(name);
    return this.prepare<[string], { id: number }>('SELECT id FROM classes WHERE name = ?').get(name)!.id;
  }

  setFolderLabel(imageId: number, className: string): void {
    this.prepare(
      `INSERT INTO labels (image_id, class_id, source) VALUES (?, ?, 'folder')
       ON CONFLICT (image_id, source) DO UPDATE SET class_id = excluded.class_id`,
    ).run(imageId, this.classId(className));
  }

  clearFolderLabel(imageId: number): void {
    this.prepare("DELETE FROM labels WHERE image_id = ? AND source = 'folder'").run(imageId);
  }

  /** Labels every image of a folder that has a class folder with that name; returns how many. */
  applyFolderLabels(folderId: number): { classes: number; labelled: number } {
    return this.transaction(() => {
      const classes = this.folderClasses(folderId);
      let labelled = 0;
      const rows = this.prepare<[number], { id: number; folder_class: string }>(
        'SELECT id, folder_class FROM images WHERE folder_id = ? AND folder_class IS NOT NULL',
      ).all(folderId);
      for (const row of rows) {
        this.setFolderLabel(row.id, row.folder_class);
        labelled += 1;
      }
      this.setLabelsFromFolders(folderId, true);
      return { classes: classes.length, labelled };
    });
  }

  classes(): ClassInfo[] {
    return this.prepare<[], ClassInfo>(
      `SELECT c.id, c.name, c.color, c.hotkey AS key,
              (SELECT count(DISTINCT image_id) FROM labels l WHERE l.class_id = c.id) AS images,
              (SELECT count(*) FROM labels l WHERE l.class_id = c.id AND l.source = 'hand') AS hand,
              (SELECT count(*) FROM labels l WHERE l.class_id = c.id AND l.source = 'folder') AS folder
       FROM classes c ORDER BY c.hotkey IS NULL, c.hotkey, c.id`,
    ).all();
  }

  // ---- gallery ---------------------------------------------------------------------------

  /**
   * One page of the gallery, in two steps: the ids of the page are read from an index in id
   * order (images_folder, images_duplicates, labels_class; offset on the index, so a page deep
   * in 100,000 rows costs an index walk, not a table scan), then only those rows are read.
   */
  page(query: GalleryQuery): GalleryPage {
    const q = galleryQuerySchema.parse(query);
    if (q.show === 'rejected') return this.rejectedPage(q.folderId, q.offset, q.limit);
    const { total, ids } = q.classId !== undefined ? this.classPageIds(q) : this.imagePageIds(q);
    if (ids.length === 0) return { total, offset: q.offset, items: [] };
    const rows = this.prepare<unknown[], GalleryRow>(
      `SELECT images.id, images.folder_id, images.rel_path, images.width, images.height, images.format, images.copies,
              substr(images.content_hash, 1, 16) AS version, ${labelColumn}
       FROM images WHERE images.id IN (SELECT value FROM json_each(?)) ORDER BY images.id`,
    ).all(JSON.stringify(ids));
    return {
      total,
      offset: q.offset,
      items: rows.map(toGalleryItem),
    };
  }

  /** Gallery tiles of some images, in the order given (unknown ids left out). */
  itemsByIds(ids: number[]): GalleryItem[] {
    if (ids.length === 0) return [];
    const rows = this.prepare<unknown[], GalleryRow>(
      `SELECT images.id, images.folder_id, images.rel_path, images.width, images.height, images.format, images.copies,
              substr(images.content_hash, 1, 16) AS version, ${labelColumn}
       FROM images WHERE images.id IN (SELECT value FROM json_each(?))`,
    ).all(JSON.stringify(ids));
    const byId = new Map(rows.map((row) => [row.id, row]));
    return ids.flatMap((id) => {
      const row = byId.get(id);
      return row ? [toGalleryItem(row)] : [];
    });
  }

  /** Labelled images (any class), counted once each, optionally in one folder. */
  private labelledCount(folderId: number | undefined): number {
    if (folderId === undefined) return this.prepare<[], { n: number }>('SELECT count(DISTINCT image_id) AS n FROM labels').get()!.n;
    return this.prepare<[number], { n: number }>(
      'SELECT count(DISTINCT l.image_id) AS n FROM labels l JOIN images ON images.id = l.image_id WHERE images.folder_id = ?',
    ).get(folderId)!.n;
  }

  private imagePageIds(q: ReturnType<typeof galleryQuerySchema.parse>): { total: number; ids: number[] } {
    const where: string[] = [];
    const params: unknown[] = [];
    if (q.folderId !== undefined) {
      where.push('images.folder_id = ?');
      params.push(q.folderId);
    }
    const folderOnly = where.length ? `WHERE ${where.join(' AND ')}` : '';
    if (q.show === 'duplicates') where.push('images.copies > 1');
    if (q.show === 'unlabelled') where.push('NOT EXISTS (SELECT 1 FROM labels l WHERE l.image_id = images.id)');
    const whereSql = where.length ? `WHERE ${where.join(' AND ')}` : '';
    let total: number;
    if (q.show === 'labelled') return this.labelledPageIds(q);
    if (q.show === 'unlabelled') {
      // All images minus the labelled ones: two index counts instead of a NOT EXISTS per row.
      total = this.prepare<unknown[], { n: number }>(`SELECT count(*) AS n FROM images ${folderOnly}`).get(...params)!.n - this.labelledCount(q.folderId);
    } else total = this.prepare<unknown[], { n: number }>(`SELECT count(*) AS n FROM images ${whereSql}`).get(...params)!.n;
    const ids = this.prepare<unknown[], { id: number }>(`SELECT images.id FROM images ${whereSql} ORDER BY images.id LIMIT ? OFFSET ?`)
      .all(...params, q.limit, q.offset)
      .map((row) => row.id);
    return { total, ids };
  }

  /** Labelled images, read in id order from the labels' primary key (image_id, source). */
  private labelledPageIds(q: ReturnType<typeof galleryQuerySchema.parse>): { total: number; ids: number[] } {
    const inFolder = q.folderId !== undefined;
    const from = inFolder ? 'labels l JOIN images ON images.id = l.image_id WHERE images.folder_id = ?' : 'labels l';
    const params = inFolder ? [q.folderId] : [];
    const ids = this.prepare<unknown[], { id: number }>(`SELECT DISTINCT l.image_id AS id FROM ${from} ORDER BY l.image_id LIMIT ? OFFSET ?`)
      .all(...params, q.limit, q.offset)
      .map((row) => row.id);
    return { total: this.labelledCount(q.folderId), ids };
  }

  private classPageIds(q: ReturnType<typeof galleryQuerySchema.parse>): { total: number; ids: number[] } {
    // An image may carry a class twice (from its folder and by hand): it counts once.
    if (q.show === 'unlabelled') return { total: 0, ids: [] };
    const joinImages = q.folderId !== undefined || q.show === 'duplicates';
    const where = ['l.class_id = ?'];
    const params: unknown[] = [q.classId];
    if (q.folderId !== undefined) {
      where.push('images.folder_id = ?');
      params.push(q.folderId);
    }
    if (q.show === 'duplicates') where.push('images.copies > 1');
    const from = `labels l ${joinImages ? 'JOIN images ON images.id = l.image_id' : ''} WHERE ${where.join(' AND ')}`;
    const total = this.prepare<unknown[], { n: number }>(`SELECT count(DISTINCT l.image_id) AS n FROM ${from}`).get(...params)!.n;
    const ids = this.prepare<unknown[], { id: number }>(`SELECT DISTINCT l.image_id AS id FROM ${from} ORDER BY l.image_id LIMIT ? OFFSET ?`)
      .all(...params, q.limit, q.offset)
      .map((row) => row.id);
    return { total, ids };
  }

  private rejectedPage(folderId: number | undefined, offset: number, limit: number): GalleryPage {
    const where = folderId !== undefined ? 'WHERE folder_id = ?' : '';
    const params = folderId !== undefined ? [folderId] : [];
    const total = this.prepare<unknown[], { n: number }>(`SELECT count(*) AS n FROM rejected_files ${where}`).get(...params)!.n;
    const rows = this.prepare<unknown[], { id: number; folder_id: number; rel_path: string; reason: string }>(
      `SELECT id, folder_id, rel_path, reason FROM rejected_files ${where} ORDER BY id LIMIT ? OFFSET ?`,
    ).all(...params, limit, offset);
    return {
      total,
      offset,
      items: rows.map((row) => ({ id: row.id, folderId: row.folder_id, relPath: row.rel_path, rejected: row.reason })),
    };
  }

  problems(query: { folderId?: number; offset?: number; limit?: number }): ProblemsPage {
    const q = problemsQuerySchema.parse(query);
    const where = q.folderId !== undefined ? 'WHERE r.folder_id = ?' : '';
    const params = q.folderId !== undefined ? [q.folderId] : [];
    const total = this.prepare<unknown[], { n: number }>(`SELECT count(*) AS n FROM rejected_files r ${where}`).get(...params)!.n;
    const rows = this.prepare<unknown[], { id: number; folder_id: number; rel_path: string; folder_path: string; kind: ProblemKind; reason: string; size: number }>(
      `SELECT r.id, r.folder_id, r.rel_path, f.path AS folder_path, r.kind, r.reason, r.size
       FROM rejected_files r JOIN folders f ON f.id = r.folder_id ${where} ORDER BY r.folder_id, r.rel_path LIMIT ? OFFSET ?`,
    ).all(...params, q.limit, q.offset);
    const byKind: ProblemsPage['byKind'] = {};
    for (const row of this.prepare<unknown[], { kind: ProblemKind; n: number }>(
      `SELECT kind, count(*) AS n FROM rejected_files r ${where} GROUP BY kind`,
    ).all(...params)) {
      byKind[row.kind] = row.n;
    }
    return {
      total,
      byKind,
      items: rows.map(
        (row): Problem => ({
          id: row.id,
          folderId: row.folder_id,
          relPath: row.rel_path,
          path: joinFolderPath(row.folder_path, row.rel_path),
          kind: row.kind,
          reason: row.reason,
          size: row.size,
        }),
      ),
    };
  }

  image(id: number): ImageDetails | undefined {
    const row = this.prepare<[number], {
      id: number;
      folder_id: number;
      folder_path: string;
      rel_path: string;
      size: number;
      mtime_ms: number;
      width: number;
      height: number;
      format: string;
      content_hash: string;
      note: string | null;
      folder_class: string | null;
      imported_at: string;
    }>(
      `SELECT i.id, i.folder_id, f.path AS folder_path, i.rel_path, i.size, i.mtime_ms, i.width, i.height, i.format,
              i.content_hash, i.note, i.folder_class, i.imported_at
       FROM images i JOIN folders f ON f.id = i.folder_id WHERE i.id = ?`,
    ).get(id);
    if (!row) return undefined;
    const labels = this.prepare<[number], { className: string; source: 'folder' | 'hand' }>(
      `SELECT c.name AS className, l.source FROM labels l JOIN classes c ON c.id = l.class_id WHERE l.image_id = ? ORDER BY l.source`,
    ).all(id);
    const duplicates = this.prepare<[string, number], { id: number; folder_path: string; rel_path: string }>(
      `SELECT i.id, f.path AS folder_path, i.rel_path FROM images i JOIN folders f ON f.id = i.folder_id
       WHERE i.content_hash = ? AND i.id <> ? ORDER BY i.id LIMIT 50`,
    ).all(row.content_hash, id);
    return {
      id: row.id,
      folderId: row.folder_id,
      folderPath: row.folder_path,
      relPath: row.rel_path,
      path: joinFolderPath(row.folder_path, row.rel_path),
      size: row.size,
      mtime: new Date(row.mtime_ms).toISOString(),
      width: row.width,
      height: row.height,
      format: row.format,
      contentHash: row.content_hash,
      ...(row.note ? { note: row.note } : {}),
      ...(row.folder_class ? { folderClass: row.folder_class } : {}),
      labels,
      duplicates: duplicates.map((d) => ({ id: d.id, path: joinFolderPath(d.folder_path, d.rel_path) })),
      importedAt: row.imported_at,
    };
  }

  // ---- thumbnails and serving ------------------------------------------------------------

  /** Where an image of a registered folder lives; undefined for unknown ids. */
  location(id: number): ImageLocation | undefined {
    return this.prepare<[number], ImageLocation>(
      `SELECT i.id, f.path AS folder_path, f.max_pixels, i.rel_path, i.content_hash, i.thumb_state
       FROM images i JOIN folders f ON f.id = i.folder_id WHERE i.id = ?`,
    ).get(id);
  }

  /** Images still waiting for a thumbnail, in id order after `afterId`. */
  pendingThumbnails(afterId: number, limit: number): ImageLocation[] {
    return this.prepare<[number, number], ImageLocation>(
      `SELECT i.id, f.path AS folder_path, f.max_pixels, i.rel_path, i.content_hash, i.thumb_state
       FROM images i JOIN folders f ON f.id = i.folder_id WHERE i.thumb_state = 0 AND i.id > ? ORDER BY i.id LIMIT ?`,
    ).all(afterId, limit);
  }

  countPendingThumbnails(): number {
    return this.prepare<[], { n: number }>('SELECT count(*) AS n FROM images WHERE thumb_state = 0').get()!.n;
  }

  /** Marks every image with this content as having a thumbnail (1) or as failing to make one (2). */
  setThumbState(hash: string, state: 1 | 2): void {
    this.prepare('UPDATE images SET thumb_state = ? WHERE content_hash = ? AND thumb_state <> ?').run(state, hash, state);
  }
}

/** The absolute path of a file of a folder from its '/'-separated relative path. */
export function joinFolderPath(folderPath: string, relPath: string): string {
  return path.join(folderPath, ...relPath.split('/'));
}

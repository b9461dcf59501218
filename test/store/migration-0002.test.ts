import path from 'node:path';
import type Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openDatabase, schemaVersion } from '../../main/store/db';
import { migrations } from '../../main/store/migrations';
import { migration0002 } from '../../main/store/migrations/0002-library';
import { LibraryRepository } from '../../main/store/library-repository';
import { migrationLog, useTempDirs } from './helpers';

/**
 * Migration 0002: the image library (folders, images, rejected_files, classes, labels). The
 * generic checks live in migrations.test.ts; this file checks what is particular to it.
 */

const VERSION = 2;
const { tempDir, track } = useTempDirs();

function openAtThisVersion(): Database.Database {
  return track(openDatabase(path.join(tempDir(), 'studio.db'), { targetVersion: VERSION }));
}

function addFolder(db: Database.Database, folderPath = '/photos'): number {
  return Number(db.prepare('INSERT INTO folders (path, name, min_side, max_pixels) VALUES (?, ?, 8, 1000)').run(folderPath, 'photos').lastInsertRowid);
}

function addImage(db: Database.Database, folderId: number, relPath: string, hash = 'cd'.repeat(32)): number {
  return Number(
    db
      .prepare(
        `INSERT INTO images (folder_id, rel_path, size, mtime_ms, width, height, format, content_hash)
         VALUES (?, ?, 100, 1.5, 32, 32, 'jpeg', ?)`,
      )
      .run(folderId, relPath, hash).lastInsertRowid,
  );
}

function count(db: Database.Database, table: string): number {
  return db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;
}

describe('migration 0002 (library)', () => {
  it('is migration number 2 in the list', () => {
    expect(migration0002.version).toBe(VERSION);
    expect(migrations[VERSION - 1]).toBe(migration0002);
  });

  it('creates five STRICT tables and logs itself', () => {
    const db = openAtThisVersion();
    expect(schemaVersion(db)).toBe(VERSION);
    for (const table of ['folders', 'images', 'rejected_files', 'classes', 'labels']) {
      expect(db.prepare('SELECT strict FROM pragma_table_list WHERE name = ?').get(table), table).toEqual({ strict: 1 });
    }
    expect(migrationLog(db).map((row) => [row.version, row.name])).toEqual([
      [1, 'settings'],
      [2, 'library'],
    ]);
  });

  it('fills defaults: a new folder was never scanned, a new image is unique, waits for its thumbnail', () => {
    const db = openAtThisVersion();
    const folder = addFolder(db);
    expect(db.prepare('SELECT scan_status, labels_from_folders, last_scan FROM folders WHERE id = ?').get(folder)).toEqual({
      scan_status: 'never',
      labels_from_folders: 0,
      last_scan: null,
    });
    const image = addImage(db, folder, 'a.jpg');
    expect(db.prepare('SELECT copies, thumb_state, folder_class FROM images WHERE id = ?').get(image)).toEqual({ copies: 1, thumb_state: 0, folder_class: null });
  });

  it('keeps one row per file: (folder, path) is unique for images and for rejected files', () => {
    const db = openAtThisVersion();
    const folder = addFolder(db);
    addImage(db, folder, 'cats/a.jpg');
    expect(() => addImage(db, folder, 'cats/a.jpg')).toThrow(expect.objectContaining({ code: 'SQLITE_CONSTRAINT_UNIQUE' }));
    // The same path in another folder is another file.
    addImage(db, addFolder(db, '/other'), 'cats/a.jpg');
    const reject = db.prepare("INSERT INTO rejected_files (folder_id, rel_path, size, mtime_ms, kind, reason) VALUES (?, 'x.jpg', 0, 0, 'empty', 'empty file')");
    reject.run(folder);
    expect(() => reject.run(folder)).toThrow(expect.objectContaining({ code: 'SQLITE_CONSTRAINT_UNIQUE' }));
    expect(() => db.prepare("INSERT INTO folders (path, name, min_side, max_pixels) VALUES ('/photos', 'again', 8, 1)").run()).toThrow(
      expect.objectContaining({ code: 'SQLITE_CONSTRAINT_UNIQUE' }),
    );
  });

  it('refuses values outside the allowed sets', () => {
    const db = openAtThisVersion();
    const folder = addFolder(db);
    const image = addImage(db, folder, 'a.jpg');
    const classId = Number(db.prepare("INSERT INTO classes (name) VALUES ('cat')").run().lastInsertRowid);
    const check = expect.objectContaining({ code: 'SQLITE_CONSTRAINT_CHECK' });
    expect(() => db.prepare("INSERT INTO labels (image_id, class_id, source) VALUES (?, ?, 'guess')").run(image, classId)).toThrow(check);
    expect(() => db.prepare('UPDATE images SET thumb_state = 7 WHERE id = ?').run(image)).toThrow(check);
    expect(() => db.prepare("UPDATE folders SET scan_status = 'paused' WHERE id = ?").run(folder)).toThrow(check);
    expect(() => db.prepare("UPDATE folders SET last_scan = '{oops' WHERE id = ?").run(folder)).toThrow(check);
    expect(() => db.prepare('UPDATE images SET width = 0 WHERE id = ?').run(image)).toThrow(check);
    expect(() => db.prepare("INSERT INTO classes (name) VALUES ('')").run()).toThrow(check);
    expect(() => db.prepare("UPDATE images SET size = 'big' WHERE id = ?").run(image)).toThrow(expect.objectContaining({ code: 'SQLITE_CONSTRAINT_DATATYPE' }));
  });

  it('allows one folder label and one hand label per image, and refuses labels of unknown images or classes', () => {
    const db = openAtThisVersion();
    const image = addImage(db, addFolder(db), 'a.jpg');
    const cat = Number(db.prepare("INSERT INTO classes (name) VALUES ('cat')").run().lastInsertRowid);
    const dog = Number(db.prepare("INSERT INTO classes (name) VALUES ('dog')").run().lastInsertRowid);
    const label = db.prepare('INSERT INTO labels (image_id, class_id, source) VALUES (?, ?, ?)');
    label.run(image, cat, 'folder');
    label.run(image, dog, 'hand');
    expect(() => label.run(image, dog, 'folder')).toThrow(expect.objectContaining({ code: 'SQLITE_CONSTRAINT_PRIMARYKEY' }));
    expect(() => label.run(image + 100, cat, 'hand')).toThrow(expect.objectContaining({ code: 'SQLITE_CONSTRAINT_FOREIGNKEY' }));
    const other = addImage(db, 1, 'b.jpg');
    expect(() => label.run(other, dog + 100, 'hand')).toThrow(expect.objectContaining({ code: 'SQLITE_CONSTRAINT_FOREIGNKEY' }));
  });

  it("forgets a folder's images, problems and labels with it (ON DELETE CASCADE), and nothing else", () => {
    const db = openAtThisVersion();
    const doomed = addFolder(db, '/doomed');
    const kept = addFolder(db, '/kept');
    const cat = Number(db.prepare("INSERT INTO classes (name) VALUES ('cat')").run().lastInsertRowid);
    for (const folder of [doomed, kept]) {
      const image = addImage(db, folder, 'a.jpg');
      db.prepare("INSERT INTO labels (image_id, class_id, source) VALUES (?, ?, 'hand')").run(image, cat);
      db.prepare("INSERT INTO rejected_files (folder_id, rel_path, size, mtime_ms, kind, reason) VALUES (?, 'b.jpg', 0, 0, 'empty', 'empty')").run(folder);
    }
    db.prepare('DELETE FROM folders WHERE id = ?').run(doomed);
    expect([count(db, 'images'), count(db, 'labels'), count(db, 'rejected_files'), count(db, 'classes')]).toEqual([1, 1, 1, 1]);
    expect(db.prepare('SELECT folder_id FROM images').pluck().get()).toBe(kept);
  });

  it('gives every gallery filter an index to walk in id order', () => {
    const db = openAtThisVersion();
    const repo = new LibraryRepository(db);
    const plan = (sql: string, ...params: unknown[]): string =>
      (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map((row) => row.detail).join(' | ');
    expect(plan('SELECT id FROM images WHERE folder_id = ? ORDER BY id LIMIT 200 OFFSET 1000', 1)).toMatch(/USING (COVERING )?INDEX images_folder/);
    expect(plan('SELECT id FROM images WHERE folder_id = ? AND copies > 1 ORDER BY id LIMIT 200', 1)).toMatch(/INDEX images_duplicates/);
    expect(plan('SELECT id FROM images WHERE content_hash = ?', 'x')).toMatch(/INDEX images_hash/);
    expect(plan('SELECT id FROM images WHERE thumb_state = 0 AND id > ? ORDER BY id LIMIT 64', 0)).toMatch(/INDEX images_thumb_pending/);
    expect(plan('SELECT image_id FROM labels WHERE class_id = ? ORDER BY image_id LIMIT 200', 1)).toMatch(/INDEX labels_class/);
    // And the repository's page query runs on this schema.
    expect(repo.page({ show: 'images', folderId: 1, offset: 0, limit: 10 })).toEqual({ total: 0, offset: 0, items: [] });
  });
});

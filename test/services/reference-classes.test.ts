import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { classLayoutFolders, referenceClasses } from '../../main/services/reference-classes';
import { openDatabase, type Database } from '../../main/store/db';

/**
 * Reference classes (the truth scores are measured against): class subfolders of a folder laid
 * out in classes, without labels; labels elsewhere (a hand label over a folder label); names
 * compared ignoring case; images with neither have none.
 */

const opened: { db: Database; dir: string }[] = [];
afterEach(() => {
  for (const { db, dir } of opened.splice(0)) {
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

function database(): Database {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-reference-'));
  const db = openDatabase(path.join(dir, 'studio.db'));
  opened.push({ db, dir });
  return db;
}

function addFolder(db: Database, name: string, images: (string | null)[], labelsFromFolders = 0): number[] {
  const folder = Number(
    db.prepare('INSERT INTO folders (path, name, min_side, max_pixels, labels_from_folders) VALUES (?, ?, 8, 1000, ?)').run(`/pics/${name}`, name, labelsFromFolders).lastInsertRowid,
  );
  const insert = db.prepare(
    "INSERT INTO images (folder_id, rel_path, size, mtime_ms, width, height, format, content_hash, folder_class) VALUES (?, ?, 1, 1, 8, 8, 'png', ?, ?)",
  );
  return images.map((cls, i) => Number(insert.run(folder, `${cls ?? '.'}/${i}.png`, `${name}${i}`, cls).lastInsertRowid));
}

function label(db: Database, imageId: number, className: string, source: 'hand' | 'folder'): void {
  db.prepare('INSERT INTO classes (name) VALUES (?) ON CONFLICT (name) DO NOTHING').run(className);
  const classId = db.prepare('SELECT id FROM classes WHERE name = ?').pluck().get(className);
  db.prepare('INSERT INTO labels (image_id, class_id, source) VALUES (?, ?, ?)').run(imageId, classId, source);
}

describe('reference classes', () => {
  it('take the class folder of a class layout (no labels needed), else the label, ignoring case', () => {
    const db = database();
    // cifar: 3 class folders, no labels imported. A hand label there does not replace its folder.
    const cifar = addFolder(db, 'cifar', ['bird', 'bird', 'ship', 'ship', 'Cat', null]);
    label(db, cifar[0]!, 'ship', 'hand');
    // photos: one folder of loose images (not a class layout), two of them labelled by hand.
    const photos = addFolder(db, 'photos', ['trip', null, null, null]);
    label(db, photos[1]!, 'cat', 'hand');
    label(db, photos[2]!, 'Bird', 'folder');
    label(db, photos[2]!, 'BIRD', 'hand');

    expect([...classLayoutFolders(db)]).toEqual([1]);
    const { byImage, names } = referenceClasses(db);
    const of = (id: number) => {
      const entry = byImage.get(id);
      return entry ? `${names[entry.index]}/${entry.source}` : null;
    };
    expect(cifar.map(of)).toEqual(['bird/folder', 'bird/folder', 'ship/folder', 'ship/folder', 'Cat/folder', null]);
    // 'trip' is not a class (the folder is not a class layout); 'cat' joins 'Cat'; the hand label BIRD wins and joins 'bird'.
    expect(photos.map(of)).toEqual([null, 'Cat/label', 'bird/label', null]);
    expect(names).toEqual(['bird', 'ship', 'Cat']);
    // Some images only.
    expect([...referenceClasses(db, [photos[1]!, cifar[2]!]).byImage.keys()]).toEqual([photos[1], cifar[2]]);
  });

  it('count the class folders of a folder whose names were imported as labels, even when it is not mostly classes', () => {
    const db = database();
    const mixed = addFolder(db, 'mixed', ['a', 'b', null, null, null], 1);
    expect([...classLayoutFolders(db)]).toEqual([1]);
    expect(mixed.map((id) => referenceClasses(db).byImage.get(id)?.name ?? null)).toEqual(['a', 'b', null, null, null]);
  });
});

import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { galleryShowValues, type GalleryQuery } from '../../main/common/library';
import { openDatabase } from '../../main/store/db';
import { LibraryRepository } from '../../main/store/library-repository';
import { useTempDirs } from './helpers';

/**
 * The gallery's page queries (two-step, index-driven) against a naive reference: every filter,
 * folder and class combination, at several offsets, on a library with duplicates, folder
 * labels, hand labels (some on top of a folder label) and rejected files.
 */

const { tempDir, track } = useTempDirs();

interface Row {
  id: number;
  folderId: number;
  relPath: string;
  hash: string;
  classes: Set<number>;
  handClass?: number;
  folderClass?: number;
}

/** A small deterministic pseudo-random sequence. */
function lcg(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

function build() {
  const db = track(openDatabase(path.join(tempDir(), 'studio.db')));
  const repo = new LibraryRepository(db);
  const random = lcg(7);
  const folders = [1, 2, 3].map((n) => repo.addFolder({ path: `/library/folder-${n}`, name: `folder-${n}`, minSide: 8, maxPixels: 1e6 }).id);
  const classes = ['cat', 'dog', 'owl'].map((name) => repo.classId(name));
  const rows: Row[] = [];
  const hashes: string[] = [];
  for (let i = 0; i < 600; i++) {
    const folderId = folders[Math.floor(random() * folders.length)]!;
    const reuse = hashes.length > 0 && random() < 0.1;
    const hash = reuse ? hashes[Math.floor(random() * hashes.length)]! : (i + 1).toString(16).padStart(64, 'a');
    hashes.push(hash);
    const relPath = `dir/${i}.jpg`;
    const id = repo.upsertImage(folderId, { relPath, size: 100 + i, mtimeMs: i, width: 10, height: 10, format: 'jpeg', contentHash: hash, folderClass: null, note: null });
    const row: Row = { id, folderId, relPath, hash, classes: new Set() };
    const labelDraw = random();
    if (labelDraw < 0.5) {
      row.folderClass = classes[Math.floor(random() * 3)]!;
      repo.setFolderLabel(id, ['cat', 'dog', 'owl'][classes.indexOf(row.folderClass)]!);
      row.classes.add(row.folderClass);
    }
    if (labelDraw > 0.3 && labelDraw < 0.6) {
      row.handClass = classes[Math.floor(random() * 3)]!;
      db.prepare("INSERT INTO labels (image_id, class_id, source) VALUES (?, ?, 'hand')").run(id, row.handClass);
      row.classes.add(row.handClass);
    }
    rows.push(row);
  }
  repo.refreshCopies(hashes);
  for (let i = 0; i < 7; i++) {
    repo.upsertRejected(folders[i % 3]!, { relPath: `bad/${i}.jpg`, size: i, mtimeMs: 0, kind: 'corrupt', reason: `reason ${i}` });
  }
  return { repo, rows, folders, classes };
}

function reference(rows: Row[], query: Required<Pick<GalleryQuery, 'show' | 'offset' | 'limit'>> & GalleryQuery, names: Map<number, string>) {
  const copies = new Map<string, number>();
  for (const row of rows) copies.set(row.hash, (copies.get(row.hash) ?? 0) + 1);
  const matching = rows.filter((row) => {
    if (query.folderId !== undefined && row.folderId !== query.folderId) return false;
    if (query.classId !== undefined && !row.classes.has(query.classId)) return false;
    if (query.show === 'duplicates' && copies.get(row.hash)! < 2) return false;
    if (query.show === 'labelled' && row.classes.size === 0) return false;
    if (query.show === 'unlabelled' && row.classes.size > 0) return false;
    return true;
  });
  return {
    total: matching.length,
    items: matching.slice(query.offset, query.offset + query.limit).map((row) => {
      const label = row.handClass ?? row.folderClass;
      return { id: row.id, relPath: row.relPath, copies: copies.get(row.hash), ...(label !== undefined ? { label: names.get(label) } : {}) };
    }),
  };
}

describe('LibraryRepository.page', () => {
  it('matches a naive reference for every filter, folder, class and offset', () => {
    const { repo, rows, folders, classes } = build();
    const names = new Map(repo.classes().map((entry) => [entry.id, entry.name]));
    let compared = 0;
    for (const show of galleryShowValues.filter((value) => value !== 'rejected')) {
      for (const folderId of [undefined, ...folders]) {
        for (const classId of [undefined, ...classes]) {
          for (const [offset, limit] of [
            [0, 50],
            [37, 13],
            [120, 200],
            [590, 50],
          ] as const) {
            const query = { show, offset, limit, ...(folderId !== undefined ? { folderId } : {}), ...(classId !== undefined ? { classId } : {}) };
            const page = repo.page(query);
            const expected = reference(rows, query, names);
            const label = JSON.stringify(query);
            expect(page.total, label).toBe(expected.total);
            expect(
              page.items.map((item) => ({ id: item.id, relPath: item.relPath, copies: item.copies, ...(item.label !== undefined ? { label: item.label } : {}) })),
              label,
            ).toEqual(expected.items);
            compared += 1;
          }
        }
      }
    }
    expect(compared).toBe(4 * 4 * 4 * 4);
    // The fixture really has every kind of row.
    expect(rows.some((row) => row.handClass !== undefined && row.folderClass !== undefined && row.handClass !== row.folderClass)).toBe(true);
    expect(rows.some((row) => row.handClass !== undefined && row.handClass === row.folderClass)).toBe(true);
    expect(repo.page({ show: 'duplicates', offset: 0, limit: 1 }).total).toBeGreaterThan(20);
  });

  it('pages rejected files, per folder and in all', () => {
    const { repo, folders } = build();
    const all = repo.page({ show: 'rejected', offset: 0, limit: 100 });
    expect(all.total).toBe(7);
    expect(all.items.every((item) => item.rejected?.startsWith('reason '))).toBe(true);
    const one = repo.page({ show: 'rejected', folderId: folders[1], offset: 1, limit: 100 });
    expect(one.total).toBe(2);
    expect(one.items.map((item) => item.relPath)).toEqual(['bad/4.jpg']);
    const problems = repo.problems({ folderId: folders[0] });
    expect(problems).toMatchObject({ total: 3, byKind: { corrupt: 3 } });
    expect(problems.items.map((item) => item.path)).toEqual(['bad/0.jpg', 'bad/3.jpg', 'bad/6.jpg'].map((file) => path.join('/library/folder-1', file)));
  });

  it('counts a folder: images, rejected, labelled once each, duplicates, pending thumbnails', () => {
    const { repo, rows, folders } = build();
    for (const folderId of folders) {
      const mine = rows.filter((row) => row.folderId === folderId);
      const copies = new Map<string, number>();
      for (const row of rows) copies.set(row.hash, (copies.get(row.hash) ?? 0) + 1);
      expect(repo.folderCounts(folderId)).toEqual({
        images: mine.length,
        rejected: folderId === folders[0] ? 3 : 2,
        labelled: mine.filter((row) => row.classes.size > 0).length,
        duplicates: mine.filter((row) => copies.get(row.hash)! > 1).length,
        thumbnailsPending: mine.length,
      });
    }
  });
});

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCore, type Core } from '../../main/core';
import { dataset, fakeEngineReport } from '../helpers/library';

/** Importing ../shared/datasets/cifar10-dev: 4000 JPEGs in train/<class>/ and test/<class>/. */

let work: string;
let core: Core;
let folderId: number;
let importSeconds: number;

interface ManifestRow {
  split: string;
  className: string;
  path: string;
  sha256: string;
  bytes: number;
}

function manifest(): ManifestRow[] {
  const lines = fs.readFileSync(path.join(dataset('cifar10-dev'), 'MANIFEST.csv'), 'utf8').trim().split(/\r?\n/);
  const header = lines.shift()?.split(',');
  expect(header).toEqual(['split', 'class', 'path', 'source', 'sha256', 'bytes']);
  return lines.map((line) => {
    const [split, className, file, , sha256, bytes] = line.split(',');
    return { split: split!, className: className!, path: file!, sha256: sha256!, bytes: Number(bytes) };
  });
}

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-cifar-'));
  core = startCore({ dataDir: path.join(work, 'data'), mode: 'cli', probeEngines: async () => fakeEngineReport, library: { autoThumbnails: false } });
  const started = performance.now();
  const { folder, task } = await core.handlers.libraryAddFolder({ path: dataset('cifar10-dev') });
  const ended = await core.tasks.settled(task.id);
  importSeconds = (performance.now() - started) / 1000;
  expect(ended.status, ended.error).toBe('finished');
  folderId = folder.id;
}, 120_000);

afterAll(() => {
  core?.close();
  fs.rmSync(work, { recursive: true, force: true });
});

describe('importing cifar10-dev', () => {
  it('finds the 4000 images and the 10 class names, and nothing to reject', async () => {
    const [folder] = await core.handlers.libraryFolders({});
    const rows = manifest();
    expect(rows).toHaveLength(4000);
    const classNames = [...new Set(rows.map((row) => row.className))].sort();
    expect(classNames).toHaveLength(10);
    expect(folder).toMatchObject({ images: 4000, rejected: 0, labelled: 0, looksLikeClasses: true, labelsFromFolders: false });
    expect(folder?.classes.map((entry) => entry.name)).toEqual(classNames);
    for (const entry of folder?.classes ?? []) expect(entry.images, entry.name).toBe(rows.filter((row) => row.className === entry.name).length);
    // MANIFEST.csv and SOURCE.txt are not images: skipped silently.
    expect(folder?.lastScan).toMatchObject({ seen: 4002, imported: 4000, rejected: 0, ignored: 2, decoded: 4000 });
    console.log(`cifar10-dev: 4000 images imported in ${importSeconds.toFixed(1)} s`);
  });

  it('stores path, size, dimensions, format and the SHA-256 of every file (as MANIFEST.csv has it)', async () => {
    const byPath = new Map(manifest().map((row) => [row.path, row]));
    let checked = 0;
    for (let offset = 0; offset < 4000; offset += 500) {
      const page = await core.handlers.libraryPage({ show: 'images', offset, limit: 500 });
      for (const item of page.items) {
        const expected = byPath.get(item.relPath);
        expect(expected, item.relPath).toBeDefined();
        expect(item).toMatchObject({ width: 32, height: 32, format: 'jpeg' });
        expect(expected!.sha256.startsWith(item.version!)).toBe(true);
        checked += 1;
      }
    }
    expect(checked).toBe(4000);
    const one = await core.handlers.libraryImage({ id: 1 });
    const expected = byPath.get(one.relPath)!;
    expect(one).toMatchObject({ contentHash: expected.sha256, size: expected.bytes, folderClass: expected.className });
    expect(Date.parse(one.mtime)).toBe(Math.floor(fs.statSync(one.path).mtimeMs));
  });

  it('imports the class-folder names as labels on request, and filters by label', async () => {
    const result = await core.handlers.libraryUseFolderLabels({ folderId });
    expect(result).toEqual({ classes: 10, labelled: 4000 });
    const classes = await core.handlers.libraryClasses({});
    expect(classes.map((entry) => [entry.name, entry.images])).toEqual(
      [...new Set(manifest().map((row) => row.className))].sort().map((name) => [name, 400]),
    );
    const cat = classes.find((entry) => entry.name === 'cat')!;
    const page = await core.handlers.libraryPage({ show: 'images', classId: cat.id, offset: 0, limit: 500 });
    expect(page.total).toBe(400);
    expect(page.items.every((item) => item.label === 'cat' && /^(train|test)\/cat\//.test(item.relPath))).toBe(true);
    const [folder] = await core.handlers.libraryFolders({});
    expect(folder).toMatchObject({ labelled: 4000, labelsFromFolders: true });
    // Removing a folder with labels needs a confirmation.
    await expect(async () => core.handlers.libraryRemoveFolder({ folderId, confirmed: false })).rejects.toThrow(/4,000 labelled images.*Confirm/);
    expect(await core.handlers.libraryFolders({})).toHaveLength(1);
  });
});

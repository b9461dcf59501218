import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { FolderInfo, ScanSummary } from '../../main/common/library';
import { startCore, type Core } from '../../main/core';
import type { ImageDecoder } from '../../main/data/decode';
import { sharpDecoder } from '../../main/services/library-import';
import { fakeEngineReport } from '../helpers/library';

/**
 * Rescans do only the work that is needed: a counting decoder (injected into the library)
 * shows which files were decoded after files are added, deleted, touched, changed and moved.
 */

let work: string;
let root: string;
let core: Core;
let decoded: string[];

/** A small JPEG whose content depends on `seed` (so every file has its own hash). */
async function jpeg(seed: number, size = 24): Promise<Buffer> {
  const raw = Buffer.alloc(size * size * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 31 + seed * 97 + ((i / 3) | 0) * seed) & 255;
  return sharp(raw, { raw: { width: size, height: size, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
}

async function write(relPath: string, seed: number): Promise<void> {
  const file = path.join(root, relPath);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, await jpeg(seed));
}

beforeEach(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-rescan-'));
  root = path.join(work, 'photos');
  for (let i = 0; i < 10; i++) await write(`cats/cat-${i}.jpg`, i);
  for (let i = 0; i < 10; i++) await write(`dogs/dog-${i}.jpg`, 100 + i);
  decoded = [];
  // The real decoder, counted: the bytes identify the file (its seed) only indirectly, so count calls.
  const counting: ImageDecoder = async (bytes, options) => {
    decoded.push(String(bytes.length));
    return sharpDecoder(bytes, options);
  };
  core = startCore({ dataDir: path.join(work, 'data'), mode: 'cli', probeEngines: async () => fakeEngineReport, library: { decoder: counting, autoThumbnails: false, batchSize: 4 } });
});

afterEach(async () => {
  vi.restoreAllMocks();
  try {
    await core.tasks.cancelAll();
    core.close();
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
});

async function folder(): Promise<FolderInfo> {
  const [info] = await core.handlers.libraryFolders({});
  if (!info) throw new Error('no folder');
  return info;
}

/** Rescans and returns the scan's summary and how many files were decoded. */
async function rescan(): Promise<{ summary: ScanSummary; decodes: number }> {
  decoded = [];
  const task = await core.handlers.libraryRescan({ folderId: 1 });
  const ended = await core.tasks.settled(task.id);
  expect(ended.status, ended.error).toBe('finished');
  return { summary: (await folder()).lastScan!, decodes: decoded.length };
}

async function idOf(relPath: string): Promise<number | undefined> {
  const page = await core.handlers.libraryPage({ show: 'images', offset: 0, limit: 500 });
  return page.items.find((item) => item.relPath === relPath)?.id;
}

async function importRoot(): Promise<void> {
  const { task } = await core.handlers.libraryAddFolder({ path: root });
  await core.tasks.settled(task.id);
}

describe('rescanning a folder', () => {
  it('decodes every file once on import, then nothing when nothing changed (and reads no file)', async () => {
    await importRoot();
    expect(decoded).toHaveLength(20);
    expect((await folder()).images).toBe(20);
    const reads = vi.spyOn(fsp, 'readFile');
    const { summary, decodes } = await rescan();
    expect(decodes).toBe(0);
    expect(reads.mock.calls.filter(([file]) => String(file).startsWith(root))).toEqual([]);
    expect(summary).toMatchObject({ seen: 20, imported: 0, updated: 0, unchanged: 20, moved: 0, removed: 0, rejected: 0, decoded: 0 });
  });

  it('decodes only the files added', async () => {
    await importRoot();
    await write('cats/new-1.jpg', 1001);
    await write('birds/new-2.jpg', 1002);
    const { summary, decodes } = await rescan();
    expect(decodes).toBe(2);
    expect(summary).toMatchObject({ imported: 2, unchanged: 20, removed: 0 });
    expect((await folder()).classes.map((entry) => entry.name)).toEqual(['birds', 'cats', 'dogs']);
  });

  it('notices deleted files (and deleted folders) without decoding anything', async () => {
    await importRoot();
    fs.rmSync(path.join(root, 'cats', 'cat-3.jpg'));
    fs.rmSync(path.join(root, 'dogs'), { recursive: true });
    const { summary, decodes } = await rescan();
    expect(decodes).toBe(0);
    expect(summary).toMatchObject({ removed: 11, unchanged: 9 });
    expect((await folder()).images).toBe(9);
    expect(await idOf('cats/cat-3.jpg')).toBeUndefined();
  });

  it('reads a touched file again but does not decode it when its content is the same', async () => {
    await importRoot();
    const file = path.join(root, 'cats', 'cat-5.jpg');
    const later = new Date(Date.now() + 60_000);
    fs.utimesSync(file, later, later);
    const reads = vi.spyOn(fsp, 'readFile');
    const first = await rescan();
    // The spy sees the reads of the import (so it would see any other): exactly this one file.
    expect(reads.mock.calls.map(([name]) => String(name)).filter((name) => name.startsWith(root))).toEqual([file]);
    expect(first.decodes).toBe(0);
    expect(first.summary).toMatchObject({ unchanged: 20, updated: 0 });
    const details = await core.handlers.libraryImage({ id: (await idOf('cats/cat-5.jpg'))! });
    expect(Date.parse(details.mtime)).toBe(Math.floor(fs.statSync(file).mtimeMs));
    // Its new mtime was stored: the next rescan does not even read it.
    reads.mockClear();
    expect((await rescan()).decodes).toBe(0);
    expect(reads.mock.calls.filter(([name]) => String(name).startsWith(root))).toEqual([]);
  });

  it('decodes a changed file again and keeps its id', async () => {
    await importRoot();
    const id = await idOf('dogs/dog-2.jpg');
    const before = await core.handlers.libraryImage({ id: id! });
    await write('dogs/dog-2.jpg', 5555);
    const { summary, decodes } = await rescan();
    expect(decodes).toBe(1);
    expect(summary).toMatchObject({ updated: 1, unchanged: 19 });
    const after = await core.handlers.libraryImage({ id: id! });
    expect(after.contentHash).not.toBe(before.contentHash);
  });

  it('recognises a moved file by its content: no decode, same id, its labels kept, its folder label updated', async () => {
    await importRoot();
    await core.handlers.libraryUseFolderLabels({ folderId: 1 });
    const id = (await idOf('cats/cat-7.jpg'))!;
    const handClass = core.db.prepare("INSERT INTO classes (name) VALUES ('favourite') RETURNING id").pluck().get() as number;
    core.db.prepare("INSERT INTO labels (image_id, class_id, source) VALUES (?, ?, 'hand')").run(id, handClass);
    fs.mkdirSync(path.join(root, 'dogs', 'odd'), { recursive: true });
    fs.renameSync(path.join(root, 'cats', 'cat-7.jpg'), path.join(root, 'dogs', 'odd', 'renamed.jpg'));
    const { summary, decodes } = await rescan();
    expect(decodes).toBe(0);
    expect(summary).toMatchObject({ moved: 1, removed: 0, imported: 0 });
    const details = await core.handlers.libraryImage({ id });
    expect(details.relPath).toBe('dogs/odd/renamed.jpg');
    expect(details.labels).toEqual([
      { className: 'dogs', source: 'folder' },
      { className: 'favourite', source: 'hand' },
    ]);
  });

  it('marks an image that became unreadable as rejected, and imports it again once fixed', async () => {
    await importRoot();
    const file = path.join(root, 'cats', 'cat-1.jpg');
    const good = fs.readFileSync(file);
    fs.writeFileSync(file, good.subarray(0, Math.floor(good.length / 2)));
    let result = await rescan();
    expect(result.decodes).toBe(1);
    expect((await folder())).toMatchObject({ images: 19, rejected: 1 });
    fs.writeFileSync(file, good);
    result = await rescan();
    expect(result.decodes).toBe(1);
    expect((await folder())).toMatchObject({ images: 20, rejected: 0 });
  });

  it('changes nothing when the folder itself is gone (an unplugged drive), and says so', async () => {
    await importRoot();
    fs.renameSync(root, `${root}-away`);
    const task = await core.handlers.libraryRescan({ folderId: 1 });
    const ended = await core.tasks.settled(task.id);
    expect(ended.status).toBe('failed');
    expect(ended.error).toMatch(/cannot be read .*drive connected\? Nothing in the library was changed/);
    expect(await folder()).toMatchObject({ images: 20, scanStatus: 'failed' });
    fs.renameSync(`${root}-away`, root);
    expect((await rescan()).summary).toMatchObject({ unchanged: 20, removed: 0 });
  });

  it('can be cancelled: keeps what it stored, says so, and the next scan goes on from there', async () => {
    // A decoder that stops after 6 images until the test lets it go on.
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let calls = 0;
    core.close();
    core = startCore({
      dataDir: path.join(work, 'data-cancel'),
      mode: 'cli',
      probeEngines: async () => fakeEngineReport,
      library: {
        autoThumbnails: false,
        batchSize: 2,
        concurrency: 1,
        decoder: async (bytes, options) => {
          calls += 1;
          if (calls > 6) await gate;
          return sharpDecoder(bytes, options);
        },
      },
    });
    const { task } = await core.handlers.libraryAddFolder({ path: root });
    while (calls <= 6) await new Promise((resolve) => setTimeout(resolve, 5));
    await core.handlers.taskCancel({ id: task.id });
    release();
    const ended = await core.tasks.settled(task.id);
    expect(ended.status).toBe('cancelled');
    const stopped = await folder();
    expect(stopped.scanStatus).toBe('cancelled');
    expect(stopped.images).toBe(7);
    const resumed = await rescan();
    expect(resumed.summary).toMatchObject({ unchanged: 7, imported: 13, removed: 0 });
    expect((await folder()).images).toBe(20);
  });

  it('finds exact duplicates by content', async () => {
    await importRoot();
    fs.copyFileSync(path.join(root, 'cats', 'cat-2.jpg'), path.join(root, 'dogs', 'copy-of-cat-2.jpg'));
    await rescan();
    const page = await core.handlers.libraryPage({ show: 'duplicates', offset: 0, limit: 50 });
    expect(page.items.map((item) => [item.relPath, item.copies])).toEqual([
      ['cats/cat-2.jpg', 2],
      ['dogs/copy-of-cat-2.jpg', 2],
    ]);
    expect((await folder()).duplicates).toBe(2);
    fs.rmSync(path.join(root, 'dogs', 'copy-of-cat-2.jpg'));
    await rescan();
    expect((await core.handlers.libraryPage({ show: 'duplicates', offset: 0, limit: 50 })).total).toBe(0);
  });
});

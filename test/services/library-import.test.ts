import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FolderInfo, GalleryItem, Problem } from '../../main/common/library';
import { dispatch } from '../../main/services/dispatch';
import { startCore, type Core } from '../../main/core';
import { decodeImage } from '../../main/data/decode';
import { brokenCopy, brokenExpectations, dataset, fakeEngineReport, folderSnapshot, policyOutcomes } from '../helpers/library';

/**
 * The importer on realistic bad files (../shared/datasets/broken, README.txt and
 * ../broken_expected.json): every case gets its expected outcome, the import finishes, nothing
 * else is lost, the user's folder is not written to, and the awkward images come out right.
 */

let work: string;
let core: Core;

beforeEach(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-library-'));
  core = startCore({ dataDir: path.join(work, 'data'), mode: 'cli', probeEngines: async () => fakeEngineReport });
});

afterEach(async () => {
  try {
    await core.tasks.cancelAll();
    core.close();
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
});

/** Adds a folder, waits for its import and its thumbnails; returns the folder as listed. */
async function importFolder(folder: string): Promise<FolderInfo> {
  const { task, folder: added } = await core.handlers.libraryAddFolder({ path: folder });
  const ended = await core.tasks.settled(task.id);
  expect(ended.status, ended.error).toBe('finished');
  for (const thumbnails of core.tasks.list().filter((entry) => entry.kind === 'thumbnails')) await core.tasks.settled(thumbnails.id);
  const listed = (await core.handlers.libraryFolders({})).find((entry) => entry.id === added.id);
  if (!listed) throw new Error('the folder is not listed');
  return listed;
}

async function allImages(folderId?: number): Promise<GalleryItem[]> {
  const page = await core.handlers.libraryPage({ show: 'images', offset: 0, limit: 500, ...(folderId ? { folderId } : {}) });
  expect(page.items).toHaveLength(page.total);
  return page.items;
}

async function allProblems(): Promise<Problem[]> {
  const page = await core.handlers.libraryProblems({ offset: 0, limit: 500 });
  expect(page.items).toHaveLength(page.total);
  return page.items;
}

/** Pixel (x, y) of raw RGB data. */
function pixel(data: Buffer, width: number, x: number, y: number): [number, number, number] {
  const at = (y * width + x) * 3;
  return [data[at]!, data[at + 1]!, data[at + 2]!];
}

describe('importing broken/', () => {
  it('gives every case its expected outcome and loses nothing else', async () => {
    const dir = brokenCopy(work);
    const expected = brokenExpectations();
    expect(expected.size, 'broken_expected.json lists 21 cases').toBe(21);
    const folder = await importFolder(dir);

    const images = new Map((await allImages()).map((item) => [item.relPath.normalize('NFC'), item]));
    const problems = new Map((await allProblems()).map((problem) => [problem.relPath.normalize('NFC'), problem]));
    for (const [name, outcome] of expected) {
      if (outcome === 'import') {
        expect(images.has(name), `${name} should be imported`).toBe(true);
        expect(problems.has(name), `${name} should not be a problem`).toBe(false);
      } else if (outcome === 'reject') {
        expect(problems.get(name)?.reason, `${name} should be rejected with a reason`).toMatch(/\w{4,}/);
        expect(images.has(name), `${name} should not be imported`).toBe(false);
      } else {
        expect(images.has(name), `${name} should be ignored`).toBe(false);
        expect(problems.has(name), `${name} should be ignored, not reported`).toBe(false);
      }
    }
    // README.txt (not an image by name or content) is ignored silently too.
    expect(images.has('README.txt') || problems.has('README.txt')).toBe(false);
    // Nothing else appears, and nothing is lost: exactly the expected imports and rejections.
    const imports = [...expected].filter(([, outcome]) => outcome === 'import').map(([name]) => name);
    const rejects = [...expected].filter(([, outcome]) => outcome === 'reject').map(([name]) => name);
    expect([...images.keys()].sort()).toEqual(imports.sort());
    expect([...problems.keys()].sort()).toEqual(rejects.sort());
    expect(folder).toMatchObject({ images: imports.length, rejected: rejects.length, scanStatus: 'finished', thumbnailsPending: 0 });
    expect(folder.lastScan).toMatchObject({ imported: imports.length, rejected: rejects.length, removed: 0 });
  });

  it('gives each rejected file a reason a person understands', async () => {
    await importFolder(brokenCopy(work));
    const reasons = Object.fromEntries((await allProblems()).map((problem) => [problem.relPath, `${problem.kind}: ${problem.reason}`]));
    expect(reasons['truncated.jpg']).toMatch(/^corrupt: .*truncated/);
    expect(reasons['empty.jpg']).toMatch(/^empty: empty file \(0 bytes\)/);
    expect(reasons['text_renamed.png']).toMatch(/^not-an-image: not an image/);
    expect(reasons['decompression_bomb.png']).toMatch(/^too-large: too large: 30000x30000 .*decompression bomb/);
    expect(reasons['dangling_symlink.jpg']).toMatch(/^symlink: broken symbolic link/);
    expect(reasons['one_pixel.png']).toMatch(/^too-small: too small: 1x1, below the minimum of 8 px/);
  });

  it('follows the documented policy: first frame of animations, nested folders recursed with the top folder as class', async () => {
    expect(Object.keys(policyOutcomes).sort()).toEqual(
      [...brokenExpectations()].filter(([name]) => name in policyOutcomes).map(([name]) => name).sort(),
    );
    await importFolder(brokenCopy(work));
    const images = new Map((await allImages()).map((item) => [item.relPath, item]));
    const gif = await core.handlers.libraryImage({ id: images.get('animated.gif')!.id });
    expect(gif).toMatchObject({ width: 64, height: 64, format: 'gif' });
    expect(gif.note).toMatch(/animated \(6 frames\): the first frame is used/);
    const deep = await core.handlers.libraryImage({ id: images.get('nested/subfolder/deep_image.jpg')!.id });
    expect(deep.folderClass).toBe('nested');
    const png = await core.handlers.libraryImage({ id: images.get('png_with_jpg_ext.jpg')!.id });
    expect(png.format).toBe('png');
    expect(png.note).toMatch(/content is PNG although the name says \.jpg/);
  });

  it('raises or lowers the minimum size per folder: one_pixel.png is imported with a minimum of 1', async () => {
    const dir = brokenCopy(work);
    const { task } = await core.handlers.libraryAddFolder({ path: dir, options: { minSide: 1 } });
    await core.tasks.settled(task.id);
    const names = (await allImages()).map((item) => item.relPath);
    expect(names).toContain('one_pixel.png');
    // And the thumbnail of a 1x1 image is made without a crash.
    for (const thumbnails of core.tasks.list().filter((entry) => entry.kind === 'thumbnails')) await core.tasks.settled(thumbnails.id);
    const id = (await allImages()).find((item) => item.relPath === 'one_pixel.png')!.id;
    const response = await core.media.open('thumbs', id);
    expect(response.status).toBe(200);
  });

  it('refuses an empty folder by name, and says so when a folder holds no image', async () => {
    const empty = path.join(work, 'empty');
    fs.mkdirSync(path.join(empty));
    fs.writeFileSync(path.join(empty, '.DS_Store'), 'x');
    const refused = await dispatch(core.handlers, 'libraryAddFolder', { path: empty });
    expect(refused).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
    expect(!refused.ok && refused.error.message).toBe(`The folder ${empty} is empty: choose the folder that holds your images (its subfolders are included).`);
    expect(await core.handlers.libraryFolders({})).toEqual([]);
    // Files, but none an image: added, and the import says what it found and what to do.
    const notes = path.join(work, 'notes');
    fs.mkdirSync(path.join(notes, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(notes, 'README.txt'), 'hello');
    fs.writeFileSync(path.join(notes, 'sub', 'table.csv'), 'a,b');
    const { task } = await core.handlers.libraryAddFolder({ path: notes });
    const ended = await core.tasks.settled(task.id);
    expect(ended.status).toBe('finished');
    expect(ended.message).toBe('No image found (2 other files ignored): add a folder that holds JPEG, PNG, GIF, WebP, TIFF or AVIF images (subfolders are included).');
    expect(await core.handlers.libraryFolders({})).toMatchObject([{ images: 0, rejected: 0, scanStatus: 'finished' }]);
  });

  it('never writes to the folder it imports', async () => {
    const dir = brokenCopy(work);
    const before = folderSnapshot(dir);
    await importFolder(dir);
    for (const item of await allImages()) {
      expect((await core.media.open('images', item.id)).status, item.relPath).toBe(200);
      expect((await core.media.open('thumbs', item.id)).status, item.relPath).toBe(200);
    }
    const rescan = await core.handlers.libraryRescan({ folderId: 1 });
    await core.tasks.settled(rescan.id);
    expect(folderSnapshot(dir)).toEqual(before);
  });

  it('gives the same result in the same order when run twice', async () => {
    const first = await importFolder(brokenCopy(work));
    const firstImages = (await allImages(first.id)).map((item) => [item.relPath, item.width, item.height, item.format, item.version]);
    const firstProblems = (await allProblems()).map((problem) => [problem.relPath, problem.kind, problem.reason]);
    await core.handlers.libraryRemoveFolder({ folderId: first.id, confirmed: false });
    expect(await allImages()).toEqual([]);
    await importFolder(brokenCopy(work));
    expect((await allImages()).map((item) => [item.relPath, item.width, item.height, item.format, item.version])).toEqual(firstImages);
    expect((await allProblems()).map((problem) => [problem.relPath, problem.kind, problem.reason])).toEqual(firstProblems);
  });
});

describe('awkward images come out right', () => {
  const broken = (name: string): string => path.join(dataset('broken'), name);

  it('turns the 16-bit grayscale PNG into a smooth black-to-white gradient, not white', async () => {
    const image = await decodeImage(broken('sixteen_bit_gray.png'));
    expect([image.width, image.height]).toEqual([256, 64]);
    const row = Array.from({ length: image.width }, (_, x) => pixel(image.data, image.width, x, 32)[0]);
    expect(row[0]).toBeLessThanOrEqual(2);
    expect(row.at(-1)).toBeGreaterThanOrEqual(253);
    for (let x = 1; x < row.length; x++) {
      expect(row[x]!, `x=${x}`).toBeGreaterThanOrEqual(row[x - 1]!);
      expect(row[x]! - row[x - 1]!, `x=${x}`).toBeLessThanOrEqual(2);
    }
    // Gray: the three channels agree.
    expect(pixel(image.data, image.width, 128, 10)).toEqual([row[128], row[128], row[128]]);
  });

  it('reduces the 48-bit RGB PNG to 8 bits by scaling, not truncating', async () => {
    const image = await decodeImage(broken('sixteen_bit_rgb.png'));
    const reds = Array.from({ length: image.width }, (_, x) => pixel(image.data, image.width, x, 20)[0]);
    expect(Math.min(...reds)).toBeLessThanOrEqual(5);
    expect(Math.max(...reds)).toBeGreaterThanOrEqual(250);
    expect(new Set(reds).size).toBeGreaterThan(64);
  });

  it('applies EXIF orientation: portrait, blue bar at the top, in the import, the thumbnail and the image view', async () => {
    const image = await decodeImage(broken('exif_orientation_6.jpg'));
    expect([image.width, image.height]).toEqual([120, 180]);
    const isBlue = ([r, g, b]: number[]) => b! > 150 && r! < 110 && b! > g! + 40;
    expect(isBlue(pixel(image.data, image.width, 60, 5)), 'top is blue').toBe(true);
    expect(isBlue(pixel(image.data, image.width, 60, 175)), 'bottom is not blue').toBe(false);

    await importFolder(brokenCopy(work));
    const item = (await allImages()).find((entry) => entry.relPath === 'exif_orientation_6.jpg')!;
    expect([item.width, item.height]).toEqual([120, 180]);
    for (const kind of ['thumbs', 'images'] as const) {
      const response = await core.media.open(kind, item.id);
      if (response.status !== 200) throw new Error(`${kind}: ${response.status}`);
      const { data, info } = await sharp(response.body).raw().toBuffer({ resolveWithObject: true });
      expect(info.height, kind).toBeGreaterThan(info.width);
      expect(isBlue(pixel(data, info.width, Math.floor(info.width / 2), 3)), `${kind}: top is blue`).toBe(true);
      expect(isBlue(pixel(data, info.width, Math.floor(info.width / 2), info.height - 3)), `${kind}: bottom is not blue`).toBe(false);
    }
  });

  it('converts CMYK without inverting the colours (it matches the same photo stored as WebP)', async () => {
    const cmyk = await decodeImage(broken('cmyk.jpg'));
    const webp = await decodeImage(broken('image.webp'));
    expect([cmyk.width, cmyk.height]).toEqual([webp.width, webp.height]);
    let difference = 0;
    for (let i = 0; i < cmyk.data.length; i++) difference += Math.abs(cmyk.data[i]! - webp.data[i]!);
    expect(difference / cmyk.data.length).toBeLessThan(30);
  });

  it('puts transparent pixels on white, not black, and keeps three channels', async () => {
    const image = await decodeImage(broken('rgba_transparent.png'));
    expect(image.data.length).toBe(image.width * image.height * 3);
    expect(pixel(image.data, image.width, 0, 0)).toEqual([255, 255, 255]);
    const [r, g, b] = pixel(image.data, image.width, 32, 32);
    expect(g).toBeGreaterThan(r + 60);
    expect(g).toBeGreaterThan(b + 60);
  });

  it('reads grayscale JPEGs as three equal channels', async () => {
    const image = await decodeImage(broken('grayscale.jpg'));
    const [r, g, b] = pixel(image.data, image.width, 100, 100);
    expect(r).toBe(g);
    expect(g).toBe(b);
  });
});

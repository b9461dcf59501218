import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { mediaScheme, parseMediaPath } from '../../main/common/library';
import { compareNames, folderClassOf, isHiddenOrSystem, looksLikeClassLayout, walkFolder } from '../../main/data/scan';
import { extensionMatches, hasImageExtension, looksLikeText, sniffFormat } from '../../main/data/sniff';
import { contentSecurityPolicy } from '../../main/server/security';
import { normaliseFolderPath } from '../../main/services/library';
import { brokenCopy, repoRoot } from '../helpers/library';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

describe('format detection from content', () => {
  const bytes = (...values: number[]) => Uint8Array.from(values);
  const text = (value: string) => new TextEncoder().encode(value);

  it.each([
    ['jpeg', bytes(0xff, 0xd8, 0xff, 0xe0, 0, 0x10)],
    ['png', bytes(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0)],
    ['gif', text('GIF89a....')],
    ['webp', text('RIFF\u0000\u0000\u0000\u0000WEBPVP8 ')],
    ['tiff', bytes(0x49, 0x49, 0x2a, 0x00, 8, 0, 0, 0)],
    ['tiff', bytes(0x4d, 0x4d, 0x00, 0x2a, 0, 0, 0, 8)],
    ['avif', text('\u0000\u0000\u0000\u001cftypavif')],
  ])('recognises %s', (format, head) => {
    expect(sniffFormat(head)).toMatchObject({ format, supported: true });
  });

  it.each([
    ['heif', text('\u0000\u0000\u0000\u0018ftypheic')],
    ['bmp', bytes(0x42, 0x4d, 0, 0, 0, 0, 0, 0, 0, 0, 0x36, 0, 0, 0, 40, 0, 0, 0)],
    ['psd', text('8BPS\u0000\u0001')],
  ])('recognises %s and says it is unsupported', (format, head) => {
    expect(sniffFormat(head)).toMatchObject({ format, supported: false });
  });

  it('recognises nothing in text, AppleDouble files and empty input', () => {
    expect(sniffFormat(text('hello, I am not a PNG'))).toBeUndefined();
    expect(sniffFormat(bytes(0x00, 0x05, 0x16, 0x07, 0, 2, 0, 0))).toBeUndefined();
    expect(sniffFormat(bytes())).toBeUndefined();
    expect(looksLikeText(text('plain text\n\twith tabs'))).toBe(true);
    expect(looksLikeText(bytes(0x89, 0x50, 0x4e, 0x47))).toBe(false);
  });

  it('matches extensions case-insensitively and notices a misleading one', () => {
    expect(hasImageExtension('UPPERCASE_EXT.JPEG')).toBe(true);
    expect(hasImageExtension('README.txt')).toBe(false);
    expect(hasImageExtension('.jpg')).toBe(false);
    expect(extensionMatches('png_with_jpg_ext.jpg', 'png')).toBe(false);
    expect(extensionMatches('photo.JPG', 'jpeg')).toBe(true);
    expect(extensionMatches('no-extension', 'png')).toBe(true);
  });
});

describe('walking a folder', () => {
  it('skips hidden and system entries silently', () => {
    for (const name of ['.DS_Store', '._photo.jpg', '.git', 'Thumbs.db', 'desktop.ini', '~$draft.jpg']) expect(isHiddenOrSystem(name, false) || isHiddenOrSystem(name, true), name).toBe(true);
    for (const name of ['__MACOSX', '$RECYCLE.BIN', '@eaDir', 'System Volume Information']) expect(isHiddenOrSystem(name, true), name).toBe(true);
    expect(isHiddenOrSystem('photo.jpg', false)).toBe(false);
    expect(isHiddenOrSystem('cats', true)).toBe(false);
  });

  it('sorts names stably and Unicode-aware, numbers by value', () => {
    const names = ['img10.jpg', 'café 猫.jpg', 'img2.jpg', 'Zebra.jpg', 'apple.jpg', 'cafe.jpg', 'Cafe.jpg'];
    const sorted = [...names].sort(compareNames);
    expect(sorted.indexOf('img2.jpg')).toBeLessThan(sorted.indexOf('img10.jpg'));
    expect(sorted.indexOf('apple.jpg')).toBeLessThan(sorted.indexOf('Zebra.jpg'));
    expect([...names].reverse().sort(compareNames)).toEqual(sorted);
    expect(new Set(sorted).size).toBe(names.length);
  });

  it('lists broken/ without looping through symlink_loop, and reports the dangling link', async () => {
    const dir = brokenCopy();
    dirs.push(dir);
    const result = await walkFolder(dir);
    const names = result.files.map((file) => file.relPath);
    expect(names).toContain('nested/subfolder/deep_image.jpg');
    expect(names).toContain('café 猫.jpg');
    expect(names.some((name) => name.startsWith('symlink_loop'))).toBe(false);
    expect(names.some((name) => name.startsWith('.') || name.includes('/.'))).toBe(false);
    expect(result.problems).toEqual([{ relPath: 'dangling_symlink.jpg', kind: 'symlink', reason: expect.stringMatching(/broken symbolic link/) }]);
    // .DS_Store, ._photo.jpg and the folder link.
    expect(result.ignored).toBe(3);
    // Twice, the same order.
    expect((await walkFolder(dir)).files.map((file) => file.relPath)).toEqual(names);
  });

  it('never descends into an excluded folder (the data folder inside a picked folder)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-walk-'));
    dirs.push(dir);
    fs.mkdirSync(path.join(dir, 'data', 'thumbnails'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'data', 'thumbnails', 'x.webp'), 'x');
    fs.writeFileSync(path.join(dir, 'a.jpg'), 'x');
    const result = await walkFolder(dir, { exclude: [path.join(dir, 'data')] });
    expect(result.files.map((file) => file.relPath)).toEqual(['a.jpg']);
  });
});

describe('classes from the folder layout', () => {
  it.each([
    ['cats/a.jpg', 'cats'],
    ['a.jpg', undefined],
    ['nested/subfolder/deep_image.jpg', 'nested'],
    ['train/airplane/0005.jpg', 'airplane'],
    ['Validation/dog/x.png', 'dog'],
    ['train/loose.jpg', undefined],
  ])('%s belongs to %s', (relPath, expected) => {
    expect(folderClassOf(relPath)).toBe(expected);
  });

  it('offers classes only for two or more class folders holding at least half of the images', () => {
    expect(looksLikeClassLayout([400, 400], 800)).toBe(true);
    expect(looksLikeClassLayout([1], 12)).toBe(false);
    expect(looksLikeClassLayout([3, 2], 20)).toBe(false);
  });
});

describe('folder paths', () => {
  it('expands ~, makes paths absolute and refuses relative ones', () => {
    expect(normaliseFolderPath('~/Pictures/')).toBe(path.join(os.homedir(), 'Pictures'));
    expect(normaliseFolderPath(`  ${path.join(os.tmpdir(), 'a', '..', 'b')}  `)).toBe(path.join(os.tmpdir(), 'b'));
    expect(() => normaliseFolderPath('Pictures')).toThrow(/full path/);
  });
});

describe('media URLs', () => {
  it('accept only a kind and a positive id', () => {
    expect(parseMediaPath('/thumbs/12')).toEqual({ kind: 'thumbs', id: 12 });
    expect(parseMediaPath('/images/1')).toEqual({ kind: 'images', id: 1 });
    for (const bad of ['/thumbs/0', '/thumbs/01', '/thumbs/1/', '/thumbs/../1', '/thumbs/1.jpg', '/files/1', '/thumbs/-1', '/thumbs/1%00', '/thumbs/99999999999999999']) {
      expect(parseMediaPath(bad), bad).toBeUndefined();
    }
  });

  it('are allowed as images by the Content Security Policy, in browser mode and in the page itself', () => {
    const imgSrc = contentSecurityPolicy.split('; ').find((directive) => directive.startsWith('img-src '));
    expect(imgSrc).toBe(`img-src 'self' data: blob: ${mediaScheme}:`);
    const html = fs.readFileSync(path.join(repoRoot, 'renderer', 'index.html'), 'utf8');
    const meta = /http-equiv="Content-Security-Policy"\s+content="([^"]+)"/.exec(html)?.[1];
    expect(meta?.split('; ')).toContain(imgSrc);
  });
});

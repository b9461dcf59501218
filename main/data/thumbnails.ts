import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { defaultMaxPixels, thumbnailSize } from '../common/library';

/**
 * The thumbnail cache under the data folder: one small WebP per distinct image content, named by
 * the content hash (thumbnails/ab/abcdef....webp), so duplicates share one and a moved file
 * keeps its own. Sources are opened read-only; only the cache is written, atomically.
 */

/** The cache folder inside a data folder. */
export function thumbnailDir(dataDir: string): string {
  return path.join(dataDir, 'thumbnails');
}

/** The cache file of the thumbnail of an image with this content hash. */
export function thumbnailFile(cacheDir: string, contentHash: string): string {
  if (!/^[0-9a-f]{64}$/.test(contentHash)) throw new Error(`not a content hash: ${contentHash}`);
  return path.join(cacheDir, contentHash.slice(0, 2), `${contentHash}.webp`);
}

/**
 * A thumbnail of an image (file or bytes): EXIF orientation applied, transparency on white,
 * sRGB, at most `thumbnailSize` px on the long side (never enlarged), as WebP.
 */
export async function renderThumbnail(source: string | Buffer, maxPixels = defaultMaxPixels): Promise<Buffer> {
  return sharp(source, { limitInputPixels: maxPixels, pages: 1, animated: false, failOn: 'none' })
    .autoOrient()
    .resize(thumbnailSize, thumbnailSize, { fit: 'inside', withoutEnlargement: true })
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb')
    .webp({ quality: 78, effort: 2 })
    .toBuffer();
}

/** Writes a thumbnail into the cache atomically (temporary file, then rename); returns its path. */
export async function writeThumbnail(cacheDir: string, contentHash: string, data: Buffer): Promise<string> {
  const target = thumbnailFile(cacheDir, contentHash);
  await fs.mkdir(path.dirname(target), { recursive: true });
  const temporary = `${target}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
  await fs.writeFile(temporary, data);
  await fs.rename(temporary, target);
  return target;
}

/** Removes the cached thumbnail of a content hash (missing is fine). */
export async function removeThumbnail(cacheDir: string, contentHash: string): Promise<void> {
  await fs.rm(thumbnailFile(cacheDir, contentHash), { force: true });
}

/** The long side of the rendition the image view shows. */
export const displaySize = 2048;

/**
 * The rendition of an image the image view shows: upright, sRGB, at most `displaySize` px on
 * the long side, as JPEG, so every format we import (TIFF, 16-bit PNG, CMYK JPEG) displays alike.
 */
export async function renderDisplayImage(source: string | Buffer, maxPixels = defaultMaxPixels): Promise<Buffer> {
  return sharp(source, { limitInputPixels: maxPixels, pages: 1, animated: false, failOn: 'none' })
    .autoOrient()
    .resize(displaySize, displaySize, { fit: 'inside', withoutEnlargement: true })
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb')
    .jpeg({ quality: 90 })
    .toBuffer();
}

import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';

/**
 * The README's first picture, made from screenshots the end-to-end run takes of the product at
 * work: the montage inspector of a paused run, the clusters named after the class folders with
 * their scores, the embedding map of those images, and the fine-tune results. Written to
 * test/output/e2e/readme.png (copy it to resources/docs/screenshot.png to update the README).
 */

/** The panels, in reading order (left to right, top to bottom), by screenshot name. */
export const readmePanels = ['pretrain-montage-inspector-1280x800', 'reference-clusters-1280x800', 'reference-map-1280x800', 'finetune-results-1280x800'] as const;

/** The part of each 1280x800 screenshot shown: the screen itself, without the navigation column. */
const crop = { left: 200, top: 0, width: 1080, height: 776 };
/** The size of each panel in the picture. */
const panel = { width: 800, height: Math.round((800 * crop.height) / crop.width) };
const gap = 8;

/** The size of the picture: two panels by two, with gaps. */
export const readmePictureSize = { width: 2 * panel.width + 3 * gap, height: 2 * panel.height + 3 * gap };

/**
 * Composes the picture when every panel was taken by this run (at or after `since`, ms);
 * returns its path, or why it was not made.
 */
export async function composeReadmePicture(dir: string, since: number): Promise<{ file?: string; skipped?: string }> {
  const stale = readmePanels.filter((name) => {
    const file = path.join(dir, `${name}.png`);
    return !fs.existsSync(file) || fs.statSync(file).mtimeMs < since;
  });
  if (stale.length > 0) return { skipped: `needs the whole e2e run (not taken this time: ${stale.join(', ')})` };
  const tiles = await Promise.all(
    readmePanels.map((name) => sharp(path.join(dir, `${name}.png`)).extract(crop).resize(panel.width, panel.height).png().toBuffer()),
  );
  const { width, height } = readmePictureSize;
  const file = path.join(dir, 'readme.png');
  await sharp({ create: { width, height, channels: 3, background: '#c9ced6' } })
    .composite(tiles.map((input, i) => ({ input, left: gap + (i % 2) * (panel.width + gap), top: gap + Math.floor(i / 2) * (panel.height + gap) })))
    .png({ palette: true, quality: 90, effort: 8 })
    .toFile(file);
  return { file };
}

import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { readmePanels, readmePictureSize } from '../e2e/readme-picture';
import { repoRoot } from '../helpers/library';

/**
 * The README's first picture is the one the end-to-end run composes (test/e2e/readme-picture.ts:
 * the montage inspector, the clusters named after their class folders, the map with a lasso
 * selection and the fine-tune results), kept small.
 */
describe('README picture', () => {
  const file = path.join(repoRoot, 'resources', 'docs', 'screenshot.png');
  const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');

  it('is the e2e run’s composed picture, as a PNG well under 1 MB', async () => {
    const meta = await sharp(file).metadata();
    expect(meta.format).toBe('png');
    expect({ width: meta.width, height: meta.height }).toEqual(readmePictureSize);
    expect(fs.statSync(file).size).toBeLessThan(600_000);
    expect(readmePanels).toHaveLength(4);
  });

  it('comes first in the README, saying what it shows and how it is made', () => {
    const first = /!\[([^\]]*)\]\(([^)]+)\)/.exec(readme)!;
    expect(first[2]).toBe('resources/docs/screenshot.png');
    expect(first[1]).toMatch(/montage inspector/i);
    expect(readme).toContain('test/output/e2e/readme.png');
  });
});

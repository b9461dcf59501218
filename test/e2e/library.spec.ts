import fs from 'node:fs';
import path from 'node:path';
import { brokenCopy, brokenExpectations, dataset } from '../helpers/library';
import { expect, test } from './fixtures';
import { LibraryPage } from './pages/library-page';

/**
 * The library end to end in Chromium (browser mode): add cifar10-dev and broken/ through the
 * path field, watch the imports finish, check the counts, scroll the virtual grid, open an
 * image and step through with the keyboard, read the problems list. Screenshots go to
 * test/output/e2e/.
 */

let broken: string;

test.beforeEach(() => {
  // A copy of broken/ with its two symbolic links (outside the data folder: the app refuses that).
  broken = brokenCopy();
});

test.afterEach(() => {
  fs.rmSync(broken, { recursive: true, force: true });
});

test('imports two folders, shows their counts, scrolls the grid, opens images and lists the problems', async ({ app, page }) => {
  test.setTimeout(240_000);
  const cifar = dataset('cifar10-dev');
  const expected = brokenExpectations();
  const brokenImports = [...expected.values()].filter((outcome) => outcome === 'import').length;
  const brokenRejects = [...expected.values()].filter((outcome) => outcome === 'reject').length;
  const library = new LibraryPage(app);

  await library.open();
  await expect(page.getByTestId('library-empty')).toBeVisible();

  // cifar10-dev: 4000 images in train/<class>/ and test/<class>/.
  // Record every state the import's progress shows, however fast it goes.
  await library.recordTaskStates();
  await library.addFolder(cifar);
  const running = library.importTask('cifar10-dev');
  if ((await running.getAttribute('data-status')) === 'running') await app.screenshot('library-importing');
  const cifarTask = await library.waitForImport('cifar10-dev');
  const states = await library.recordedTaskStates();
  // It ran in the background with partial counts out of the 4,002 files found, then finished.
  expect(states.some((state) => /^running\|\d[\d,]* \/ 4,002 files$/.test(state) && !state.includes('4,002 /'))).toBe(true);
  expect(states.at(-1)).toMatch(/^finished\|4,002 \/ 4,002 files$/);
  await expect(cifarTask.getByTestId('task-detail')).toContainText('imported 4,000');
  expect(await library.counts('cifar10-dev')).toEqual({ images: 4000, rejected: 0, labelled: 0 });
  const offer = library.folder('cifar10-dev').getByTestId('folder-offer');
  await expect(offer).toContainText('10 classes');

  // broken/: every awkward case.
  await library.addFolder(broken);
  await library.waitForImport(path.basename(broken));
  expect(await library.counts(path.basename(broken))).toEqual({ images: brokenImports, rejected: brokenRejects, labelled: 0 });
  await expect(page.getByTestId('library-totals')).toContainText(`${(4000 + brokenImports).toLocaleString('en-US')} images`);
  await expect.poll(() => library.galleryCount()).toBe(4000 + brokenImports);

  // Folder names as labels.
  await offer.getByTestId('folder-use-labels').click();
  await expect.poll(async () => (await library.counts('cifar10-dev')).labelled).toBe(4000);

  await library.expectThumbnailLoaded(0);
  await app.screenshotSizes('library-gallery');

  // The virtual grid: only rows near the view exist; scrolling far loads those pages.
  const rendered = await library.renderedIndexes();
  expect(rendered.length).toBeGreaterThan(10);
  expect(rendered.length).toBeLessThan(400);
  await library.scrollTo(0.5);
  await expect
    .poll(async () => {
      const indexes = await library.renderedIndexes();
      return indexes.length > 0 ? Math.min(...indexes) : -1;
    })
    .toBeGreaterThan(1000);
  const middle = Math.min(...(await library.renderedIndexes())) + 5;
  await library.expectThumbnailLoaded(middle);
  await library.scrollTo(1);
  const last = 4000 + brokenImports - 1;
  await expect(library.tile(last)).toBeVisible();
  await library.expectThumbnailLoaded(last);
  await app.screenshot('library-grid-scrolled');

  // The image view: arrows step, Esc closes.
  await library.scrollTo(0);
  await library.openImage(0);
  await expect(library.viewer.getByTestId('viewer-position')).toHaveText(`1 / ${(4000 + brokenImports).toLocaleString('en-US')}`);
  await expect(library.viewer.getByTestId('viewer-dimensions')).toHaveText('32 × 32');
  await expect(library.viewer.getByTestId('viewer-format')).toHaveText('JPEG');
  await expect(library.viewer.getByTestId('viewer-facts')).toContainText('airplane');
  await page.keyboard.press('ArrowRight');
  await expect(library.viewer).toHaveAttribute('data-index', '1');
  await page.keyboard.press('ArrowRight');
  await expect(library.viewer.getByTestId('viewer-position')).toHaveText(/^3 \//);
  await page.keyboard.press('ArrowLeft');
  await expect(library.viewer).toHaveAttribute('data-index', '1');
  await app.screenshot('library-image-viewer');
  await library.closeViewer();

  // broken/ alone: the EXIF-rotated image is upright (portrait).
  await library.filterFolder(path.basename(broken));
  await expect.poll(() => library.galleryCount()).toBe(brokenImports);
  const exifTile = library.grid.locator('[data-testid="gallery-tile"][title="exif_orientation_6.jpg"]');
  await exifTile.click();
  await expect(library.viewer.getByTestId('viewer-dimensions')).toHaveText('120 × 180');
  const shown = library.viewer.getByTestId('viewer-image');
  await expect.poll(() => shown.evaluate((element: HTMLImageElement) => element.naturalHeight > element.naturalWidth && element.naturalWidth > 0)).toBe(true);
  await app.screenshot('library-viewer-exif');
  await library.closeViewer();
  await app.screenshot('library-broken');

  // The problems list: every rejected file with its reason.
  const rows = await library.openProblems();
  await expect(rows).toHaveCount(brokenRejects);
  await expect(library.problems.getByTestId('problems-total')).toHaveText(String(brokenRejects));
  for (const [name, outcome] of expected) {
    if (outcome !== 'reject') continue;
    const row = rows.filter({ hasText: name });
    await expect(row, name).toHaveCount(1);
    await expect(row.getByTestId('problem-reason'), name).not.toBeEmpty();
  }
  await expect(rows.filter({ hasText: 'truncated.jpg' })).toContainText(/truncated/);
  await expect(rows.filter({ hasText: 'decompression_bomb.png' })).toContainText(/decompression bomb/);
  // The list and its badge follow the folder filter: cifar10-dev had no problem; all folders show broken's again.
  await expect(page.getByTestId('problems-badge')).toHaveText(String(brokenRejects));
  await library.filterFolder('cifar10-dev');
  await expect(library.problems.getByTestId('problems-total')).toHaveText('0');
  await expect(rows).toHaveCount(0);
  await expect(page.getByTestId('problems-badge')).toHaveText('0');
  await library.filterFolder('All folders');
  await expect(library.problems.getByTestId('problems-total')).toHaveText(String(brokenRejects));
  await expect(rows).toHaveCount(brokenRejects);
  const shot = await app.screenshot('library-problems');
  await app.screenshotSizes('library-problems');
  expect(fs.statSync(shot).size).toBeGreaterThan(10_000);
});

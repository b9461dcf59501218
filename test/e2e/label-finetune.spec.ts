import fs from 'node:fs';
import type { Locator } from '@playwright/test';
import { dataset } from '../helpers/library';
import { expect, test } from './fixtures';
import { ClustersPage } from './pages/clusters-page';
import { FinetunePage } from './pages/finetune-page';
import { LabelPage, type GroupLabelCounts } from './pages/label-page';
import { LibraryPage } from './pages/library-page';
import { PretrainPage } from './pages/pretrain-page';

/**
 * Labelling and one-click fine-tuning end to end in Chromium (browser mode), as a person does
 * it: import ../shared/datasets/tiny without its folder labels, pretrain a short cpu-small run
 * and cluster its embeddings (k = 3); on the Label screen create 3 classes and a fourth that
 * renumbers none of their keys, open the shortcut sheet with `?`, label images with
 * the number keys (reading each image's folder to know its class), undo and redo with the
 * keyboard, and label a whole cluster in one action (asked first: hand labels inside it are
 * kept unless told otherwise); fine-tune (linear probe and fine-tune)
 * with one click, open the chosen classifier's confusion matrix and a cell's images; work
 * through three review-queue items with Enter and a number key; export the labels and
 * predictions as CSV and check the file. Screenshots go to test/output/e2e/.
 */

test.use({ actionTimeout: 30_000 });

const classes = ['airplane', 'frog', 'truck'];

test('labels with keys and by cluster, fine-tunes, reviews and exports', async ({ app, page }) => {
  test.setTimeout(600_000);
  const library = new LibraryPage(app);
  const pretrain = new PretrainPage(app);
  const clusters = new ClustersPage(app);
  const label = new LabelPage(app);
  const finetune = new FinetunePage(app);

  // Fine-tune before any backbone or label: the screen says what is missing.
  await finetune.open();
  await expect(page.getByTestId('ft-no-backbone')).toBeVisible();

  // tiny, without its folder names as labels: every label here is set by hand.
  await library.open();
  await library.addFolder(dataset('tiny'));
  await library.waitForImport('tiny');
  expect((await library.counts('tiny')).labelled).toBe(0);

  // A short run whose last checkpoint is the backbone in use, then k = 3 clusters.
  await pretrain.trainShort({ epochs: 2, batch: 8 });
  // The first run to finish is the backbone in use by itself.
  await expect(page.getByTestId('checkpoint-row').first().getByTestId('checkpoint-in-use')).toBeVisible();
  await clusters.open();
  await clusters.computeEmbeddings(24);
  await clusters.cluster(3);

  // Three classes, numbered 1-3 in the order of the list.
  await label.open();
  await expect(page.getByTestId('classes-empty')).toBeVisible();
  for (const name of classes) await label.createClass(name);
  await expect(page.getByTestId('class-row')).toHaveCount(3);
  const keys = new Map<string, string>();
  for (const name of classes) keys.set(name, await label.keyOf(name));
  expect([...keys.values()].sort()).toEqual(['1', '2', '3']);
  // Keys stay with their classes: a fourth class, first by name, takes key 4 and renumbers nothing.
  await label.createClass('bird');
  for (const name of classes) expect(await label.keyOf(name), name).toBe(keys.get(name));
  expect(await label.keyOf('bird')).toBe('4');
  // `?` lists the shortcuts of this screen first, with every class's key.
  await page.keyboard.press('?');
  const sheet = page.getByTestId('shortcut-sheet');
  await expect(sheet).toHaveAttribute('data-screen', 'label');
  await expect(sheet.getByTestId('shortcut-class')).toHaveCount(4);
  for (const [name, key] of [...keys, ['bird', '4']]) {
    await expect(sheet.locator(`[data-testid="shortcut-class"][data-class-name="${name}"]`)).toHaveAttribute('data-key', key!);
  }
  await app.screenshot('label-shortcuts');
  await page.keyboard.press('Escape');
  await expect(sheet).toBeHidden();

  // Label four images with their class's number key (an airplane, a frog, a truck, another
  // truck), finding each with the arrow keys; each is saved and the next one comes up.
  await expect(page.getByTestId('label-count')).toContainText('24');
  await page.getByTestId('label-tile').first().click();
  await expect(page.getByTestId('label-position')).toContainText('1 / 24');
  /** Moves with the arrows (right, then left from the end) to an unlabelled image of `cls`. */
  const seek = async (cls: string): Promise<{ id: number; path: string }> => {
    for (const key of ['ArrowRight', 'ArrowLeft']) {
      for (let step = 0; step < 24; step += 1) {
        const current = await label.currentImage();
        if (current.label === '' && current.path.split('/')[0] === cls) return current;
        await page.keyboard.press(key);
        const moved = await expect(label.current)
          .not.toHaveAttribute('data-image-id', String(current.id), { timeout: 2_000 })
          .then(() => true, () => false);
        if (!moved) break; // the end of the list: go the other way
      }
    }
    throw new Error(`no unlabelled ${cls} image to be found with the arrow keys`);
  };
  const labelledByKey: { id: number; cls: string }[] = [];
  for (const cls of ['airplane', 'frog', 'truck', 'truck']) {
    const current = await seek(cls);
    const before = await label.handCount(cls);
    await page.keyboard.press(keys.get(cls)!);
    await expect(page.getByTestId('label-saved')).toHaveAttribute('data-state', 'saved');
    await expect.poll(() => label.handCount(cls)).toBe(before + 1);
    await expect(label.current).not.toHaveAttribute('data-image-id', String(current.id));
    labelledByKey.push({ id: current.id, cls });
  }
  // The arrows took the labelling through all three classes.
  expect(new Set(labelledByKey.map((entry) => entry.cls))).toEqual(new Set(classes));
  const handTotal = async (): Promise<number> => {
    let sum = 0;
    for (const name of classes) sum += await label.handCount(name);
    return sum;
  };
  expect(await handTotal()).toBe(4);
  await app.screenshotSizes('label-keys');

  // Undo (Ctrl+Z) takes the last label back; redo (Ctrl+Shift+Z) puts it back; undo again.
  const last = labelledByKey.at(-1)!;
  const lastCount = await label.handCount(last.cls);
  await page.keyboard.press('Control+z');
  await expect(label.notice).toHaveAttribute('data-kind', 'undo');
  await expect.poll(() => label.handCount(last.cls)).toBe(lastCount - 1);
  await expect(label.current).toHaveAttribute('data-image-id', String(last.id));
  await expect(label.current).toHaveAttribute('data-label', '');
  await page.keyboard.press('Control+Shift+z');
  await expect(label.notice).toHaveAttribute('data-kind', 'redo');
  await expect.poll(() => label.handCount(last.cls)).toBe(lastCount);
  await page.keyboard.press('Control+z');
  await expect.poll(() => label.handCount(last.cls)).toBe(lastCount - 1);
  expect(await handTotal()).toBe(3);
  await app.screenshot('label-undo');

  // A whole cluster in one action, asked first. No class is chosen in advance; find a cluster
  // holding a hand label of another class than the one asked for.
  await page.getByTestId('label-tab-clusters').click();
  const rows = page.getByTestId('label-cluster-row');
  await expect(rows).toHaveCount(3);
  for (const select of await rows.getByTestId('label-cluster-class').all()) await expect(select).toHaveValue('');
  let asked: { row: Locator; cls: string; size: number; counts: GroupLabelCounts } | undefined;
  search: for (let r = 0; r < 3; r += 1) {
    for (const cls of classes) {
      const row = rows.nth(r);
      const counts = await label.askGroupLabel(row, cls);
      if (counts.other > 0) {
        asked = { row, cls, size: Number(await row.getAttribute('data-size')), counts };
        break search;
      }
      await label.answerGroupLabel('cancel');
    }
  }
  expect(asked, 'a cluster with a hand label of another class').toBeDefined();
  const { row, cls: clusterClass, size, counts: groupCounts } = asked!;
  expect(groupCounts.images).toBe(size);
  expect(groupCounts.unlabelled + groupCounts.same + groupCounts.other).toBe(size);
  await app.screenshotSizes('label-cluster-confirm');
  const handBefore = new Map<string, number>();
  for (const name of classes) handBefore.set(name, await label.handCount(name));
  // Kept (the default): only images without a hand label get the class.
  await label.answerGroupLabel('keep');
  await expect(label.notice).toHaveAttribute('data-kind', 'label');
  await expect.poll(() => label.handCount(clusterClass)).toBe(handBefore.get(clusterClass)! + groupCounts.unlabelled);
  for (const name of classes.filter((name) => name !== clusterClass)) expect(await label.handCount(name)).toBe(handBefore.get(name));
  const keptCounts = new Map<string, number>();
  for (const name of classes) keptCounts.set(name, await label.handCount(name));
  // Told otherwise: the other hand labels of the cluster change too; Undo brings them back.
  const again = await label.askGroupLabel(row, clusterClass);
  expect(again).toEqual({ images: size, unlabelled: 0, same: groupCounts.same + groupCounts.unlabelled, other: groupCounts.other });
  await label.answerGroupLabel('replace');
  await expect.poll(() => label.handCount(clusterClass)).toBe(keptCounts.get(clusterClass)! + groupCounts.other);
  await page.getByTestId('label-undo').click();
  await expect(label.notice).toHaveAttribute('data-kind', 'undo');
  for (const name of classes) await expect.poll(() => label.handCount(name), name).toBe(keptCounts.get(name));
  const afterCluster = await handTotal();
  expect(afterCluster).toBe(3 + groupCounts.unlabelled);
  await app.screenshot('label-cluster');

  // One click: a linear probe and a fine-tune (4 epochs each to keep the test short).
  await finetune.open();
  await expect(page.getByTestId('ft-label-count')).toHaveAttribute('data-images', String(afterCluster));
  await finetune.setEpochs(4);
  await finetune.start();
  await finetune.tab('results');
  await expect(finetune.cards).toHaveCount(2);
  expect((await finetune.cards.evaluateAll((cards) => cards.map((c) => c.getAttribute('data-mode')))).sort()).toEqual(['fine-tune', 'linear-probe']);
  await expect(page.locator('[data-testid="classifier-card"][data-chosen="true"]')).toHaveCount(1);
  for (const card of await finetune.cards.all()) await expect(card.getByTestId('classifier-accuracy')).toHaveText(/\d+(\.\d)?%|—/);
  await app.screenshotSizes('finetune-results');

  // The confusion matrix of the chosen classifier: its cells count the validation images; a cell opens its images.
  await expect(finetune.matrix).toBeVisible();
  const cells = finetune.matrix.getByTestId('confusion-cell');
  const counts = await cells.evaluateAll((list) => list.map((cell) => Number(cell.getAttribute('data-count'))));
  const labelledClasses = Math.round(Math.sqrt(counts.length));
  expect(labelledClasses * labelledClasses).toBe(counts.length);
  expect(labelledClasses).toBeGreaterThanOrEqual(2);
  expect(counts.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  const full = counts.findIndex((count) => count > 0);
  await cells.nth(full).click();
  const images = page.getByTestId('confusion-images');
  await expect(images).toHaveAttribute('data-count', String(counts[full]));
  await expect(images.getByTestId('confusion-image')).toHaveCount(counts[full]!);
  await finetune.matrix.scrollIntoViewIfNeeded();
  await app.screenshotSizes('finetune-confusion');

  // The review queue: accept with Enter, correct with a number key, accept again.
  await finetune.tab('review');
  // `?` works here too, with the review keys first.
  await page.keyboard.press('?');
  await expect(sheet).toHaveAttribute('data-screen', 'finetune');
  await page.getByTestId('shortcut-close').click();
  await expect(sheet).toBeHidden();
  const seen = new Set<number>();
  const first = await finetune.reviewItem();
  seen.add(first.imageId);
  await page.keyboard.press('Enter');
  await expect(finetune.reviewCounter).toHaveAttribute('data-reviewed', '1');
  const second = await finetune.reviewItem();
  expect(seen.has(second.imageId)).toBe(false);
  seen.add(second.imageId);
  await page.keyboard.press(keys.get('truck')!);
  await expect(finetune.reviewCounter).toHaveAttribute('data-reviewed', '2');
  const third = await finetune.reviewItem();
  expect(seen.has(third.imageId)).toBe(false);
  await page.keyboard.press('Enter');
  await expect(finetune.reviewCounter).toHaveAttribute('data-reviewed', '3');
  await app.screenshotSizes('finetune-review');

  // The three reviewed images are hand-labelled now: the accepted ones as predicted, the corrected one as truck.
  await label.open();
  await expect.poll(handTotal).toBe(afterCluster + 3);

  // Export labels and predictions as CSV: one row per image, hand labels and predictions.
  await finetune.open();
  await finetune.tab('export');
  const downloadPromise = page.waitForEvent('download');
  await page.getByTestId('export-csv').click();
  const download = await downloadPromise;
  expect(download.suggestedFilename()).toMatch(/\.csv$/);
  const csv = fs.readFileSync((await download.path())!, 'utf8').trim().split(/\r?\n/);
  expect(csv[0]).toBe('path,label,source,confidence');
  const body = csv.slice(1).map((line) => line.split(','));
  expect(body).toHaveLength(24);
  expect(body.filter((cells) => cells[2] === 'hand')).toHaveLength(afterCluster + 3);
  expect(body.filter((cells) => cells[2] === 'prediction')).toHaveLength(24 - afterCluster - 3);
  for (const cells of body) {
    expect(classes).toContain(cells[1]);
    if (cells[2] === 'prediction') expect(Number(cells[3])).toBeGreaterThan(0);
  }
  // Second review item corrected to truck.
  expect(body.some((cells) => cells[1] === 'truck' && cells[2] === 'hand')).toBe(true);
  await expect(page.getByTestId('export-done')).toBeVisible();
  await app.screenshot('finetune-export');
});

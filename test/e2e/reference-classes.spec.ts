import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dataset } from '../helpers/library';
import { expect, test } from './fixtures';
import { ClustersPage } from './pages/clusters-page';
import { LibraryPage } from './pages/library-page';
import { PretrainPage } from './pages/pretrain-page';

/**
 * Scores against the truth a person already has, end to end in Chromium (browser mode): a
 * folder of 10 CIFAR class subfolders (300 images, the first 30 of each class of
 * ../shared/datasets/cifar10-dev/train, copied to a temporary folder) is imported WITHOUT
 * using its folder names as labels. A short run draws a kNN curve on held-out images of those
 * classes and says how many; when it finishes it is the backbone in use (none was) and says
 * so at the top of its page. The Clusters screen scores k = 10 clusters against the class
 * folders (NMI, ARI and purity over all 300 images) and names the clusters after them; the
 * map shows the 300 images coloured by cluster. Screenshots at 1440x900 and 1280x800, with no sideways scrolling.
 */

const perClass = 30;
let cifar: string;

test.beforeAll(() => {
  cifar = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-cifar300-'));
  const train = path.join(dataset('cifar10-dev'), 'train');
  for (const name of fs.readdirSync(train).sort()) {
    fs.mkdirSync(path.join(cifar, name));
    for (const file of fs.readdirSync(path.join(train, name)).sort().slice(0, perClass)) {
      fs.copyFileSync(path.join(train, name, file), path.join(cifar, name, file));
    }
  }
});

test.afterAll(() => {
  fs.rmSync(cifar, { recursive: true, force: true });
});

test.use({ actionTimeout: 30_000 });

test('class subfolders give a kNN curve and cluster scores without labels; a finished run is the backbone in use', async ({ app, page }) => {
  test.setTimeout(480_000);
  const library = new LibraryPage(app);
  const pretrain = new PretrainPage(app);
  const clusters = new ClustersPage(app);
  const folder = path.basename(cifar);

  await library.open();
  await library.addFolder(cifar);
  await library.waitForImport(folder);
  expect(await library.counts(folder)).toEqual({ images: 300, rejected: 0, labelled: 0 });
  await expect(library.folder(folder).getByTestId('folder-offer')).toContainText('10 classes');

  // One short epoch: 300 images, batch 32, a narrow cpu-small.
  const runId = await pretrain.trainShort({ epochs: 1, batch: 32 }, 300_000);

  // The kNN monitor used the class folders: 6 held out per class, before training and after the epoch.
  const note = page.getByTestId('knn-note');
  await expect(note).toHaveAttribute('data-state', 'shown');
  await expect(note).toHaveAttribute('data-queries', '60');
  await expect(note).toContainText('60 held-out images of 10 classes');
  await expect(page.getByTestId('chart-accuracy')).toHaveAttribute('data-series', '3');
  await expect(page.getByTestId('run-knn')).toHaveText(/^\d+(\.\d)?% of 60$/);
  await expect(page.getByTestId('run-log')).toContainText(/kNN accuracy after epoch 1: [\d.]+% of 60 held-out images/);
  // No backbone was in use: this run is now, and its page says so first.
  const use = page.getByTestId('use-backbone');
  await expect(use).toHaveAttribute('data-state', 'in-use');
  await app.screenshotSizes('reference-run');

  // Clusters: the run's checkpoint is chosen; 10 clusters scored against the 300 class folders.
  await use.getByTestId('use-backbone-clusters').click();
  await expect(clusters.view).toBeVisible();
  await expect(clusters.source).toHaveValue(new RegExp(`^c:${runId}:\\d+$`));
  await clusters.computeEmbeddings(300);
  await clusters.cluster(10);
  const basis = page.getByTestId('score-basis');
  await expect(basis).toHaveAttribute('data-shown', 'true');
  await expect(basis).toHaveAttribute('data-labelled', '300');
  await expect(basis).toHaveAttribute('data-from-folders', '300');
  await expect(basis).toHaveText('Scored against the class folders of 300 images (10 classes).');
  const nmi = Number(await clusters.scores.getByTestId('score-nmi').textContent());
  expect(nmi).toBeGreaterThan(0);
  expect(nmi).toBeLessThanOrEqual(1);
  await expect(clusters.scores.getByTestId('score-purity')).toHaveText(/^\d+%$/);
  // Every cluster of 5 or more images is named after its most common class folder, with its share.
  const classNames = fs.readdirSync(cifar);
  const names = await clusters.cards.getByTestId('cluster-majority').evaluateAll((spans) =>
    spans.map((span) => ({ majority: span.getAttribute('data-majority'), labelled: Number(span.getAttribute('data-labelled')), text: span.textContent?.trim() })),
  );
  expect(names).toHaveLength(10);
  for (const name of names) {
    if (name.labelled >= 5) {
      expect(classNames).toContain(name.majority);
      expect(name.text).toMatch(new RegExp(`^mostly ${name.majority} · \\d+% of ${name.labelled}$`));
    } else expect(name.majority).toBe('');
  }
  await app.screenshotSizes('reference-clusters');

  // The map of the 300 images, coloured by those clusters.
  await clusters.openMap(300);
  await expect(clusters.map.getByTestId('map-legend-item')).toHaveCount(10);
  // Scrolled as a person would, so the map fills the screen.
  await app.screenshotSizes('reference-map', undefined, () => clusters.map.evaluate((element) => element.scrollIntoView({ block: 'start' })));
});

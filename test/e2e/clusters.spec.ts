import { dataset } from '../helpers/library';
import { expect, test } from './fixtures';
import { ClustersPage, type MapPoint } from './pages/clusters-page';
import { LibraryPage } from './pages/library-page';
import { PretrainPage } from './pages/pretrain-page';

/**
 * The Clusters screen end to end in Chromium (browser mode), as a person uses it: import
 * ../shared/datasets/tiny with its folder names as labels, pretrain a short cpu-small run (2
 * epochs, width 0.125, batch 8) whose last checkpoint is then in use, embed the 24 images,
 * cluster them with k = 3 (too few images for scores: they are hidden and said so), open a cluster, open the map and lasso a group of points with the
 * mouse; the selection grid must show exactly the images of the points inside the lasso.
 * Screenshots of each screen go to test/output/e2e/.
 *
 * Where the map draws each point is read from the map (`jigcluMap` on its element, see the page
 * object); the lasso is a circle around one point whose radius falls in a gap of at least 12 px
 * between the points' distances, so no point is near its edge and the expected set is exact.
 */

/** A lasso to draw: a circle (as a 40-gon) around `centre`, and the points it holds. */
function lassoAround(
  points: MapPoint[],
  box: { x: number; y: number; width: number; height: number },
): { polygon: { x: number; y: number }[]; inside: MapPoint[] } | undefined {
  const margin = 4;
  for (const centre of points) {
    const sorted = points
      .map((p) => ({ p, d: Math.hypot(p.x - centre.x, p.y - centre.y) }))
      .sort((a, b) => a.d - b.d);
    // Room to the plot's edges: the lasso must stay inside the plot.
    const room =
      Math.min(
        centre.x - box.x,
        box.x + box.width - centre.x,
        centre.y - box.y,
        box.y + box.height - centre.y,
      ) - margin;
    for (let j = 2; j < sorted.length - 3; j += 1) {
      const gap = sorted[j + 1]!.d - sorted[j]!.d;
      const radius = (sorted[j]!.d + sorted[j + 1]!.d) / 2;
      if (gap < 12 || radius > room || radius < 12) continue;
      const polygon = Array.from({ length: 40 }, (_, i) => ({
        x: centre.x + radius * Math.cos((2 * Math.PI * i) / 40),
        y: centre.y + radius * Math.sin((2 * Math.PI * i) / 40),
      }));
      return { polygon, inside: sorted.slice(0, j + 1).map((entry) => entry.p) };
    }
  }
  return undefined;
}

// Long waits say how long they wait; any other step that hangs fails in 30 s, not at the test's end.
test.use({ actionTimeout: 30_000 });

test('embeds, clusters, browses clusters, maps and lassos images with a pretrained backbone', async ({
  app,
  page,
}) => {
  test.setTimeout(480_000);
  const library = new LibraryPage(app);
  const pretrain = new PretrainPage(app);
  const clusters = new ClustersPage(app);
  // The map's WebGL drawing must live with the strict CSP (no 'unsafe-eval'): any refusal fails the test.
  const refused: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy|unsafe-eval|EvalError|not compiled ahead of time/i.test(message.text()))
      refused.push(message.text());
  });
  page.on('pageerror', (error) => refused.push(error.message));

  // Nothing trained yet: the screen says so and links to Pretrain.
  await clusters.open();
  await expect(page.getByTestId('clusters-no-runs')).toBeVisible();
  await expect(page.getByTestId('clusters-go-pretrain')).toHaveAttribute('href', /#\/pretrain/);
  await app.screenshot('clusters-nothing-trained');

  // The library: tiny, with its folder names as labels.
  await library.open();
  await library.addFolder(dataset('tiny'));
  await library.waitForImport('tiny');
  await library.folder('tiny').getByTestId('folder-use-labels').click();
  await expect.poll(async () => (await library.counts('tiny')).labelled).toBe(24);

  // A short run: cpu-small, 2 epochs of 3 steps.
  const runId = await pretrain.trainShort({ epochs: 2, batch: 8 });

  // No backbone was in use: its last checkpoint became it when it finished.
  const newest = page.getByTestId('checkpoint-row').first();
  const step = Number(await newest.getAttribute('data-step'));
  expect(step).toBe(6);
  await expect(newest.getByTestId('checkpoint-in-use')).toBeVisible();
  await expect(page.getByTestId('use-backbone')).toHaveAttribute('data-state', 'in-use');

  // Clusters: the backbone in use is chosen; nothing embedded yet.
  await clusters.open();
  await expect(clusters.source).toHaveValue(`c:${runId}:${step}`);
  await expect(clusters.source.locator('option')).toHaveCount(3);
  await expect(page.getByTestId('clusters-no-embeddings')).toBeVisible();
  await expect(clusters.embedCount).toHaveAttribute('data-library', '24');
  await expect(clusters.embedCount).toHaveAttribute('data-embedded', '0');
  await app.screenshot('clusters-no-embeddings');

  // Embed the 24 images; asking again says they are all embedded.
  await clusters.computeEmbeddings(24);
  await expect(page.getByTestId('task-embed')).toHaveAttribute('data-status', 'finished');
  await expect(clusters.embedCount).toContainText('24 / 24');
  await page.getByTestId('embed-start').click();
  await expect(page.getByTestId('embed-all-done')).toContainText('All 24 images');

  // k-means with k = 3: three cards whose sizes sum to 24. The scores against the class
  // folders would rest on 24 images, under the 30 they need: counted, hidden, and said so.
  await expect(page.getByTestId('clusters-none')).toBeVisible();
  await clusters.cluster(3);
  await expect(clusters.scores).toHaveAttribute('data-images', '24');
  const basis = page.getByTestId('score-basis');
  await expect(basis).toHaveAttribute('data-labelled', '24');
  await expect(basis).toHaveAttribute('data-shown', 'false');
  await expect(basis).toContainText('Scores hidden: they would rest on the class folders of 24 images, under the 30');
  await expect(clusters.scores.getByTestId('score-nmi')).toHaveCount(0);
  await expect(clusters.cards).toHaveCount(3);
  const cards = await clusters.cardSizes();
  expect(cards.reduce((sum, card) => sum + card.size, 0)).toBe(24);
  expect(cards.map((card) => card.cluster).sort()).toEqual([0, 1, 2]);
  // Sorted by size, largest first; every card shows 1 to 8 of its images nearest the centre.
  expect(cards.map((card) => card.size)).toEqual([...cards.map((card) => card.size)].sort((a, b) => b - a));
  for (const card of cards) {
    const shown = await clusters.grid
      .locator(`[data-testid="cluster-card"][data-cluster="${card.cluster}"]`)
      .getByTestId('cluster-representative')
      .count();
    expect(shown).toBe(Math.min(8, card.size));
  }
  await expect(clusters.cards.first().getByTestId('cluster-majority')).toHaveText(/airplane|frog|truck/);
  await clusters.grid.scrollIntoViewIfNeeded();
  await app.screenshotSizes('clusters-cards');

  // Open the largest cluster: all its images, nearest the centre first, each with its distance.
  const largest = cards[0]!;
  await clusters.openCluster(largest.cluster);
  await expect(clusters.detail.getByTestId('cluster-image')).toHaveCount(largest.size);
  const tiles = await clusters.clusterTiles();
  const distances = tiles.map((tile) => Number(tile.distance));
  expect(distances.every((d) => Number.isFinite(d))).toBe(true);
  expect(distances).toEqual([...distances].sort((a, b) => a - b));
  await expect(clusters.detail.getByTestId('cluster-outliers-list')).toBeVisible();
  await page.getByTestId('cluster-images').scrollIntoViewIfNeeded();
  await app.screenshotSizes('clusters-detail');

  // Similar images of its first image: its nearest neighbours, nearest first.
  await clusters.detail.getByTestId('cluster-image').first().getByTestId('similar-open').click();
  await expect(clusters.similar).toHaveAttribute('data-image-id', String(tiles[0]!.imageId));
  await expect(clusters.similar.getByTestId('similar-item')).toHaveCount(23);
  const neighbours = await clusters.similar.getByTestId('tile-distance').allTextContents();
  expect(neighbours.map(Number)).toEqual([...neighbours.map(Number)].sort((a, b) => a - b));
  await app.screenshot('clusters-similar');
  await page.getByTestId('similar-close').click();
  await expect(clusters.similar).toBeHidden();

  // Near-duplicates over the whole set with a loose threshold.
  await page.getByTestId('cluster-back').click();
  await expect(clusters.grid).toBeVisible();
  await page.getByTestId('duplicates-threshold').fill('0.3');
  await page.getByTestId('duplicates-find').click();
  await expect(page.getByTestId('duplicates-count')).toBeVisible({ timeout: 60_000 });

  // The map: PCA, coloured by cluster (3 colours once every image's cluster is read).
  await clusters.openMap(24);
  // regl-scatterplot draws it (WebGL), not the Canvas 2D fallback.
  await expect(clusters.map).toHaveAttribute('data-renderer', 'webgl');
  await expect(page.getByTestId('map-color-by')).toHaveValue('cluster');
  await expect(clusters.map.getByTestId('map-legend-item')).toHaveCount(3);
  const legendTotal = await clusters.map
    .getByTestId('map-legend-item')
    .evaluateAll((items) => items.reduce((sum, item) => sum + Number(item.getAttribute('data-count')), 0));
  expect(legendTotal).toBe(24);

  // Lasso a group of points with the mouse: the selection grid shows exactly their images.
  const points = await clusters.mapPoints();
  expect(points).toHaveLength(24);
  const box = await clusters.plotBox();
  const lasso = lassoAround(points, box);
  expect(lasso, 'a group of points with a clear gap around it').toBeDefined();
  await clusters.lasso(lasso!.polygon);
  const expected = lasso!.inside.map((point) => point.imageId).sort((a, b) => a - b);
  await expect(page.getByTestId('selection-count')).toHaveAttribute('data-count', String(expected.length));
  await expect(clusters.map).toHaveAttribute('data-selected', String(expected.length));
  await expect(clusters.selectionGrid.getByTestId('selection-item')).toHaveCount(expected.length);
  expect((await clusters.selectionIds()).sort((a, b) => a - b)).toEqual(expected);
  await page.getByTestId('map-plot').scrollIntoViewIfNeeded();
  await app.screenshotSizes('clusters-map-selection');

  // Hovering a point shows its thumbnail and file name; clicking it opens the image.
  await page.getByTestId('map-tool-pan').click();
  const target = (await clusters.mapPoints())[0]!;
  await page.mouse.move(target.x, target.y);
  const preview = page.getByTestId('map-hover-preview');
  await expect(preview).toHaveAttribute('data-image-id', String(target.imageId));
  await expect(preview).toContainText(/\.(jpg|png)/);
  await page.mouse.click(target.x, target.y);
  await expect(clusters.lightbox).toHaveAttribute('data-image-id', String(target.imageId));
  await expect(clusters.lightbox.getByTestId('lightbox-name')).toContainText(/(airplane|frog|truck)\//);
  await app.screenshot('clusters-lightbox');
  await page.keyboard.press('Escape');
  await expect(clusters.lightbox).toBeHidden();

  // Clear the selection.
  await page.getByTestId('selection-clear').click();
  await expect(page.getByTestId('selection-count')).toHaveAttribute('data-count', '0');
  await expect(clusters.map).toHaveAttribute('data-selected', '0');

  // Colour by label, then the UMAP map (a task the first time).
  await page.getByTestId('map-color-by').selectOption('label');
  await expect(clusters.map.getByTestId('map-legend-item')).toHaveCount(3);
  await page.getByTestId('map-umap').click();
  await expect(clusters.map).toHaveAttribute('data-method', 'umap', { timeout: 180_000 });
  await expect(clusters.map).toHaveAttribute('data-points', '24');
  await page.getByTestId('map-plot').scrollIntoViewIfNeeded();
  await app.screenshot('clusters-map-umap');
  expect(refused).toEqual([]);

  // Without WebGL the Canvas 2D map draws the same points, and its lasso selects the same way.
  await page.addInitScript(() => {
    const getContext = HTMLCanvasElement.prototype.getContext;
    HTMLCanvasElement.prototype.getContext = function (
      this: HTMLCanvasElement,
      type: string,
      ...rest: unknown[]
    ) {
      return /webgl/.test(type)
        ? null
        : (getContext as (...args: unknown[]) => RenderingContext | null).call(this, type, ...rest);
    } as typeof getContext;
  });
  await page.reload();
  await clusters.open();
  await clusters.openMap(24);
  await expect(clusters.map).toHaveAttribute('data-renderer', 'canvas');
  await expect(clusters.map).toHaveAttribute('title', /^Canvas 2D map: WebGL is not available/);
  const flatPoints = await clusters.mapPoints();
  const flatLasso = lassoAround(flatPoints, await clusters.plotBox());
  expect(flatLasso, 'a group of points with a clear gap around it').toBeDefined();
  await clusters.lasso(flatLasso!.polygon);
  const flatExpected = flatLasso!.inside.map((point) => point.imageId).sort((a, b) => a - b);
  await expect(page.getByTestId('selection-count')).toHaveAttribute(
    'data-count',
    String(flatExpected.length),
  );
  expect((await clusters.selectionIds()).sort((a, b) => a - b)).toEqual(flatExpected);
  await page.getByTestId('map-plot').scrollIntoViewIfNeeded();
  await app.screenshot('clusters-map-canvas');
});

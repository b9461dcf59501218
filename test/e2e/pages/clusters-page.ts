import { expect, type Locator, type Page } from '@playwright/test';
import type { AppPage } from './app-page';

/** A point of the embedding map as the page draws it: client pixels and its image id. */
export interface MapPoint {
  index: number;
  imageId: number;
  x: number;
  y: number;
}

/** What the Clusters screen puts on the map's element as `jigcluMap`. */
interface MapHook {
  dataToClient(index: number): { x: number; y: number };
  imageIds(): number[];
}

/**
 * Page object of the Clusters screen: the backbone picker and embedding task, the clustering
 * form and its scores, the cluster cards and an open cluster, the embedding map with its
 * selection grid, similar images and the lightbox.
 *
 * Where the map draws each point comes from the map itself: the Clusters screen puts a small
 * hook, `jigcluMap`, on the map's root element (`dataToClient(index)` from EmbeddingMap's
 * exposed API, and `imageIds()`), since a production build keeps no Vue instance on elements.
 */
export class ClustersPage {
  readonly page: Page;
  readonly view: Locator;
  readonly source: Locator;
  readonly embedCount: Locator;
  readonly scores: Locator;
  readonly grid: Locator;
  readonly cards: Locator;
  readonly detail: Locator;
  readonly map: Locator;
  readonly selection: Locator;
  readonly selectionGrid: Locator;
  readonly similar: Locator;
  readonly lightbox: Locator;

  constructor(readonly app: AppPage) {
    this.page = app.page;
    this.view = this.page.getByTestId('view-clusters');
    this.source = this.page.getByTestId('backbone-source');
    this.embedCount = this.page.getByTestId('embed-count');
    this.scores = this.page.getByTestId('cluster-scores');
    this.grid = this.page.getByTestId('cluster-grid');
    this.cards = this.page.getByTestId('cluster-card');
    this.detail = this.page.getByTestId('cluster-detail');
    this.map = this.page.getByTestId('embedding-map');
    this.selection = this.page.getByTestId('selection');
    this.selectionGrid = this.page.getByTestId('selection-grid');
    this.similar = this.page.getByTestId('similar-list');
    this.lightbox = this.page.getByTestId('cluster-lightbox');
  }

  async open(): Promise<void> {
    await this.app.goTo('clusters');
    await expect(this.view.locator('h1')).toHaveText('Clusters');
  }

  /** Starts embedding with the chosen backbone and waits until `count` images have an embedding. */
  async computeEmbeddings(count: number, timeout = 180_000): Promise<void> {
    await this.page.getByTestId('embed-start').click();
    await expect(this.embedCount).toHaveAttribute('data-embedded', String(count), { timeout });
  }

  /** Clusters with k (empty for automatic) and waits for the scores of a clustering with that k. */
  async cluster(k: number | '', timeout = 120_000): Promise<void> {
    await this.page.getByTestId('cluster-k').fill(String(k));
    await this.page.getByTestId('cluster-start').click();
    if (k !== '') await expect(this.scores).toHaveAttribute('data-k', String(k), { timeout });
    else await expect(this.scores).toBeVisible({ timeout });
  }

  /** Each card's cluster number and size, in the order shown. */
  async cardSizes(): Promise<{ cluster: number; size: number }[]> {
    return this.cards.evaluateAll((cards) =>
      cards.map((card) => ({
        cluster: Number(card.getAttribute('data-cluster')),
        size: Number(card.getAttribute('data-size')),
      })),
    );
  }

  async openCluster(cluster: number): Promise<void> {
    await this.grid.locator(`[data-testid="cluster-card"][data-cluster="${cluster}"]`).click();
    await expect(this.detail).toHaveAttribute('data-cluster', String(cluster));
  }

  /** The image ids and distances of the open cluster's tiles in the DOM, in grid order. */
  async clusterTiles(): Promise<{ imageId: number; distance: string; outlier: boolean }[]> {
    return this.detail.getByTestId('cluster-image').evaluateAll((tiles) =>
      tiles.map((tile) => ({
        imageId: Number(tile.getAttribute('data-image-id')),
        distance: tile.querySelector('[data-testid="tile-distance"]')?.textContent?.trim() ?? '',
        outlier: tile.getAttribute('data-outlier') === 'true',
      })),
    );
  }

  /** Opens the Map tab and waits for a map of `points` points. */
  async openMap(points: number, timeout = 120_000): Promise<void> {
    await this.page.getByTestId('tab-map').click();
    await expect(this.map).toBeVisible({ timeout });
    await expect(this.map).toHaveAttribute('data-points', String(points));
  }

  /** Where every point of the map is drawn now (client pixels), with its image id. */
  async mapPoints(): Promise<MapPoint[]> {
    await this.page.getByTestId('map-plot').scrollIntoViewIfNeeded();
    return this.map.evaluate((element) => {
      const { jigcluMap: hook } = element as unknown as { jigcluMap: MapHook };
      return hook.imageIds().map((imageId, index) => ({ index, imageId, ...hook.dataToClient(index) }));
    });
  }

  async plotBox(): Promise<{ x: number; y: number; width: number; height: number }> {
    const box = await this.page.getByTestId('map-plot').boundingBox();
    if (!box) throw new Error('the map plot is not on screen');
    return box;
  }

  /** Draws a lasso through `polygon` (client pixels) with the mouse, using the Lasso tool. */
  async lasso(polygon: { x: number; y: number }[]): Promise<void> {
    await this.page.getByTestId('map-tool-lasso').click();
    const [first, ...rest] = polygon;
    await this.page.mouse.move(first!.x, first!.y);
    await this.page.mouse.down();
    for (const point of rest) await this.page.mouse.move(point.x, point.y, { steps: 2 });
    await this.page.mouse.move(first!.x, first!.y, { steps: 2 });
    await this.page.mouse.up();
  }

  /** The image ids the selection grid shows. */
  async selectionIds(): Promise<number[]> {
    return this.selectionGrid
      .getByTestId('selection-item')
      .evaluateAll((tiles) => tiles.map((tile) => Number(tile.getAttribute('data-image-id'))));
  }
}

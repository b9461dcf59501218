// @vitest-environment happy-dom
import { createPinia, setActivePinia } from 'pinia';
import { beforeEach, describe, expect, it } from 'vitest';
import type { FolderInfo } from '../../main/common/library';
import { useClient } from '../../renderer/src/api';
import { classColor as labelColor } from '../../renderer/src/classes';
import { decodeFloat32 } from '../../renderer/src/stores/embedding-map';
import { mapColorsFor } from '../../renderer/src/stores/map-colors';
import { base64, clusteringInfo, clustersStores, flush, projection, standardClient, task } from '../helpers/clusters-fixtures';

beforeEach(() => {
  setActivePinia(createPinia());
});

describe('embedding map store: helpers', () => {
  it('decodes base64 Float32 coordinates', () => {
    expect([...decodeFloat32(base64([1.5, -2, 3.25]))]).toEqual([1.5, -2, 3.25]);
    expect(decodeFloat32('').length).toBe(0);
  });
});

/** What clusterImages is asked. */
type ClusterPageArgs = { clusteringId: number; cluster: number; offset: number; limit: number };

describe('embedding map and selection stores', () => {
  it('decodes the PCA map and colours it by cluster, label or folder', async () => {
    const fake = standardClient();
    useClient(fake.client);
    const { screen, embeddingMap } = clustersStores();
    await screen.start();
    await embeddingMap.loadMap('pca');
    await flush();
    expect(embeddingMap.map?.xy.length).toBe(12);
    expect(embeddingMap.map?.xy[8]).toBe(5);
    expect(embeddingMap.colorByShown).toBe('cluster');
    expect([...embeddingMap.mapColors.colors]).toEqual([0, 0, 0, 0, 1, 1]);
    expect(embeddingMap.mapColors.categories.map((c) => c.name)).toEqual([
      'Cluster 0 · class0',
      'Cluster 1 · class1',
    ]);

    embeddingMap.setColorBy('label');
    expect([...embeddingMap.mapColors.colors]).toEqual([0, 0, 1, 1, -1, 2]);
    expect(embeddingMap.mapColors.categories.map((c) => c.name)).toEqual(['cat', 'dog', 'bird']);
    embeddingMap.setColorBy('folder');
    expect([...embeddingMap.mapColors.colors]).toEqual([0, 0, 0, 1, 1, 1]);
    expect(embeddingMap.mapColors.categories.map((c) => c.name)).toEqual(['cats', 'dogs']);
  });

  it('a new clustering while the map is coloured by cluster reads which cluster each point is in again', async () => {
    const swapped: Record<number, number[]> = { 0: [5, 6], 1: [1, 2, 3, 4] };
    const fake = standardClient({ clusterCompute: () => clusteringInfo(8) });
    const first = fake.handlers.clusterImages as (args: ClusterPageArgs) => unknown;
    fake.handlers.clusterImages = (args: ClusterPageArgs) => {
      if (args.clusteringId !== 8) return first(args);
      const ids = swapped[args.cluster] ?? [];
      return {
        total: ids.length,
        offset: args.offset,
        items: ids.map((imageId) => ({ imageId, distance: 0, version: `v${imageId}`, outlier: false, label: null })) };
    };
    useClient(fake.client);
    const { screen, clusters, embeddingMap } = clustersStores();
    await screen.start();
    await embeddingMap.loadMap('pca');
    await flush();
    expect([...embeddingMap.mapColors.colors]).toEqual([0, 0, 0, 0, 1, 1]);
    await clusters.cluster();
    await flush();
    expect(clusters.clustering?.id).toBe(8);
    expect([...embeddingMap.mapColors.colors]).toEqual([1, 1, 1, 1, 0, 0]);
    expect(clusters.assignmentsLoading).toBe(false);
  });

  it('colours by label while there is no clustering', async () => {
    useClient(standardClient({ clusteringLatest: () => null }).client);
    const { screen, embeddingMap } = clustersStores();
    await screen.start();
    await embeddingMap.loadMap('pca');
    expect(embeddingMap.colorBy).toBe('cluster');
    expect(embeddingMap.colorByShown).toBe('label');
  });

  it('UMAP answers with a task first, then the map once the task has finished', async () => {
    let ready = false;
    const fake = standardClient({
      projectionGet: (args: { method: 'pca' | 'umap' }) =>
        args.method === 'umap' && !ready
          ? {
              ...projection('umap'),
              ready: false,
              task: task('u1', { kind: 'umap', unit: 'epochs', total: 200 }),
              imageIds: [],
              xy: '' }
          : projection(args.method) });
    useClient(fake.client);
    const { screen, embeddingMap } = clustersStores();
    await screen.start();
    await embeddingMap.loadMap('umap');
    expect(embeddingMap.map).toBeUndefined();
    expect(embeddingMap.mapLoading).toBe(true);
    expect(embeddingMap.umapTask?.status).toBe('running');
    fake.emit('task', task('u1', { kind: 'umap', done: 100, total: 200 }));
    expect(embeddingMap.umapTask?.done).toBe(100);
    ready = true;
    fake.emit('task', task('u1', { kind: 'umap', done: 200, total: 200, status: 'finished' }));
    await flush();
    await flush();
    expect(embeddingMap.map?.method).toBe('umap');
    expect(embeddingMap.mapLoading).toBe(false);
  });

  it('a failed UMAP task is reported in words', async () => {
    const fake = standardClient({
      projectionGet: () => ({
        ...projection('umap'),
        ready: false,
        task: task('u2', { kind: 'umap' }),
        imageIds: [],
        xy: '' }) });
    useClient(fake.client);
    const { screen, embeddingMap } = clustersStores();
    await screen.start();
    await embeddingMap.loadMap('umap');
    fake.emit('task', task('u2', { kind: 'umap', status: 'failed', error: 'no memory' }));
    expect(embeddingMap.mapError?.message).toBe('The UMAP map failed: no memory');
    expect(embeddingMap.mapLoading).toBe(false);
  });

  it('a lasso selects image ids; the grid reads their tiles page by page; clear empties it', async () => {
    const fake = standardClient();
    useClient(fake.client);
    const { screen, embeddingMap, selection } = clustersStores();
    await screen.start();
    await embeddingMap.loadMap('pca');
    embeddingMap.selectIndices(Int32Array.from([4, 5, 1]));
    expect(selection.selection).toEqual([5, 6, 2]);
    expect([...(embeddingMap.highlighted ?? [])]).toEqual([1, 4, 5]);
    selection.ensureSelectionRange(0, 2);
    await flush();
    expect(fake.named('libraryItems').at(-1)!.args).toEqual({ ids: [5, 6, 2] });
    expect([0, 1, 2].map((i) => selection.selectionItemAt(i)?.id)).toEqual([5, 6, 2]);
    selection.clearSelection();
    expect(selection.selection).toEqual([]);
    expect(embeddingMap.highlighted).toBeUndefined();
    expect(selection.selectionItemAt(0)).toBeUndefined();
  });
});

describe('map colours', () => {
  it('colours by label in each class’s own colour, as the Label screen does; by cluster in the palette', () => {
    const classes = [
      { id: 4, name: 'cat', color: '#ff0000', key: 1, images: 1, hand: 1, folder: 0 },
      { id: 9, name: 'dog', color: null, key: 2, images: 1, hand: 1, folder: 0 },
    ];
    const data = { imageIds: [1, 2, 3], classIds: [9, -1, 4], folderIds: [1, 1, 1] };
    const byLabel = mapColorsFor(data, 'label', { assignments: new Map(), classes, folders: [] });
    expect([...byLabel.colors]).toEqual([1, -1, 0]);
    expect(byLabel.categories.map((c) => c.name)).toEqual(['cat', 'dog']);
    expect(byLabel.categoryColors).toEqual(['#ff0000', labelColor(classes[1]!)]);
    const byFolder = mapColorsFor(data, 'folder', { assignments: new Map(), classes, folders: [{ id: 1, name: 'pics' } as FolderInfo] });
    expect(byFolder.categoryColors).toBeUndefined();
    expect(byFolder.categories).toEqual([{ id: 1, name: 'pics' }]);
  });
});

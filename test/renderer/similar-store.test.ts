// @vitest-environment happy-dom
import { createPinia, setActivePinia } from 'pinia';
import { beforeEach, describe, expect, it } from 'vitest';
import { err } from '../../main/common/result';
import { useClient } from '../../renderer/src/api';
import { clustersStores, flush, standardClient } from '../helpers/clusters-fixtures';

beforeEach(() => {
  setActivePinia(createPinia());
});

describe('similar store and image tiles: similar images, near-duplicates, the lightbox', () => {
  it('lists the nearest images of one image, and says why when it has no embedding', async () => {
    const fake = standardClient({
      similarImages: (args: { imageId: number }) =>
        args.imageId === 1
          ? [
              { imageId: 2, distance: 0.1, version: 'v2' },
              { imageId: 3, distance: 0.2, version: 'v3' },
            ]
          : err('NOT_FOUND', 'Image 9 has no embedding in this set yet: compute the embeddings first.') });
    useClient(fake.client);
    const { screen, similar } = clustersStores();
    await screen.start();
    await similar.findSimilar(1);
    expect(fake.named('similarImages')[0]!.args).toEqual({ setId: 1, imageId: 1, k: 24 });
    expect(similar.similarFor).toBe(1);
    expect(similar.similar.map((item) => item.imageId)).toEqual([2, 3]);
    await similar.findSimilar(9);
    expect(similar.similar).toEqual([]);
    expect(similar.similarError?.message).toMatch(/no embedding/);
    similar.closeSimilar();
    expect(similar.similarFor).toBeUndefined();
  });

  it('finds near-duplicate pairs under the threshold', async () => {
    const fake = standardClient({
      nearDuplicates: () => [
        {
          a: { imageId: 1, distance: 0, version: 'v1' },
          b: { imageId: 2, distance: 0, version: 'v2' },
          distance: 0.01 },
      ] });
    useClient(fake.client);
    const { screen, similar } = clustersStores();
    await screen.start();
    similar.duplicateThreshold = 0.05;
    await similar.findDuplicates();
    expect(fake.named('nearDuplicates')[0]!.args).toEqual({ setId: 1, threshold: 0.05 });
    expect(similar.duplicates).toHaveLength(1);
    expect(similar.duplicatesLoading).toBe(false);
  });

  it('opens an image in the lightbox and fetches its tile', async () => {
    const fake = standardClient();
    useClient(fake.client);
    const { screen, tiles } = clustersStores();
    await screen.start();
    tiles.openImage(4);
    await flush();
    expect(tiles.viewing).toBe(4);
    expect(tiles.itemFor(4)?.relPath).toBe('class/4.png');
    tiles.closeImage();
    expect(tiles.viewing).toBeUndefined();
  });
});

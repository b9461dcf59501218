import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import type { CallArgs } from '../../../main/common/api-contract';
import type { ImageDistance } from '../../../main/common/embeddings';
import { api } from '../api';
import { useCall } from '../composables/use-call';
import { useBackbonesStore } from './backbones';
import { useImageTilesStore } from './image-tiles';

/** Neighbours asked for by "Similar". */
export const similarCount = 24;

/**
 * Neighbours in the chosen set's embedding space: the images nearest to one image ("Similar"), and
 * the pairs of images closer than a threshold (near-duplicates). A newer question drops the answer
 * of an older one.
 */
export const useSimilarStore = defineStore('similar', () => {
  const backbones = useBackbonesStore();
  const tiles = useImageTilesStore();

  const similarFor = ref<number>();
  const similarCall = useCall(
    (setId: number, imageId: number) => api().call('similarImages', { setId, imageId, k: similarCount }),
    { overlap: 'latest', onValue: (found) => void tiles.fetchItems(found.map((item) => item.imageId)) },
  );
  const { busy: similarLoading, error: similarError } = similarCall;
  const similar = computed<ImageDistance[]>(() => similarCall.value.value ?? []);

  const duplicateThreshold = ref(0.02);
  const duplicatesCall = useCall((args: CallArgs<'nearDuplicates'>) => api().call('nearDuplicates', args), {
    overlap: 'latest',
    onValue: (pairs) => void tiles.fetchItems(pairs.flatMap((pair) => [pair.a.imageId, pair.b.imageId])),
  });
  const { busy: duplicatesLoading, error: duplicatesError, value: duplicates } = duplicatesCall;

  async function findSimilar(imageId: number): Promise<void> {
    const info = backbones.set;
    if (!info) return;
    similarFor.value = imageId;
    void tiles.fetchItems([imageId]);
    await similarCall.run(info.id, imageId);
  }

  function closeSimilar(): void {
    similarFor.value = undefined;
    similarCall.reset();
  }

  async function findDuplicates(): Promise<void> {
    const info = backbones.set;
    if (!info) return;
    await duplicatesCall.run({
      setId: info.id,
      threshold: Math.min(1, Math.max(0, duplicateThreshold.value)),
      ...(backbones.folderIds ? { folderIds: backbones.folderIds } : {}),
    });
  }

  /** Forgets the answers for the previous set (another backbone or scope was chosen). */
  function reset(): void {
    duplicatesCall.reset();
    closeSimilar();
  }

  return {
    similarFor,
    similar,
    similarLoading,
    similarError,
    duplicateThreshold,
    duplicates,
    duplicatesLoading,
    duplicatesError,
    findSimilar,
    closeSimilar,
    findDuplicates,
    reset,
  };
});

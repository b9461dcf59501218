/**
 * Worker-thread entry that makes jigsaw batches (decode is done; this is the per-patch
 * augmentation and montage tiling) on the second core while the main thread trains. It gets
 * the cached images once and answers {key, epoch, batchIndex} requests with transferred buffers.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { buildBatch, type BatchRecipe, type CachedImage } from './batch-source';

const { images, recipe } = workerData as { images: CachedImage[]; recipe: BatchRecipe };

parentPort?.on('message', (request: { key: string; epoch: number; batchIndex: number }) => {
  try {
    const batch = buildBatch(images, recipe, request.epoch, request.batchIndex);
    parentPort?.postMessage({ key: request.key, batch }, [
      batch.montages.buffer as ArrayBuffer,
      batch.clusterLabels.buffer as ArrayBuffer,
      batch.locationLabels.buffer as ArrayBuffer,
      batch.permutation.buffer as ArrayBuffer,
    ]);
  } catch (error) {
    parentPort?.postMessage({ key: request.key, error: String((error as Error)?.message ?? error) });
  }
});

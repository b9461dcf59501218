/**
 * Worker-thread entry that makes jigsaw batches (decode is done; this is the per-patch
 * augmentation and montage tiling) on the second core while the main thread trains. It gets
 * the cached images once and answers {key, epoch, batchIndex} requests with transferred buffers.
 */
import fs from 'node:fs';
import os from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { buildBatch, type BatchRecipe, type CachedImage } from './batch-source';

const { images, recipe } = workerData as { images: CachedImage[]; recipe: BatchRecipe };

/**
 * How much lower this thread's priority is than the step's (nice steps, Linux). The step's
 * threads (the wasm engine uses one per core) work in lockstep: a batch worker that takes a core
 * from one of them stalls every op until it gives it back. Batches need a fifth of a core or less
 * and are made ahead, so this thread runs in the gaps: while the step's threads sleep between
 * ops, and at once whenever the step waits for a batch.
 */
const batchWorkerNiceIncrement = 5;

/** Lowers this thread's priority alone (Linux: setpriority on its thread id); elsewhere nothing. */
function lowerOwnPriority(): void {
  if (process.platform !== 'linux') return;
  try {
    // /proc/thread-self links to <pid>/task/<tid>.
    const tid = Number(fs.readlinkSync('/proc/thread-self').split('/').at(-1));
    os.setPriority(tid, Math.min(19, os.getPriority(tid) + batchWorkerNiceIncrement));
  } catch {
    // Not permitted or not available: batches are made at the step's priority.
  }
}

lowerOwnPriority();

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

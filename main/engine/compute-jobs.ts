import * as tf from './tfjs';
import type { DistanceMetric } from '../common/embeddings';
import type { PretrainConfig } from '../common/pretrain-config';
import { toFloatImage, type FloatImage } from '../data/augment';
import { decodeImage } from '../data/decode';
import { evalBatch } from '../data/jigsaw';
import { defaultConvGradMode } from './conv';
import { loadBackbone } from './evaluate';
import { extractFeatures } from './knn';

/**
 * Work other than training that needs tfjs, run in a trainer process: embedding images with a
 * backbone, and the matrix work behind clusters and maps. Each job reports progress; embedding
 * streams its vectors in chunks so a cancelled job keeps what it computed.
 */

export type ComputeJob =
  | { kind: 'embed'; checkpoint?: string; config: PretrainConfig; files: string[]; size: number; batch: number }
  | { kind: 'kmeans'; features: Float32Array; n: number; dim: number; k: number; seed: number; metric: DistanceMetric; maxIterations?: number }
  | { kind: 'pca'; features: Float32Array; n: number; dim: number }
  | { kind: 'umap'; features: Float32Array; n: number; dim: number; seed: number }
  | { kind: 'duplicates'; features: Float32Array; n: number; dim: number; threshold: number; metric: DistanceMetric; limit: number };

export interface EmbedChunk {
  /** Index of the first file of the chunk in the job's files. */
  offset: number;
  /** Files of the chunk that decoded, by index in the job's files, and their vectors (row-major). */
  indices: number[];
  vectors: Float32Array;
  failed: { index: number; reason: string }[];
}

export interface JobHooks {
  progress(done: number, total: number, message?: string): void;
  chunk(chunk: EmbedChunk): void;
}

/** Embeds files with a checkpoint's backbone (or a random-init one): resize + centre crop to `size`, global average pool, L2 norm. */
export async function embedFiles(job: Extract<ComputeJob, { kind: 'embed' }>, hooks: JobHooks): Promise<{ dim: number }> {
  const convGrad = defaultConvGradMode(tf.getBackend());
  const loaded = loadBackbone(job.checkpoint, { randomInit: !job.checkpoint, config: job.config, convGrad });
  try {
    const dim = loaded.backbone.outChannels;
    hooks.progress(0, job.files.length, 'embedding');
    for (let offset = 0; offset < job.files.length; offset += job.batch) {
      const files = job.files.slice(offset, offset + job.batch);
      const images: (FloatImage | undefined)[] = [];
      const indices: number[] = [];
      const failed: { index: number; reason: string }[] = [];
      await Promise.all(
        files.map(async (file, i) => {
          try {
            const decoded = await decodeImage(file, { shortSide: job.size });
            images[i] = toFloatImage(decoded.data, decoded.width, decoded.height);
          } catch (error) {
            failed.push({ index: offset + i, reason: (error as Error).message });
          }
        }),
      );
      const kept: FloatImage[] = [];
      for (let i = 0; i < files.length; i += 1) {
        if (images[i]) {
          kept.push(images[i]!);
          indices.push(offset + i);
        }
      }
      const vectors = kept.length > 0 ? extractFeatures(loaded.backbone, evalBatch(kept, job.size), kept.length, job.size, job.batch, convGrad) : new Float32Array(0);
      hooks.chunk({ offset, indices, vectors, failed });
      hooks.progress(Math.min(offset + job.batch, job.files.length), job.files.length, 'embedding');
    }
    return { dim };
  } finally {
    loaded.dispose();
  }
}

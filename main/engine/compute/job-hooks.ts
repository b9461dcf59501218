/**
 * What a compute job reports while it runs (progress, and embedding's chunks of vectors). A
 * leaf module: the jobs (compute-jobs, export-jobs, scaleout-job, weights-import) import it,
 * and the job union in compute-jobs imports them, so it cannot live there without a circle.
 */

/** A chunk of an embed job's vectors, streamed so that a cancelled job keeps what it computed. */
export interface EmbedChunk {
  /** Index of the first file of the chunk in the job's files. */
  offset: number;
  /** Files of the chunk that decoded, by index in the job's files, and their vectors (row-major). */
  indices: number[];
  vectors: Float32Array;
  failed: { index: number; reason: string }[];
}

/** The callbacks a compute job reports through. */
export interface JobHooks {
  progress(done: number, total: number, message?: string): void;
  chunk(chunk: EmbedChunk): void;
}

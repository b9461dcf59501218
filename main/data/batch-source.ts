import { toFloatImage, type FloatImage } from './augment';
import { decodeImage, DecodeError } from './decode';
import { makeJigsawBatch, type JigsawBatch, type JigsawConfig } from './jigsaw';
import { Rng } from './rng';

/** A decoded training image kept in memory as 8-bit RGB at the cache size. */
interface CachedImage {
  data: Buffer;
  width: number;
  height: number;
}

export interface RejectedFile {
  file: string;
  reason: string;
}

export interface BatchSourceOptions {
  jigsaw: JigsawConfig;
  batch: number;
  seed: number;
  /**
   * Images are decoded once, resized so their shorter side is at most this (never upscaled),
   * and kept in memory. Twice the crop size keeps patches sharp (a patch covers 1/m + c of the
   * image, then RandomResizedCrop scales it to the crop size).
   */
  cacheShortSide: number;
  /** Batches prepared ahead of the one being trained on. */
  prefetch?: number;
}

/**
 * Deterministic jigsaw batches from image files: epoch e's sample order and batch b's
 * augmentation come from (seed, e, b) alone, so prefetching is safe and a resumed run sees
 * exactly the batches an uninterrupted run would. Files that fail to decode are reported and
 * left out before training starts; the step never waits on decoding once `prepare` is done.
 */
export class JigsawBatchSource {
  private images: CachedImage[] = [];
  readonly rejected: RejectedFile[] = [];
  private readonly queue = new Map<string, Promise<JigsawBatch>>();

  constructor(
    private readonly files: string[],
    private readonly options: BatchSourceOptions,
  ) {}

  /** Decodes every file once (with progress); returns the number of usable images. */
  async prepare(onProgress?: (done: number, total: number) => void, signal?: AbortSignal): Promise<number> {
    const images: (CachedImage | undefined)[] = new Array(this.files.length);
    let next = 0;
    let done = 0;
    const worker = async (): Promise<void> => {
      while (next < this.files.length) {
        if (signal?.aborted) return;
        const index = next++;
        const file = this.files[index]!;
        try {
          const decoded = await decodeImage(file, { maxShortSide: this.options.cacheShortSide });
          images[index] = { data: decoded.data, width: decoded.width, height: decoded.height };
        } catch (error) {
          this.rejected.push({ file, reason: error instanceof DecodeError ? error.message : (error as Error).message });
        }
        done += 1;
        onProgress?.(done, this.files.length);
      }
    };
    // sharp decodes on libuv's thread pool: a few requests in flight keep both cores busy.
    await Promise.all([worker(), worker(), worker(), worker()]);
    this.images = images.filter((image): image is CachedImage => image !== undefined);
    return this.images.length;
  }

  get size(): number {
    return this.images.length;
  }

  stepsPerEpoch(): number {
    return Math.floor(this.images.length / this.options.batch);
  }

  /** The indices of the images in batch b of epoch e. */
  batchIndices(epoch: number, batchIndex: number): Int32Array {
    const order = new Rng(seedOf(this.options.seed, epoch, 0x0dde)).permutation(this.images.length);
    return order.subarray(batchIndex * this.options.batch, (batchIndex + 1) * this.options.batch);
  }

  /** Batch b of epoch e; prepares the next ones in the background. */
  async batch(epoch: number, batchIndex: number): Promise<JigsawBatch> {
    const result = this.request(epoch, batchIndex);
    this.queue.delete(`${epoch}:${batchIndex}`);
    const steps = this.stepsPerEpoch();
    for (let ahead = 1; ahead <= (this.options.prefetch ?? 2); ahead += 1) {
      let e = epoch;
      let b = batchIndex + ahead;
      if (b >= steps) {
        e += Math.floor(b / steps);
        b %= steps;
      }
      this.request(e, b);
    }
    return result;
  }

  /** Forgets prefetched batches (after a pause or resume). */
  clear(): void {
    this.queue.clear();
  }

  private request(epoch: number, batchIndex: number): Promise<JigsawBatch> {
    const key = `${epoch}:${batchIndex}`;
    let pending = this.queue.get(key);
    if (!pending) {
      // Yield first so the step in flight is not delayed by this batch's preparation.
      pending = new Promise<JigsawBatch>((resolve, reject) =>
        setImmediate(() => {
          try {
            resolve(this.build(epoch, batchIndex));
          } catch (error) {
            reject(error as Error);
          }
        }),
      );
      pending.catch(() => undefined);
      this.queue.set(key, pending);
    }
    return pending;
  }

  private build(epoch: number, batchIndex: number): JigsawBatch {
    const floats: FloatImage[] = Array.from(this.batchIndices(epoch, batchIndex), (index) => {
      const image = this.images[index]!;
      return toFloatImage(image.data, image.width, image.height);
    });
    return makeJigsawBatch(floats, this.options.jigsaw, new Rng(seedOf(this.options.seed, epoch, batchIndex)));
  }

  /** The cached 8-bit images (for evaluation and the montage inspector). */
  image(index: number): CachedImage {
    return this.images[index]!;
  }
}

function seedOf(seed: number, epoch: number, batchIndex: number): number {
  let h = 0x9e3779b9 ^ seed;
  for (const part of [epoch, batchIndex]) {
    h = Math.imul(h ^ (part >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return (h >>> 0) % 2147483647;
}

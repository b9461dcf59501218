import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { toFloatImage, type FloatImage } from './augment';
import { decodeImage, DecodeError } from './decode';
import { makeJigsawBatch, type JigsawBatch, type JigsawConfig } from './jigsaw';
import { Rng } from './rng';

/** A decoded training image kept in memory as 8-bit RGB at the cache size. */
export interface CachedImage {
  data: Uint8Array;
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
  /**
   * Optional on-disk cache of the resized images (a folder under the data folder): a second run
   * on the same files at the same size reads them instead of decoding the originals again.
   * Entries are keyed by path, size, modification time and cache size, so edited files are
   * decoded afresh. User folders are never written to.
   */
  diskCache?: string;
  /** Batches prepared ahead of the one being trained on. */
  prefetch?: number;
  /**
   * The built batch-worker.js: when given (and present), batches are made in a worker thread,
   * on the other core, while this thread trains. Without it they are made here, between steps.
   */
  workerScript?: string;
}

/** The part of the options a worker needs (structured-cloneable). */
export type BatchRecipe = Pick<BatchSourceOptions, 'jigsaw' | 'batch' | 'seed'>;

/** The indices of the images in batch b of epoch e (epoch order from the seed alone). */
export function batchIndices(recipe: BatchRecipe, imageCount: number, epoch: number, batchIndex: number): Int32Array {
  const order = new Rng(seedOf(recipe.seed, epoch, 0x0dde)).permutation(imageCount);
  return order.subarray(batchIndex * recipe.batch, (batchIndex + 1) * recipe.batch);
}

/** Builds batch b of epoch e from cached images: the same bytes in a worker or in this thread. */
export function buildBatch(images: CachedImage[], recipe: BatchRecipe, epoch: number, batchIndex: number): JigsawBatch {
  const floats: FloatImage[] = Array.from(batchIndices(recipe, images.length, epoch, batchIndex), (index) => {
    const image = images[index]!;
    return toFloatImage(image.data, image.width, image.height);
  });
  return makeJigsawBatch(floats, recipe.jigsaw, new Rng(seedOf(recipe.seed, epoch, batchIndex)));
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
  /** For each usable image (the indices batches use), its index in the files given. */
  fileIndices: number[] = [];
  private readonly queue = new Map<string, Promise<JigsawBatch>>();
  private worker?: Worker;
  private readonly waiting = new Map<string, { resolve: (batch: JigsawBatch) => void; reject: (error: Error) => void }>();

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
          images[index] = await this.load(file);
        } catch (error) {
          this.rejected.push({ file, reason: error instanceof DecodeError ? error.message : (error as Error).message });
        }
        done += 1;
        onProgress?.(done, this.files.length);
      }
    };
    // sharp decodes on libuv's thread pool: a few requests in flight keep both cores busy.
    await Promise.all([worker(), worker(), worker(), worker()]);
    this.fileIndices = [];
    images.forEach((image, index) => {
      if (image !== undefined) this.fileIndices.push(index);
    });
    this.images = images.filter((image): image is CachedImage => image !== undefined);
    this.startWorker();
    return this.images.length;
  }

  /** Decodes one file, through the disk cache when there is one. */
  private async load(file: string): Promise<CachedImage> {
    const cacheDir = this.options.diskCache;
    let cacheFile: string | undefined;
    if (cacheDir) {
      const stat = await fs.promises.stat(file);
      const key = crypto.createHash('sha1').update(`${path.resolve(file)}\0${stat.size}\0${stat.mtimeMs}\0${this.options.cacheShortSide}`).digest('hex');
      cacheFile = path.join(cacheDir, key.slice(0, 2), `${key}.rgb`);
      const cached = await fs.promises.readFile(cacheFile).catch(() => undefined);
      if (cached && cached.length > 8) {
        const width = cached.readUInt32LE(0);
        const height = cached.readUInt32LE(4);
        if (cached.length === 8 + width * height * 3) return { data: cached.subarray(8), width, height };
      }
    }
    const decoded = await decodeImage(file, { maxShortSide: this.options.cacheShortSide });
    if (cacheFile) {
      const header = Buffer.alloc(8);
      header.writeUInt32LE(decoded.width, 0);
      header.writeUInt32LE(decoded.height, 4);
      await fs.promises.mkdir(path.dirname(cacheFile), { recursive: true });
      const temporary = `${cacheFile}.${process.pid}.tmp`;
      await fs.promises.writeFile(temporary, Buffer.concat([header, decoded.data]));
      await fs.promises.rename(temporary, cacheFile);
    }
    return { data: decoded.data, width: decoded.width, height: decoded.height };
  }

  /** True when batches are made in a worker thread. */
  get threaded(): boolean {
    return this.worker !== undefined;
  }

  private startWorker(): void {
    const script = this.options.workerScript;
    if (!script || !fs.existsSync(script)) return;
    const recipe: BatchRecipe = { jigsaw: this.options.jigsaw, batch: this.options.batch, seed: this.options.seed };
    this.worker = new Worker(script, { workerData: { images: this.images, recipe } });
    this.worker.unref();
    this.worker.on('message', (message: { key: string; batch?: JigsawBatch; error?: string }) => {
      const waiter = this.waiting.get(message.key);
      if (!waiter) return;
      this.waiting.delete(message.key);
      if (message.batch) waiter.resolve(message.batch);
      else waiter.reject(new Error(`The batch worker failed: ${message.error ?? 'no batch'}`));
    });
    this.worker.on('error', (error) => {
      for (const waiter of this.waiting.values()) waiter.reject(error);
      this.waiting.clear();
    });
  }

  /** Stops the worker thread, if any. */
  async close(): Promise<void> {
    this.queue.clear();
    await this.worker?.terminate();
    this.worker = undefined;
  }

  get size(): number {
    return this.images.length;
  }

  stepsPerEpoch(): number {
    return Math.floor(this.images.length / this.options.batch);
  }

  /** The indices of the images in batch b of epoch e. */
  batchIndices(epoch: number, batchIndex: number): Int32Array {
    return batchIndices(this.options, this.images.length, epoch, batchIndex);
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
      if (this.worker) {
        const worker = this.worker;
        pending = new Promise<JigsawBatch>((resolve, reject) => {
          this.waiting.set(key, { resolve, reject });
          worker.postMessage({ key, epoch, batchIndex });
        });
      } else {
        // Yield first so the step in flight is not delayed by this batch's preparation.
        pending = new Promise<JigsawBatch>((resolve, reject) =>
          setImmediate(() => {
            try {
              resolve(buildBatch(this.images, this.options, epoch, batchIndex));
            } catch (error) {
              reject(error as Error);
            }
          }),
        );
      }
      pending.catch(() => undefined);
      this.queue.set(key, pending);
    }
    return pending;
  }

  /** The cached 8-bit images (for evaluation and the montage inspector). */
  image(index: number): CachedImage {
    return this.images[index]!;
  }
}

/**
 * The seed of batch b of epoch e (and, with b = 0x0dde, of epoch e's image order): a 32-bit
 * hash of (seed, e, b), reduced below 2^31 - 1. scaleout/jigclu_ddp.py ports it.
 */
export function seedOf(seed: number, epoch: number, batchIndex: number): number {
  let h = 0x9e3779b9 ^ seed;
  for (const part of [epoch, batchIndex]) {
    h = Math.imul(h ^ (part >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return (h >>> 0) % 2147483647;
}

import fs from 'node:fs';
import { clusterPurity, clusterScores, minNamedClusterImages, minScoredImages, type ClusterPurity } from '../common/cluster-metrics';
import {
  defaultClusterCount,
  type ClusterImagesPage,
  type ClusterInfo,
  type ClusteringInfo,
  type ClusteringScores,
  type DistanceMetric,
  type EmbeddingSetInfo,
  type EmbeddingSource,
  type EmbeddingsComputeResult,
  type ImageDistance,
  type NearDuplicatePair,
  type Projection,
} from '../common/embeddings';
import { evalSizeFor, type PretrainConfig } from '../common/pretrain-config';
import { ServiceError } from '../common/result';
import type { TaskInfo } from '../common/tasks';
import { isInside } from '../data/scan';
import { placedEngine, type ComputeJobClient, type JobPlacement } from '../jobs/compute-client';
import type { TrainerSlot } from '../jobs/trainer-slot';
import { EmbeddingsRepository, folderKey, type EmbeddableImage, type EmbeddingSetRow } from '../store/embeddings-repository';
import { RunsRepository } from '../store/runs-repository';
import type { AreaHandlers, ServiceContext } from './context';
import { referenceClasses } from './reference-classes';

/** The backbone's feature width for a config (torchvision widths x the width multiplier). */
export function backboneDim(config: Pick<PretrainConfig, 'arch' | 'width'>): number {
  return Math.max(1, Math.round(512 * config.width)) * (config.arch === 'resnet50' ? 4 : 1);
}

/**
 * Choices of an embedding the contract does not carry, made by the host that asks (the command
 * line's folder inside a library folder, --engine, --threads).
 */
export interface EmbedPlacement extends JobPlacement {
  /** Only the chosen folders' images under these paths. */
  under?: string[];
  /** Images per forward pass (default 32). */
  batch?: number;
}

/** The images under some paths (all of them without `under`). */
export function imagesUnder<T extends { path: string }>(images: T[], under: string[] | undefined): T[] {
  return under ? images.filter((image) => under.some((folder) => isInside(folder, image.path))) : images;
}

/**
 * Embeddings of the library's images by a backbone, k-means clusters of them with their
 * scores against labels, 2-D maps, nearest neighbours and near-duplicates. The tensor work
 * runs in a trainer process; results are stored in SQLite so each is computed once.
 */
export class EmbeddingsService {
  readonly repo: EmbeddingsRepository;
  private readonly runs: RunsRepository;
  /** The embedding task running now, if any (one at a time). */
  private embedding?: { setId: number; task: TaskInfo };
  private readonly umapTasks = new Map<string, TaskInfo>();

  /**
   * @param jobs runs the tensor work (embedding, k-means, maps) in a trainer process.
   * @param slot refuses embedding while a pretraining run holds the engine.
   */
  constructor(
    private readonly context: ServiceContext,
    private readonly jobs: ComputeJobClient,
    private readonly slot: TrainerSlot,
  ) {
    this.repo = new EmbeddingsRepository(context.db);
    this.runs = new RunsRepository(context.db);
  }

  private setInfo(row: EmbeddingSetRow): EmbeddingSetInfo {
    const source: EmbeddingSource = row.kind === 'checkpoint' ? { kind: 'checkpoint', runId: row.run_id, step: row.step } : { kind: 'random', runId: row.run_id };
    return {
      id: row.id,
      source,
      label: row.kind === 'checkpoint' ? `${row.run_name} at step ${row.step}` : `Random init (${row.run_name}'s architecture)`,
      runName: row.run_name,
      dim: row.dim,
      size: row.size,
      images: row.images,
      libraryImages: this.context.db.prepare('SELECT count(*) FROM images').pluck().get() as number,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }

  sets(): EmbeddingSetInfo[] {
    return this.repo.sets().map((row) => this.setInfo(row));
  }

  private mustGetSet(setId: number): EmbeddingSetRow {
    const row = this.repo.getSet(setId);
    if (!row) throw new ServiceError('NOT_FOUND', `No embedding set with id ${setId}.`);
    return row;
  }

  /**
   * Embeds the images of some folders (all by default) that the set lacks (new or changed
   * since), as a task with progress, ETA and cancel; vectors are stored as they come.
   */
  compute(source: EmbeddingSource, folderIds?: number[], placement: EmbedPlacement = {}): EmbeddingsComputeResult {
    const run = this.runs.get(source.runId);
    if (!run) throw new ServiceError('NOT_FOUND', `No run with id ${source.runId}.`);
    let checkpointFile: string | null = null;
    if (source.kind === 'checkpoint') {
      const checkpoint = this.runs.checkpoints(run.id).find((c) => c.step === source.step);
      if (!checkpoint || !fs.existsSync(checkpoint.file)) {
        throw new ServiceError('NOT_FOUND', `${run.name} has no checkpoint at step ${source.step}; pick one of its checkpoints on the Runs page.`);
      }
      checkpointFile = checkpoint.file;
    }
    if (folderIds) {
      const unknown = this.runs.unknownFolders(folderIds);
      if (unknown.length > 0) throw new ServiceError('NOT_FOUND', `No library folder with id ${unknown.join(', ')}.`);
    }
    const set = this.repo.findSet(source) ?? this.repo.createSet(source, { checkpointFile, dim: backboneDim(run.config), size: evalSizeFor(run.config) });
    const images = imagesUnder(this.repo.images(folderIds), placement.under);
    if (images.length === 0) throw new ServiceError('INVALID_ARGUMENT', 'There are no images to embed: add a folder to the library first.');
    const missing = this.repo.missing(set.id, images);
    if (missing.length === 0) return { set: this.setInfo(this.repo.getSet(set.id)!), task: null, missing: 0 };
    if (this.embedding) throw new ServiceError('CONFLICT', 'Images are being embedded already: wait for that task to finish or cancel it.');
    this.slot.refuseWhileTraining('Embed the images');
    const config = run.config;
    const task = this.context.tasks.start({ kind: 'embed', title: `Embedding ${missing.length.toLocaleString('en-US')} images with ${this.setInfo(set).label}`, unit: 'images', total: missing.length }, async (context) => {
      try {
        let failed = 0;
        await this.jobs.runComputeJob(
          { kind: 'embed', checkpoint: checkpointFile ?? undefined, config, files: missing.map((image) => image.path), size: set.size, batch: placement.batch ?? 32 },
          {
            signal: context.signal,
            engine: placedEngine(placement, config.engine),
            threads: placement.threads,
            onEngine: placement.onEngine,
            progress: (done, total) => context.progress(done, total, failed ? `${failed} could not be read` : undefined),
            chunk: (chunk) => {
              failed += chunk.failed.length;
              this.repo.putVectors(
                set.id,
                chunk.indices.map((index, row) => ({
                  imageId: missing[index]!.id,
                  contentHash: missing[index]!.content_hash,
                  vector: chunk.vectors.subarray(row * set.dim, (row + 1) * set.dim),
                })),
              );
            },
          },
        );
      } catch (error) {
        if (context.signal.aborted) return;
        throw error;
      } finally {
        this.repo.dropProjections(set.id);
        this.embedding = undefined;
      }
    });
    this.embedding = { setId: set.id, task };
    return { set: this.setInfo(this.repo.getSet(set.id)!), task, missing: missing.length };
  }

  /** The vectors of a set's images: some folders or all (under some paths), those with a vector. */
  vectorsOf(setId: number, folderIds?: number[], under?: string[]): { images: EmbeddableImage[]; vectors: Float32Array; dim: number } {
    return this.loaded(setId, folderIds, under);
  }

  /** The images of a set to work on: some folders or all, those with a vector. */
  private loaded(setId: number, folderIds?: number[], under?: string[]): { images: EmbeddableImage[]; vectors: Float32Array; dim: number } {
    const set = this.mustGetSet(setId);
    const all = imagesUnder(this.repo.images(folderIds), under);
    const loaded = this.repo.vectors(setId, all.map((image) => image.id), set.dim);
    if (loaded.imageIds.length === 0) throw new ServiceError('INVALID_ARGUMENT', 'No image of these folders has an embedding in this set yet: compute the embeddings first.');
    const byId = new Map(all.map((image) => [image.id, image]));
    return { images: loaded.imageIds.map((imageId) => byId.get(imageId)!), vectors: loaded.vectors, dim: set.dim };
  }

  /** k-means on the set's vectors, stored with its scores against the reference classes of its images. */
  async cluster(args: { setId: number; k?: number; metric: DistanceMetric; seed: number; folderIds?: number[] }, placement: EmbedPlacement = {}): Promise<ClusteringInfo> {
    const { images, vectors, dim } = this.loaded(args.setId, args.folderIds, placement.under);
    const k = args.k ?? defaultClusterCount(images.length);
    if (k > images.length) throw new ServiceError('INVALID_ARGUMENT', `k: ${k} clusters need at least ${k} embedded images; there are ${images.length}. Lower k.`);
    const result = await this.jobs.runComputeJob({ kind: 'kmeans', features: vectors, n: images.length, dim, k, seed: args.seed, metric: args.metric }, placement);
    const outlier = outlierFlags(result.distances);
    const { scores } = this.scores(images.map((image) => image.id), result.assignments);
    const id = this.repo.addClustering({
      setId: args.setId,
      k,
      metric: args.metric,
      seed: args.seed,
      folderKey: folderKey(args.folderIds),
      inertia: result.inertia,
      iterations: result.iterations,
      scores,
      members: images.map((image, i) => ({ imageId: image.id, cluster: result.assignments[i]!, distance: result.distances[i]!, outlier: outlier[i] === 1 })),
    });
    return this.clustering(id);
  }

  /** A clustering's scores and per-cluster purity against the reference classes of its images now. */
  private scores(imageIds: readonly number[], assignments: ArrayLike<number>): { scores: ClusteringScores; perCluster: ClusterPurity[]; names: string[] } {
    const reference = referenceClasses(this.context.db, imageIds);
    const labels = imageIds.map((id) => reference.byImage.get(id)?.index ?? null);
    const fromFolders = imageIds.filter((id) => reference.byImage.get(id)?.source === 'folder').length;
    const all = clusterScores(assignments, labels, { minImages: minScoredImages });
    const scores: ClusteringScores = {
      labelled: all.labelled,
      fromFolders,
      classes: all.classes,
      minimum: minScoredImages,
      nmi: all.nmi,
      ari: all.adjustedRandIndex,
      purity: all.purity,
    };
    return { scores, perCluster: clusterPurity(assignments, labels).clusters, names: reference.names };
  }

  /** A stored clustering with its clusters (size, majority reference class, purity, representatives), scores and outliers. */
  clustering(clusteringId: number): ClusteringInfo {
    const row = this.repo.clustering(clusteringId);
    if (!row) throw new ServiceError('NOT_FOUND', `No clustering with id ${clusteringId}.`);
    const members = this.repo.members(clusteringId);
    const { scores, perCluster, names } = this.scores(
      members.map((member) => member.image_id),
      members.map((member) => member.cluster),
    );
    const purityOf = new Map(perCluster.map((entry) => [entry.cluster, entry]));
    const clusters: ClusterInfo[] = [];
    for (let cluster = 0; cluster < row.k; cluster += 1) {
      const inCluster = members.filter((member) => member.cluster === cluster);
      const purity = purityOf.get(cluster);
      const labelled = purity?.labelled ?? 0;
      const named = labelled >= minNamedClusterImages && purity?.majority !== null && purity?.majority !== undefined;
      clusters.push({
        cluster,
        size: inCluster.length,
        labelled,
        majority: named ? names[purity.majority!]! : null,
        purity: named ? purity.purity : null,
        representatives: inCluster.slice(0, 8).map((member) => ({ imageId: member.image_id, distance: member.distance, version: member.version })),
        outliers: inCluster.filter((member) => member.outlier === 1).length,
      });
    }
    return {
      id: row.id,
      setId: row.set_id,
      k: row.k,
      metric: row.metric,
      seed: row.seed,
      images: row.images,
      inertia: row.inertia,
      iterations: row.iterations,
      scores,
      clusters,
      outliers: members
        .filter((member) => member.outlier === 1)
        .sort((a, b) => b.distance - a.distance)
        .map((member) => ({ imageId: member.image_id, distance: member.distance, version: member.version })),
      createdAt: row.created_at,
    };
  }

  latestClustering(setId: number): ClusteringInfo | null {
    this.mustGetSet(setId);
    const id = this.repo.latestClustering(setId);
    return id === undefined ? null : this.clustering(id);
  }

  clusterImages(args: { clusteringId: number; cluster: number; offset: number; limit: number }): ClusterImagesPage {
    const row = this.repo.clustering(args.clusteringId);
    if (!row) throw new ServiceError('NOT_FOUND', `No clustering with id ${args.clusteringId}.`);
    if (args.cluster >= row.k) throw new ServiceError('NOT_FOUND', `cluster: this clustering has clusters 0 to ${row.k - 1}.`);
    const page = this.repo.clusterPage(args.clusteringId, args.cluster, args.offset, args.limit);
    return {
      total: page.total,
      offset: args.offset,
      items: page.rows.map((r) => ({ imageId: r.image_id, distance: r.distance, version: r.version, outlier: r.outlier === 1, label: r.label })),
    };
  }

  /** A 2-D map of the set's images: PCA at once; UMAP as a task on first request, stored once done. */
  async projection(args: { setId: number; method: 'pca' | 'umap'; folderIds?: number[] }): Promise<Projection> {
    const key = folderKey(args.folderIds);
    const stored = this.repo.projection(args.setId, args.method, key);
    const { images, vectors, dim } = this.loaded(args.setId, args.folderIds);
    const describe = (imageIds: number[], xy: Float32Array): Projection => {
      const byId = new Map(images.map((image) => [image.id, image]));
      return {
        method: args.method,
        ready: true,
        task: null,
        imageIds,
        xy: Buffer.from(xy.buffer, xy.byteOffset, xy.byteLength).toString('base64'),
        folderIds: imageIds.map((imageId) => byId.get(imageId)?.folder_id ?? -1),
        classIds: imageIds.map((imageId) => byId.get(imageId)?.class_id ?? -1),
      };
    };
    if (stored && stored.imageIds.length === images.length) return describe(stored.imageIds, stored.xy);
    const imageIds = images.map((image) => image.id);
    if (args.method === 'pca') {
      const xy = await this.jobs.runComputeJob({ kind: 'pca', features: vectors, n: images.length, dim });
      this.repo.putProjection(args.setId, 'pca', key, imageIds, xy);
      return describe(imageIds, xy);
    }
    const taskKey = `${args.setId}:${key}`;
    let task = this.umapTasks.get(taskKey);
    if (!task || task.status !== 'running') {
      task = this.context.tasks.start({ kind: 'umap', title: `UMAP map of ${images.length.toLocaleString('en-US')} images`, unit: 'epochs' }, async (context) => {
        try {
          const xy = await this.jobs.runComputeJob({ kind: 'umap', features: vectors, n: images.length, dim, seed: 0 }, { progress: (done, total) => context.progress(done, total), signal: context.signal });
          this.repo.putProjection(args.setId, 'umap', key, imageIds, xy);
        } catch (error) {
          if (!context.signal.aborted) throw error;
        }
      });
      this.umapTasks.set(taskKey, task);
    }
    return { method: 'umap', ready: false, task: this.context.tasks.list().find((t) => t.id === task.id) ?? task, imageIds: [], xy: '', folderIds: [], classIds: [] };
  }

  /** The k nearest images to one image in the set (cosine distance on the L2-normalised features). */
  similar(args: { setId: number; imageId: number; k: number }): ImageDistance[] {
    this.mustGetSet(args.setId);
    const query = this.repo.vector(args.setId, args.imageId);
    if (!query) throw new ServiceError('NOT_FOUND', `Image ${args.imageId} has no embedding in this set yet: compute the embeddings first.`);
    const { images, vectors, dim } = this.loaded(args.setId);
    const scored: { index: number; distance: number }[] = [];
    for (let i = 0; i < images.length; i += 1) {
      if (images[i]!.id === args.imageId) continue;
      let dot = 0;
      for (let d = 0; d < dim; d += 1) dot += query[d]! * vectors[i * dim + d]!;
      scored.push({ index: i, distance: 1 - dot });
    }
    scored.sort((a, b) => a.distance - b.distance);
    return scored.slice(0, args.k).map(({ index, distance }) => ({ imageId: images[index]!.id, distance, version: images[index]!.content_hash.slice(0, 16) }));
  }

  /** Pairs of images closer than `threshold` (cosine distance), closest first. */
  async duplicates(args: { setId: number; threshold: number; folderIds?: number[]; limit: number }): Promise<NearDuplicatePair[]> {
    const { images, vectors, dim } = this.loaded(args.setId, args.folderIds);
    const pairs = await this.jobs.runComputeJob({ kind: 'duplicates', features: vectors, n: images.length, dim, threshold: args.threshold, metric: 'cosine', limit: args.limit });
    const item = (index: number): ImageDistance => ({ imageId: images[index]!.id, distance: 0, version: images[index]!.content_hash.slice(0, 16) });
    return pairs.map((pair) => ({ a: item(pair.a), b: item(pair.b), distance: pair.distance }));
  }

  handlers(): AreaHandlers<EmbeddingCalls> {
    return {
      embeddingsCompute: ({ source, folderIds }) => this.compute(source, folderIds),
      embeddingSets: () => this.sets(),
      clusterCompute: (args) => this.cluster(args),
      clusteringGet: ({ clusteringId }) => this.clustering(clusteringId),
      clusteringLatest: ({ setId }) => this.latestClustering(setId),
      clusterImages: (args) => this.clusterImages(args),
      projectionGet: (args) => this.projection(args),
      similarImages: (args) => this.similar(args),
      nearDuplicates: (args) => this.duplicates(args),
    };
  }
}

/** Outliers: distance beyond mean + 3 sd, at most the farthest 1% (at least 1 when any qualifies). */
export function outlierFlags(distances: Float32Array): Uint8Array {
  const n = distances.length;
  const flags = new Uint8Array(n);
  if (n < 10) return flags;
  let mean = 0;
  for (const d of distances) mean += d;
  mean /= n;
  let variance = 0;
  for (const d of distances) variance += (d - mean) ** 2;
  const limit = mean + 3 * Math.sqrt(variance / n);
  const order = Array.from(distances.keys()).sort((a, b) => distances[b]! - distances[a]!);
  const most = Math.max(1, Math.floor(n * 0.01));
  for (const index of order.slice(0, most)) if (distances[index]! > limit) flags[index] = 1;
  return flags;
}

type EmbeddingCalls =
  | 'embeddingsCompute'
  | 'embeddingSets'
  | 'clusterCompute'
  | 'clusteringGet'
  | 'clusteringLatest'
  | 'clusterImages'
  | 'projectionGet'
  | 'similarImages'
  | 'nearDuplicates';

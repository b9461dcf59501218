import { z } from 'zod';
import type { TaskInfo } from './tasks';

/**
 * Embeddings, clusters and the embedding map as the contract shows them: what the backbone of
 * a checkpoint (or a random-init backbone, for comparison) makes of the library's images.
 */

const id = z.number().int().positive();
const folderIds = z.array(id).min(1, 'choose at least one folder (or leave the choice out for the whole library)').max(10_000).optional();

/** Which backbone embeds the images: a checkpoint of a run, or the same architecture at random init. */
export const embeddingSourceSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('checkpoint'), runId: id, step: z.number().int().min(0) }).strict(),
  z.object({ kind: z.literal('random'), runId: id }).strict(),
]);
export type EmbeddingSource = z.infer<typeof embeddingSourceSchema>;

export const embeddingsComputeSchema = z.object({ source: embeddingSourceSchema, folderIds }).strict();

export const distanceMetrics = ['cosine', 'euclidean'] as const;
export type DistanceMetric = (typeof distanceMetrics)[number];

export const clusterComputeSchema = z
  .object({
    setId: id,
    /** Number of clusters; a heuristic from the image count when left out. */
    k: z.number().int().min(2).max(1000).optional(),
    metric: z.enum(distanceMetrics).default('cosine'),
    seed: z.number().int().min(0).max(2 ** 31 - 1).default(0),
    folderIds,
  })
  .strict();

export const clusterImagesSchema = z
  .object({
    clusteringId: id,
    cluster: z.number().int().min(0),
    offset: z.number().int().min(0).default(0),
    limit: z.number().int().min(1).max(1000).default(200),
  })
  .strict();

export const projectionSchema = z
  .object({
    setId: id,
    method: z.enum(['pca', 'umap']).default('pca'),
    folderIds,
  })
  .strict();

export const similarImagesSchema = z
  .object({
    setId: id,
    imageId: id,
    k: z.number().int().min(1).max(200).default(24),
  })
  .strict();

export const nearDuplicatesSchema = z
  .object({
    setId: id,
    /** Cosine distance under which two images count as near-duplicates. */
    threshold: z.number().min(0).max(1).default(0.02),
    folderIds,
    limit: z.number().int().min(1).max(10_000).default(500),
  })
  .strict();

/** The number of clusters when the user gives none: about sqrt(n / 2), between 2 and 50. */
export function defaultClusterCount(images: number): number {
  return Math.min(50, Math.max(2, Math.round(Math.sqrt(images / 2))));
}

/** A set of embeddings: one backbone, the images embedded so far. */
export interface EmbeddingSetInfo {
  id: number;
  source: EmbeddingSource;
  /** How a person names it: "Run 3 at step 600", "Random init (Run 3's architecture)". */
  label: string;
  runName: string;
  /** Feature width and the input size (pixels) images are resized and centre-cropped to. */
  dim: number;
  size: number;
  /** Images with an embedding in this set, and images of the library in all. */
  images: number;
  libraryImages: number;
  createdAt: string;
  updatedAt: string;
}

export interface EmbeddingsComputeResult {
  set: EmbeddingSetInfo;
  /** The task embedding the missing images; null when every image already has one. */
  task: TaskInfo | null;
  /** Images to embed (new or changed since the last time). */
  missing: number;
}

/** One image with its distance (to a cluster centre, or to a query image). */
export interface ImageDistance {
  imageId: number;
  distance: number;
  /** Thumbnail version (start of the content hash). */
  version: string;
}

export interface ClusterInfo {
  cluster: number;
  size: number;
  /**
   * Images of the cluster with a reference class (their class subfolder where the folder is laid
   * out in classes, else their label; see main/services/reference-classes.ts).
   */
  labelled: number;
  /** The most common reference class; null when fewer than minNamedClusterImages images have one. */
  majority: string | null;
  /** The share of `labelled` in the majority class; null with `majority`. */
  purity: number | null;
  /** The images nearest the centre, nearest first. */
  representatives: ImageDistance[];
  /** Images of the cluster marked as outliers (farthest from any centre). */
  outliers: number;
}

export interface ClusteringInfo {
  id: number;
  setId: number;
  k: number;
  metric: DistanceMetric;
  seed: number;
  images: number;
  inertia: number;
  iterations: number;
  /** NMI, ARI and purity against the reference classes, with what they rest on. */
  scores: ClusteringScores;
  clusters: ClusterInfo[];
  /** Outliers: distance to their centre beyond the mean + 3 standard deviations (at most 1%). */
  outliers: ImageDistance[];
  createdAt: string;
}

/**
 * A clustering's scores against the reference classes (class subfolders, else labels), read
 * afresh from the current labels each time, with the number of images they rest on.
 */
export interface ClusteringScores {
  /** Images with a reference class: the scores rest on these. */
  labelled: number;
  /** Of them, those whose class is their class subfolder (the others take their label). */
  fromFolders: number;
  /** Distinct reference classes among them. */
  classes: number;
  /** The fewest images the scores may rest on: under it (or with one class) they are null. */
  minimum: number;
  nmi: number | null;
  ari: number | null;
  purity: number | null;
}

export interface ClusterImagesPage {
  items: (ImageDistance & { outlier: boolean; label: string | null })[];
  total: number;
  offset: number;
}

/** A 2-D map of a set's images. */
export interface Projection {
  method: 'pca' | 'umap';
  /** null while UMAP is being computed (see `task`). */
  ready: boolean;
  task: TaskInfo | null;
  imageIds: number[];
  /** Base64 of a Float32Array of imageIds.length * 2 coordinates. */
  xy: string;
  /** Per image: its folder id and its label class id (-1 when none). */
  folderIds: number[];
  classIds: number[];
}

export interface NearDuplicatePair {
  a: ImageDistance;
  b: ImageDistance;
  distance: number;
}

import type { CallName } from '../../main/common/api-contract';
import type {
  ClusterInfo,
  ClusteringInfo,
  EmbeddingSetInfo,
  EmbeddingSource,
  Projection } from '../../main/common/embeddings';
import type { FolderInfo, GalleryItem } from '../../main/common/library';
import type { CheckpointInfo, RunDetails, RunInfo } from '../../main/common/runs';
import type { TaskInfo } from '../../main/common/tasks';
import { useBackbonesStore } from '../../renderer/src/stores/backbones';
import { useClustersStore } from '../../renderer/src/stores/clusters';
import { useClustersScreenStore } from '../../renderer/src/stores/clusters-screen';
import { useEmbeddingMapStore } from '../../renderer/src/stores/embedding-map';
import { useEmbeddingsStore } from '../../renderer/src/stores/embeddings';
import { useImageTilesStore } from '../../renderer/src/stores/image-tiles';
import { useSelectionStore } from '../../renderer/src/stores/selection';
import { useSimilarStore } from '../../renderer/src/stores/similar';
import { fakeClient, type Handler } from './fake-client';
import { folderInfo, runInfo as baseRunInfo } from './run-fixtures';

/**
 * The Clusters screen's fixtures for the renderer tests of its stores (backbones, embeddings,
 * clusters, embedding map, selection, similar images): six images, two runs, one embedded set,
 * one clustering of two clusters, and a fake client answering for them.
 */

/** A finished run of 6 images and 6 steps with 2 checkpoints. */
export const runInfo = (id: number, patch: Partial<RunInfo> = {}): RunInfo => baseRunInfo(id, { imageCount: 6, lastStep: 6, checkpointCount: 2, totalSteps: 6, ...patch });

export function checkpoint(step: number): CheckpointInfo {
  return {
    step,
    epoch: step / 3,
    kind: 'epoch',
    file: `/data/runs/x/${step}.ckpt`,
    createdAt: '2026-01-01T10:04:00.000Z' };
}

export function details(run: RunInfo, steps: number[]): RunDetails {
  return { ...run, metrics: [], metricCount: 0, checkpoints: steps.map(checkpoint), epochMetrics: [] };
}

export function setInfo(id: number, source: EmbeddingSource, images = 6): EmbeddingSetInfo {
  return {
    id,
    source,
    label:
      source.kind === 'checkpoint'
        ? `Run ${source.runId} at step ${source.step}`
        : `Random init (Run ${source.runId}'s architecture)`,
    runName: `Run ${source.runId}`,
    dim: 64,
    size: 64,
    images,
    libraryImages: 6,
    createdAt: '2026-01-01T11:00:00.000Z',
    updatedAt: '2026-01-01T11:00:00.000Z' };
}

/** A folder of class subfolders, every image labelled by it. */
export function folder(id: number, name: string, images: number): FolderInfo {
  return folderInfo(id, name, images, {
    path: `/images/${name}`,
    addedAt: '2026-01-01T09:00:00.000Z',
    labelled: images,
    looksLikeClasses: true,
    labelsFromFolders: true,
  });
}

export function cluster(index: number, size: number, purity: number | null, imageIds: number[]): ClusterInfo {
  return {
    cluster: index,
    size,
    labelled: purity === null ? 0 : size,
    majority: purity === null ? null : `class${index}`,
    purity,
    representatives: imageIds.map((imageId, i) => ({ imageId, distance: i / 10, version: `v${imageId}` })),
    outliers: 0 };
}

/** Six images 1..6: cluster 0 holds 1, 2, 3, 4 (purity 0.5); cluster 1 holds 5, 6 (purity 1). */
export function clusteringInfo(id = 7, setId = 1): ClusteringInfo {
  return {
    id,
    setId,
    k: 2,
    metric: 'cosine',
    seed: 0,
    images: 6,
    inertia: 1.5,
    iterations: 4,
    scores: { nmi: 0.5, ari: 0.25, purity: 0.67, labelled: 40, fromFolders: 40, classes: 2, minimum: 30 },
    clusters: [cluster(0, 4, 0.5, [1, 2, 3, 4]), cluster(1, 2, 1, [5, 6])],
    outliers: [],
    createdAt: '2026-01-01T12:00:00.000Z' };
}

export const members: Record<number, number[]> = { 0: [1, 2, 3, 4], 1: [5, 6] };

export function base64(values: number[]): string {
  return Buffer.from(new Float32Array(values).buffer).toString('base64');
}

export function projection(method: 'pca' | 'umap' = 'pca'): Projection {
  return {
    method,
    ready: true,
    task: null,
    imageIds: [1, 2, 3, 4, 5, 6],
    xy: base64([0, 0, 1, 0, 0, 1, 1, 1, 5, 5, 6, 5]),
    folderIds: [10, 10, 10, 11, 11, 11],
    classIds: [20, 20, 21, 21, -1, 22] };
}

export function task(id: string, patch: Partial<TaskInfo> = {}): TaskInfo {
  return {
    id,
    kind: 'embed',
    title: 'Embedding 6 images',
    status: 'running',
    done: 0,
    total: 6,
    unit: 'images',
    startedAt: '2026-01-01T11:00:00.000Z',
    ...patch };
}

export function galleryItem(id: number): GalleryItem {
  return { id, folderId: 10, relPath: `class/${id}.png`, version: `v${id}`, label: `label${id}` };
}

export const flush = () => new Promise((resolve) => setTimeout(resolve, 0));
export const checkpointSource: EmbeddingSource = { kind: 'checkpoint', runId: 2, step: 6 };

/** A library of 6 images, runs 2 (checkpoints 3 and 6, in use at 6) and 1 (checkpoint 6), one embedded set. */
export function standardClient(patch: Partial<Record<CallName, Handler>> = {}) {
  const runs = [runInfo(2), runInfo(1)];
  return fakeClient({
    runsList: () => runs,
    backboneGet: () => ({
      runId: 2,
      runName: 'Run 2',
      step: 6,
      file: '/x',
      chosenAt: '2026-01-01T10:06:00.000Z' }),
    runGet: (args: { runId: number }) =>
      details(
        runs.find((run) => run.id === args.runId)!,
        args.runId === 2 ? [3, 6] : [6],
      ),
    embeddingSets: () => [setInfo(1, checkpointSource)],
    libraryFolders: () => [folder(10, 'cats', 3), folder(11, 'dogs', 3)],
    libraryClasses: () => [
      { id: 20, name: 'cat', images: 2 },
      { id: 21, name: 'dog', images: 2 },
      { id: 22, name: 'bird', images: 1 },
    ],
    clusteringLatest: () => clusteringInfo(),
    tasksList: () => [],
    clusterImages: (args: { cluster: number; offset: number; limit: number }) => {
      const ids = members[args.cluster] ?? [];
      const page = ids.slice(args.offset, args.offset + args.limit);
      return {
        total: ids.length,
        offset: args.offset,
        items: page.map((imageId, i) => ({
          imageId,
          distance: (args.offset + i) / 10,
          version: `v${imageId}`,
          outlier: false,
          label: null })) };
    },
    projectionGet: (args: { method: 'pca' | 'umap' }) => projection(args.method),
    libraryItems: (args: { ids: number[] }) => args.ids.map(galleryItem),
    ...patch });
}

/** The Clusters screen's stores under the active Pinia. */
export function clustersStores() {
  return {
    screen: useClustersScreenStore(),
    backbones: useBackbonesStore(),
    embeddings: useEmbeddingsStore(),
    clusters: useClustersStore(),
    embeddingMap: useEmbeddingMapStore(),
    selection: useSelectionStore(),
    similar: useSimilarStore(),
    tiles: useImageTilesStore(),
  };
}

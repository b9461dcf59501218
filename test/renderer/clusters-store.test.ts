// @vitest-environment happy-dom
import { mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { beforeEach, describe, expect, it } from 'vitest';
import type { CallName } from '../../main/common/api-contract';
import type {
  ClusterInfo,
  ClusteringInfo,
  EmbeddingSetInfo,
  EmbeddingSource,
  Projection } from '../../main/common/embeddings';
import type { FolderInfo, GalleryItem } from '../../main/common/library';
import { err } from '../../main/common/result';
import type { CheckpointInfo, RunDetails, RunInfo } from '../../main/common/runs';
import type { TaskInfo } from '../../main/common/tasks';
import { useClient } from '../../renderer/src/api';
import { classColor as labelColor } from '../../renderer/src/classes';
import { mapColorsFor } from '../../renderer/src/stores/map-colors';
import { fakeClient, type Handler } from '../helpers/fake-client';
import { runInfo as baseRunInfo } from '../helpers/run-fixtures';
import ClustersView from '../../renderer/src/views/ClustersView.vue';
import { useTasksStore } from '../../renderer/src/stores/tasks';
import {
  decodeFloat32,
  parseK,
  parseSourceKey,
  sourceKey,
  useClustersStore } from '../../renderer/src/stores/clusters';


/** A finished run of 6 images and 6 steps with 2 checkpoints. */
const runInfo = (id: number, patch: Partial<RunInfo> = {}): RunInfo => baseRunInfo(id, { imageCount: 6, lastStep: 6, checkpointCount: 2, totalSteps: 6, ...patch });

function checkpoint(step: number): CheckpointInfo {
  return {
    step,
    epoch: step / 3,
    kind: 'epoch',
    file: `/data/runs/x/${step}.ckpt`,
    createdAt: '2026-01-01T10:04:00.000Z' };
}

function details(run: RunInfo, steps: number[]): RunDetails {
  return { ...run, metrics: [], metricCount: 0, checkpoints: steps.map(checkpoint), epochMetrics: [] };
}

function setInfo(id: number, source: EmbeddingSource, images = 6): EmbeddingSetInfo {
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

function folder(id: number, name: string, images: number): FolderInfo {
  return {
    id,
    path: `/images/${name}`,
    name,
    minSide: 8,
    maxPixels: 1e8,
    addedAt: '2026-01-01T09:00:00.000Z',
    images,
    rejected: 0,
    labelled: images,
    duplicates: 0,
    thumbnailsPending: 0,
    scanStatus: 'finished',
    classes: [],
    looksLikeClasses: true,
    labelsFromFolders: true };
}

function cluster(index: number, size: number, purity: number | null, imageIds: number[]): ClusterInfo {
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
function clusteringInfo(id = 7, setId = 1): ClusteringInfo {
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

const members: Record<number, number[]> = { 0: [1, 2, 3, 4], 1: [5, 6] };

function base64(values: number[]): string {
  return Buffer.from(new Float32Array(values).buffer).toString('base64');
}

function projection(method: 'pca' | 'umap' = 'pca'): Projection {
  return {
    method,
    ready: true,
    task: null,
    imageIds: [1, 2, 3, 4, 5, 6],
    xy: base64([0, 0, 1, 0, 0, 1, 1, 1, 5, 5, 6, 5]),
    folderIds: [10, 10, 10, 11, 11, 11],
    classIds: [20, 20, 21, 21, -1, 22] };
}

function task(id: string, patch: Partial<TaskInfo> = {}): TaskInfo {
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

function galleryItem(id: number): GalleryItem {
  return { id, folderId: 10, relPath: `class/${id}.png`, version: `v${id}`, label: `label${id}` };
}

const flush = () => new Promise((resolve) => setTimeout(resolve, 0));
const checkpointSource: EmbeddingSource = { kind: 'checkpoint', runId: 2, step: 6 };

/** A library of 6 images, runs 2 (checkpoints 3 and 6, in use at 6) and 1 (checkpoint 6), one embedded set. */
function standardClient(patch: Partial<Record<CallName, Handler>> = {}) {
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

beforeEach(() => {
  setActivePinia(createPinia());
});

describe('clusters store: helpers', () => {
  it('names sources as picker values and reads them back', () => {
    expect(sourceKey({ kind: 'checkpoint', runId: 3, step: 600 })).toBe('c:3:600');
    expect(sourceKey({ kind: 'random', runId: 3 })).toBe('r:3');
    expect(parseSourceKey('c:3:600')).toEqual({ kind: 'checkpoint', runId: 3, step: 600 });
    expect(parseSourceKey('r:3')).toEqual({ kind: 'random', runId: 3 });
    expect(parseSourceKey('x:1')).toBeUndefined();
  });

  it('reads k: empty is automatic, 2 to 1000 whole numbers pass, anything else says why', () => {
    expect(parseK('')).toEqual({});
    expect(parseK(' 12 ')).toEqual({ k: 12 });
    expect(parseK('1').error).toMatch(/2 to 1000/);
    expect(parseK('2.5').error).toBeDefined();
    expect(parseK('abc').error).toBeDefined();
  });

  it('decodes base64 Float32 coordinates', () => {
    expect([...decodeFloat32(base64([1.5, -2, 3.25]))]).toEqual([1.5, -2, 3.25]);
    expect(decodeFloat32('').length).toBe(0);
  });
});

describe('clusters store: loading and the backbone', () => {
  it('picks the backbone in use, lists every checkpoint and a random init per run, and reads the last clustering', async () => {
    const fake = standardClient();
    useClient(fake.client);
    const store = useClustersStore();
    await store.start();
    expect(store.loaded).toBe(true);
    expect(store.selectedKey).toBe('c:2:6');
    expect(store.options.map((option) => option.key)).toEqual(['c:2:6', 'c:2:3', 'r:2', 'c:1:6', 'r:1']);
    expect(store.options[0]!.inUse).toBe(true);
    expect(store.options[0]!.label).toMatch(/in use/);
    expect(store.set?.id).toBe(1);
    expect(store.clustering?.id).toBe(7);
    expect(store.libraryImages).toBe(6);
    expect(fake.named('clusteringLatest')[0]!.args).toEqual({ setId: 1 });
  });

  it('without a backbone in use takes the newest checkpoint of the newest run; without runs nothing', async () => {
    const fake = standardClient({ backboneGet: () => null });
    useClient(fake.client);
    const store = useClustersStore();
    await store.start();
    expect(store.selectedKey).toBe('c:2:6');

    setActivePinia(createPinia());
    const empty = standardClient({ runsList: () => [], backboneGet: () => null, embeddingSets: () => [] });
    useClient(empty.client);
    const none = useClustersStore();
    await none.start();
    expect(none.runs).toEqual([]);
    expect(none.selectedKey).toBeUndefined();
    expect(none.options).toEqual([]);
  });

  it('follows the backbone in use while the choice is the default, not once the user picked one', async () => {
    let step = 3;
    const fake = standardClient({
      backboneGet: () => ({
        runId: 2,
        runName: 'Run 2',
        step,
        file: '/x',
        chosenAt: '2026-01-01T10:06:00.000Z' }) });
    useClient(fake.client);
    const store = useClustersStore();
    await store.start();
    expect(store.selectedKey).toBe('c:2:3');
    step = 6;
    await store.start();
    expect(store.selectedKey).toBe('c:2:6');
    await store.selectSource('r:1');
    step = 3;
    await store.start();
    expect(store.selectedKey).toBe('r:1');
  });

  it('reads the last clustering of every set to compare backbones', async () => {
    const random: EmbeddingSource = { kind: 'random', runId: 2 };
    const fake = standardClient({
      embeddingSets: () => [setInfo(1, checkpointSource), setInfo(2, random)],
      clusteringLatest: (args: { setId: number }) => (args.setId === 1 ? clusteringInfo(7, 1) : null) });
    useClient(fake.client);
    const store = useClustersStore();
    await store.start();
    await flush();
    expect(store.comparisons.map((entry) => [entry.set.id, entry.clustering?.id ?? null])).toEqual([
      [1, 7],
      [2, null],
    ]);
  });

  it('keeps the words of a failed load', async () => {
    const fake = standardClient({ runsList: () => err('INTERNAL', 'the database is locked') });
    useClient(fake.client);
    const store = useClustersStore();
    await store.start();
    expect(store.loadError?.message).toBe('the database is locked');
  });

  it('switching to a source without a set forgets the clustering, the map and the selection', async () => {
    const fake = standardClient();
    useClient(fake.client);
    const store = useClustersStore();
    await store.start();
    await store.loadMap('pca');
    store.selectIds([1, 2]);
    await store.selectSource('r:2');
    expect(store.set).toBeUndefined();
    expect(store.clustering).toBeUndefined();
    expect(store.map).toBeUndefined();
    expect(store.selection).toEqual([]);
  });
});

describe('clusters store: embeddings', () => {
  it('starts the task with the chosen folders, follows its events and reads the set again when it ends', async () => {
    let images = 2;
    const fake = standardClient({
      embeddingSets: () => [setInfo(1, checkpointSource, images)],
      embeddingsCompute: () => ({ set: setInfo(1, checkpointSource, 2), task: task('t1'), missing: 4 }) });
    useClient(fake.client);
    const store = useClustersStore();
    await store.start();
    store.setScope([11]);
    await store.computeEmbeddings();
    expect(fake.named('embeddingsCompute')[0]!.args).toEqual({ source: checkpointSource, folderIds: [11] });
    expect(store.embedTask?.id).toBe('t1');
    expect(store.embedding).toBe(true);
    expect(store.allEmbedded).toBe(false);

    fake.emit('task', task('t1', { done: 3 }));
    expect(store.embedTask?.done).toBe(3);
    fake.emit('task', task('other', { kind: 'import', done: 1 }));
    // Every task is kept once, in the tasks store; the clusters store's embedding task is unchanged.
    expect(useTasksStore().get('other')?.kind).toBe('import');
    expect(store.embedTask?.id).toBe('t1');

    images = 6;
    const before = fake.named('embeddingSets').length;
    fake.emit('task', task('t1', { done: 6, status: 'finished' }));
    await flush();
    expect(store.embedding).toBe(false);
    expect(fake.named('embeddingSets').length).toBe(before + 1);
    expect(store.set?.images).toBe(6);
  });

  it('says when every image is embedded already, and shows a refusal in words', async () => {
    const fake = standardClient({
      embeddingsCompute: () => ({ set: setInfo(1, checkpointSource, 6), task: null, missing: 0 }) });
    useClient(fake.client);
    const store = useClustersStore();
    await store.start();
    await store.computeEmbeddings();
    expect(store.allEmbedded).toBe(true);
    expect(store.embedTask).toBeUndefined();

    fake.handlers.embeddingsCompute = () =>
      err('CONFLICT', 'A pretraining run is training: one job uses the engine at a time.');
    const error = await store.computeEmbeddings();
    expect(error?.code).toBe('CONFLICT');
    expect(store.embedError?.message).toMatch(/one job uses the engine/);
  });

  it('a task that ended before the call answered is not shown as running', async () => {
    const fake = standardClient();
    fake.handlers.embeddingsCompute = () => {
      // The task's last event comes over the event stream before the call's answer.
      fake.emit('task', task('quick', { done: 6, status: 'finished' }));
      return { set: setInfo(1, checkpointSource, 0), task: task('quick'), missing: 6 };
    };
    useClient(fake.client);
    const store = useClustersStore();
    await store.start();
    await store.computeEmbeddings();
    await flush();
    expect(store.embedTask?.status).toBe('finished');
    expect(store.embedding).toBe(false);
    expect(store.set?.images).toBe(6);
  });

  it('a failed embedding task leaves its reason', async () => {
    const fake = standardClient({
      embeddingsCompute: () => ({ set: setInfo(1, checkpointSource, 0), task: task('t2'), missing: 6 }) });
    useClient(fake.client);
    const store = useClustersStore();
    await store.start();
    await store.computeEmbeddings();
    fake.emit('task', task('t2', { status: 'failed', error: 'out of memory' }));
    await flush();
    expect(store.embedError?.message).toBe('Embedding failed: out of memory');
  });
});

describe('clusters store: clustering and the cluster browser', () => {
  it('clusters with the form: automatic k when empty, a typed k, metric, seed and scope', async () => {
    const fake = standardClient({ clusterCompute: () => clusteringInfo(8) });
    useClient(fake.client);
    const store = useClustersStore();
    await store.start();
    await store.cluster();
    expect(fake.named('clusterCompute')[0]!.args).toEqual({ setId: 1, metric: 'cosine', seed: 0 });
    store.kText = '3';
    store.metric = 'euclidean';
    store.seed = 5;
    store.setScope([10]);
    await flush();
    await store.cluster();
    expect(fake.named('clusterCompute')[1]!.args).toEqual({
      setId: 1,
      k: 3,
      metric: 'euclidean',
      seed: 5,
      folderIds: [10] });
    expect(store.clustering?.id).toBe(8);
  });

  it('refuses a bad k without calling, and shows a failed clustering in words', async () => {
    const fake = standardClient({
      clusterCompute: () =>
        err('INVALID_ARGUMENT', 'k: 9 clusters need at least 9 embedded images; there are 6. Lower k.') });
    useClient(fake.client);
    const store = useClustersStore();
    await store.start();
    store.kText = '1';
    await store.cluster();
    expect(fake.named('clusterCompute')).toHaveLength(0);
    expect(store.clusterError?.message).toMatch(/2 to 1000/);
    store.kText = '9';
    await store.cluster();
    expect(store.clusterError?.message).toMatch(/Lower k/);
    expect(store.clusterBusy).toBe(false);
  });

  it('sorts the cards by size or by purity', async () => {
    useClient(standardClient().client);
    const store = useClustersStore();
    await store.start();
    expect(store.sortedClusters.map((c) => c.cluster)).toEqual([0, 1]);
    store.sortBy = 'purity';
    expect(store.sortedClusters.map((c) => c.cluster)).toEqual([1, 0]);
  });

  it("opens a cluster and reads its images page by page, nearest the centre first, with their tiles' names", async () => {
    const fake = standardClient();
    useClient(fake.client);
    const store = useClustersStore();
    await store.start();
    store.openClusterDetail(0);
    await flush();
    await flush();
    expect(store.openClusterInfo?.size).toBe(4);
    expect(store.clusterTotal).toBe(4);
    expect(fake.named('clusterImages')[0]!.args).toEqual({
      clusteringId: 7,
      cluster: 0,
      offset: 0,
      limit: 200 });
    expect([0, 1, 2, 3].map((i) => store.clusterItemAt(i)?.imageId)).toEqual([1, 2, 3, 4]);
    expect(store.itemFor(1)?.relPath).toBe('class/1.png');
    // A page already there is not asked again.
    store.ensureClusterRange(0, 3);
    expect(fake.named('clusterImages')).toHaveLength(1);
    store.closeClusterDetail();
    expect(store.openCluster).toBeUndefined();
  });
});

describe('clusters store: the map', () => {
  it('decodes the PCA map and colours it by cluster, label or folder', async () => {
    const fake = standardClient();
    useClient(fake.client);
    const store = useClustersStore();
    await store.start();
    await store.loadMap('pca');
    await flush();
    expect(store.map?.xy.length).toBe(12);
    expect(store.map?.xy[8]).toBe(5);
    expect(store.colorByShown).toBe('cluster');
    expect([...store.mapColors.colors]).toEqual([0, 0, 0, 0, 1, 1]);
    expect(store.mapColors.categories.map((c) => c.name)).toEqual([
      'Cluster 0 · class0',
      'Cluster 1 · class1',
    ]);

    store.setColorBy('label');
    expect([...store.mapColors.colors]).toEqual([0, 0, 1, 1, -1, 2]);
    expect(store.mapColors.categories.map((c) => c.name)).toEqual(['cat', 'dog', 'bird']);
    store.setColorBy('folder');
    expect([...store.mapColors.colors]).toEqual([0, 0, 0, 1, 1, 1]);
    expect(store.mapColors.categories.map((c) => c.name)).toEqual(['cats', 'dogs']);
  });

  it('colours by label while there is no clustering', async () => {
    useClient(standardClient({ clusteringLatest: () => null }).client);
    const store = useClustersStore();
    await store.start();
    await store.loadMap('pca');
    expect(store.colorBy).toBe('cluster');
    expect(store.colorByShown).toBe('label');
  });

  it('UMAP answers with a task first, then the map once the task has finished', async () => {
    let ready = false;
    const fake = standardClient({
      projectionGet: (args: { method: 'pca' | 'umap' }) =>
        args.method === 'umap' && !ready
          ? {
              ...projection('umap'),
              ready: false,
              task: task('u1', { kind: 'umap', unit: 'epochs', total: 200 }),
              imageIds: [],
              xy: '' }
          : projection(args.method) });
    useClient(fake.client);
    const store = useClustersStore();
    await store.start();
    await store.loadMap('umap');
    expect(store.map).toBeUndefined();
    expect(store.mapLoading).toBe(true);
    expect(store.umapTask?.status).toBe('running');
    fake.emit('task', task('u1', { kind: 'umap', done: 100, total: 200 }));
    expect(store.umapTask?.done).toBe(100);
    ready = true;
    fake.emit('task', task('u1', { kind: 'umap', done: 200, total: 200, status: 'finished' }));
    await flush();
    await flush();
    expect(store.map?.method).toBe('umap');
    expect(store.mapLoading).toBe(false);
  });

  it('a failed UMAP task is reported in words', async () => {
    const fake = standardClient({
      projectionGet: () => ({
        ...projection('umap'),
        ready: false,
        task: task('u2', { kind: 'umap' }),
        imageIds: [],
        xy: '' }) });
    useClient(fake.client);
    const store = useClustersStore();
    await store.start();
    await store.loadMap('umap');
    fake.emit('task', task('u2', { kind: 'umap', status: 'failed', error: 'no memory' }));
    expect(store.mapError?.message).toBe('The UMAP map failed: no memory');
    expect(store.mapLoading).toBe(false);
  });

  it('a lasso selects image ids; the grid reads their tiles page by page; clear empties it', async () => {
    const fake = standardClient();
    useClient(fake.client);
    const store = useClustersStore();
    await store.start();
    await store.loadMap('pca');
    store.selectIndices(Int32Array.from([4, 5, 1]));
    expect(store.selection).toEqual([5, 6, 2]);
    expect([...(store.highlighted ?? [])]).toEqual([1, 4, 5]);
    store.ensureSelectionRange(0, 2);
    await flush();
    expect(fake.named('libraryItems').at(-1)!.args).toEqual({ ids: [5, 6, 2] });
    expect([0, 1, 2].map((i) => store.selectionItemAt(i)?.id)).toEqual([5, 6, 2]);
    store.clearSelection();
    expect(store.selection).toEqual([]);
    expect(store.highlighted).toBeUndefined();
    expect(store.selectionItemAt(0)).toBeUndefined();
  });
});

describe('clusters store: similar images and near-duplicates', () => {
  it('lists the nearest images of one image, and says why when it has no embedding', async () => {
    const fake = standardClient({
      similarImages: (args: { imageId: number }) =>
        args.imageId === 1
          ? [
              { imageId: 2, distance: 0.1, version: 'v2' },
              { imageId: 3, distance: 0.2, version: 'v3' },
            ]
          : err('NOT_FOUND', 'Image 9 has no embedding in this set yet: compute the embeddings first.') });
    useClient(fake.client);
    const store = useClustersStore();
    await store.start();
    await store.findSimilar(1);
    expect(fake.named('similarImages')[0]!.args).toEqual({ setId: 1, imageId: 1, k: 24 });
    expect(store.similarFor).toBe(1);
    expect(store.similar.map((item) => item.imageId)).toEqual([2, 3]);
    await store.findSimilar(9);
    expect(store.similar).toEqual([]);
    expect(store.similarError?.message).toMatch(/no embedding/);
    store.closeSimilar();
    expect(store.similarFor).toBeUndefined();
  });

  it('finds near-duplicate pairs under the threshold', async () => {
    const fake = standardClient({
      nearDuplicates: () => [
        {
          a: { imageId: 1, distance: 0, version: 'v1' },
          b: { imageId: 2, distance: 0, version: 'v2' },
          distance: 0.01 },
      ] });
    useClient(fake.client);
    const store = useClustersStore();
    await store.start();
    store.duplicateThreshold = 0.05;
    await store.findDuplicates();
    expect(fake.named('nearDuplicates')[0]!.args).toEqual({ setId: 1, threshold: 0.05 });
    expect(store.duplicates).toHaveLength(1);
    expect(store.duplicatesLoading).toBe(false);
  });

  it('opens an image in the lightbox and fetches its tile', async () => {
    const fake = standardClient();
    useClient(fake.client);
    const store = useClustersStore();
    await store.start();
    store.openImage(4);
    await flush();
    expect(store.viewing).toBe(4);
    expect(store.itemFor(4)?.relPath).toBe('class/4.png');
    store.closeImage();
    expect(store.viewing).toBeUndefined();
  });
});

describe('Clusters view', () => {
  const stubs = { RouterLink: { props: ['to'], template: '<a :href="String(to)"><slot /></a>' } };
  const settle = async () => {
    for (let i = 0; i < 6; i += 1) await flush();
  };

  it('with nothing trained, explains and links to Pretrain', async () => {
    useClient(
      standardClient({ runsList: () => [], backboneGet: () => null, embeddingSets: () => [] }).client,
    );
    const wrapper = mount(ClustersView, { global: { plugins: [createPinia()], stubs } });
    await settle();
    expect(wrapper.find('[data-testid="clusters-no-runs"]').exists()).toBe(true);
    expect(wrapper.get('[data-testid="clusters-go-pretrain"]').attributes('href')).toBe('/pretrain');
    wrapper.unmount();
  });

  it('without embeddings for the backbone, says so', async () => {
    useClient(standardClient({ embeddingSets: () => [] }).client);
    const wrapper = mount(ClustersView, { global: { plugins: [createPinia()], stubs } });
    await settle();
    expect(wrapper.find('[data-testid="clusters-no-embeddings"]').exists()).toBe(true);
    expect((wrapper.get('[data-testid="backbone-source"]').element as HTMLSelectElement).value).toBe('c:2:6');
    expect(wrapper.get('[data-testid="embed-count"]').attributes('data-embedded')).toBe('0');
    wrapper.unmount();
  });

  it('shows the scores and a card per cluster; a card opens its cluster', async () => {
    useClient(standardClient().client);
    const wrapper = mount(ClustersView, {
      global: { plugins: [createPinia()], stubs },
      attachTo: document.body });
    await settle();
    expect(wrapper.get('[data-testid="cluster-scores"]').attributes('data-k')).toBe('2');
    expect(wrapper.get('[data-testid="score-nmi"]').text()).toBe('0.5');
    expect(wrapper.get('[data-testid="score-basis"]').text()).toBe('Scored against the class folders of 40 images (2 classes).');
    const cards = wrapper.findAll('[data-testid="cluster-card"]');
    expect(cards[0]!.get('[data-testid="cluster-majority"]').text()).toBe('mostly class0 · 50% of 4');
    expect(cards.map((card) => card.attributes('data-size'))).toEqual(['4', '2']);
    await cards[1]!.trigger('click');
    await settle();
    expect(wrapper.get('[data-testid="cluster-detail"]').attributes('data-cluster')).toBe('1');
    wrapper.unmount();
  });

  it('hides scores and cluster names that rest on too few images, saying on how many', async () => {
    const fake = standardClient();
    const original = fake.handlers.clusteringLatest as () => ClusteringInfo;
    fake.handlers.clusteringLatest = () => {
      const info = original();
      return {
        ...info,
        scores: { nmi: null, ari: null, purity: null, labelled: 16, fromFolders: 0, classes: 4, minimum: 30 },
        clusters: [{ ...info.clusters[0]!, labelled: 3, majority: null, purity: null }, { ...info.clusters[1]!, labelled: 0, majority: null, purity: null }],
      };
    };
    useClient(fake.client);
    const wrapper = mount(ClustersView, { global: { plugins: [createPinia()], stubs }, attachTo: document.body });
    await settle();
    expect(wrapper.find('[data-testid="score-nmi"]').exists()).toBe(false);
    expect(wrapper.get('[data-testid="score-basis"]').text()).toContain('Scores hidden: they would rest on the labels of 16 images, under the 30');
    const names = wrapper.findAll('[data-testid="cluster-majority"]').map((entry) => entry.text());
    expect(names).toEqual(['3 with a class: too few to name it', 'no class folders or labels']);
    wrapper.unmount();
  });

  it('a failed clustering is shown in words', async () => {
    useClient(
      standardClient({
        clusteringLatest: () => null,
        clusterCompute: () => err('INTERNAL', 'the compute process ended') }).client,
    );
    const wrapper = mount(ClustersView, { global: { plugins: [createPinia()], stubs } });
    await settle();
    expect(wrapper.find('[data-testid="clusters-none"]').exists()).toBe(true);
    await wrapper.get('form').trigger('submit');
    await settle();
    expect(wrapper.get('[data-testid="cluster-error"]').text()).toBe('the compute process ended');
    wrapper.unmount();
  });
});

describe('map colours', () => {
  it('colours by label in each class’s own colour, as the Label screen does; by cluster in the palette', () => {
    const classes = [
      { id: 4, name: 'cat', color: '#ff0000', key: 1, images: 1, hand: 1, folder: 0 },
      { id: 9, name: 'dog', color: null, key: 2, images: 1, hand: 1, folder: 0 },
    ];
    const data = { imageIds: [1, 2, 3], classIds: [9, -1, 4], folderIds: [1, 1, 1] };
    const byLabel = mapColorsFor(data, 'label', { assignments: new Map(), classes, folders: [] });
    expect([...byLabel.colors]).toEqual([1, -1, 0]);
    expect(byLabel.categories.map((c) => c.name)).toEqual(['cat', 'dog']);
    expect(byLabel.categoryColors).toEqual(['#ff0000', labelColor(classes[1]!)]);
    const byFolder = mapColorsFor(data, 'folder', { assignments: new Map(), classes, folders: [{ id: 1, name: 'pics' } as FolderInfo] });
    expect(byFolder.categoryColors).toBeUndefined();
    expect(byFolder.categories).toEqual([{ id: 1, name: 'pics' }]);
  });
});

// @vitest-environment happy-dom
import { createPinia, setActivePinia } from 'pinia';
import { beforeEach, describe, expect, it } from 'vitest';
import type { EmbeddingSource } from '../../main/common/embeddings';
import { err } from '../../main/common/result';
import { useClient } from '../../renderer/src/api';
import { parseSourceKey, sourceKey } from '../../renderer/src/stores/backbones';
import { useTasksStore } from '../../renderer/src/stores/tasks';
import { checkpointSource, clusteringInfo, clustersStores, flush, setInfo, standardClient, task } from '../helpers/clusters-fixtures';

beforeEach(() => {
  setActivePinia(createPinia());
});

describe('backbones store: helpers', () => {
  it('names sources as picker values and reads them back', () => {
    expect(sourceKey({ kind: 'checkpoint', runId: 3, step: 600 })).toBe('c:3:600');
    expect(sourceKey({ kind: 'random', runId: 3 })).toBe('r:3');
    expect(parseSourceKey('c:3:600')).toEqual({ kind: 'checkpoint', runId: 3, step: 600 });
    expect(parseSourceKey('r:3')).toEqual({ kind: 'random', runId: 3 });
    expect(parseSourceKey('x:1')).toBeUndefined();
  });
});

describe('backbones store: loading and the choice (through the Clusters screen)', () => {
  it('picks the backbone in use, lists every checkpoint and a random init per run, and reads the last clustering', async () => {
    const fake = standardClient();
    useClient(fake.client);
    const { screen, backbones, clusters } = clustersStores();
    await screen.start();
    expect(backbones.loaded).toBe(true);
    expect(backbones.selectedKey).toBe('c:2:6');
    expect(backbones.options.map((option) => option.key)).toEqual(['c:2:6', 'c:2:3', 'r:2', 'c:1:6', 'r:1']);
    expect(backbones.options[0]!.inUse).toBe(true);
    expect(backbones.options[0]!.label).toMatch(/in use/);
    expect(backbones.set?.id).toBe(1);
    expect(clusters.clustering?.id).toBe(7);
    expect(backbones.libraryImages).toBe(6);
    expect(fake.named('clusteringLatest')[0]!.args).toEqual({ setId: 1 });
  });

  it('without a backbone in use takes the newest checkpoint of the newest run; without runs nothing', async () => {
    const fake = standardClient({ backboneGet: () => null });
    useClient(fake.client);
    const { screen, backbones } = clustersStores();
    await screen.start();
    expect(backbones.selectedKey).toBe('c:2:6');

    setActivePinia(createPinia());
    const empty = standardClient({ runsList: () => [], backboneGet: () => null, embeddingSets: () => [] });
    useClient(empty.client);
    const none = clustersStores();
    await none.screen.start();
    expect(none.backbones.runs).toEqual([]);
    expect(none.backbones.selectedKey).toBeUndefined();
    expect(none.backbones.options).toEqual([]);
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
    const { screen, backbones } = clustersStores();
    await screen.start();
    expect(backbones.selectedKey).toBe('c:2:3');
    step = 6;
    await screen.start();
    expect(backbones.selectedKey).toBe('c:2:6');
    await screen.selectSource('r:1');
    step = 3;
    await screen.start();
    expect(backbones.selectedKey).toBe('r:1');
  });

  it('reads the last clustering of every set to compare backbones', async () => {
    const random: EmbeddingSource = { kind: 'random', runId: 2 };
    const fake = standardClient({
      embeddingSets: () => [setInfo(1, checkpointSource), setInfo(2, random)],
      clusteringLatest: (args: { setId: number }) => (args.setId === 1 ? clusteringInfo(7, 1) : null) });
    useClient(fake.client);
    const { screen, clusters } = clustersStores();
    await screen.start();
    await flush();
    expect(clusters.comparisons.map((entry) => [entry.set.id, entry.clustering?.id ?? null])).toEqual([
      [1, 7],
      [2, null],
    ]);
  });

  it('keeps the words of a failed load', async () => {
    const fake = standardClient({ runsList: () => err('INTERNAL', 'the database is locked') });
    useClient(fake.client);
    const { screen, backbones } = clustersStores();
    await screen.start();
    expect(backbones.loadError?.message).toBe('the database is locked');
  });

  it('switching to a source without a set forgets the clustering, the map and the selection', async () => {
    const fake = standardClient();
    useClient(fake.client);
    const { screen, backbones, clusters, embeddingMap, selection } = clustersStores();
    await screen.start();
    await embeddingMap.loadMap('pca');
    selection.selectIds([1, 2]);
    await screen.selectSource('r:2');
    expect(backbones.set).toBeUndefined();
    expect(clusters.clustering).toBeUndefined();
    expect(embeddingMap.map).toBeUndefined();
    expect(selection.selection).toEqual([]);
  });
});

describe('embeddings store', () => {
  it('starts the task with the chosen folders, follows its events and reads the set again when it ends', async () => {
    let images = 2;
    const fake = standardClient({
      embeddingSets: () => [setInfo(1, checkpointSource, images)],
      embeddingsCompute: () => ({ set: setInfo(1, checkpointSource, 2), task: task('t1'), missing: 4 }) });
    useClient(fake.client);
    const { screen, backbones, embeddings } = clustersStores();
    await screen.start();
    screen.setScope([11]);
    await embeddings.computeEmbeddings();
    expect(fake.named('embeddingsCompute')[0]!.args).toEqual({ source: checkpointSource, folderIds: [11] });
    expect(embeddings.embedTask?.id).toBe('t1');
    expect(embeddings.embedding).toBe(true);
    expect(embeddings.allEmbedded).toBe(false);

    fake.emit('task', task('t1', { done: 3 }));
    expect(embeddings.embedTask?.done).toBe(3);
    fake.emit('task', task('other', { kind: 'import', done: 1 }));
    // Every task is kept once, in the tasks store; the embeddings store's task is unchanged.
    expect(useTasksStore().get('other')?.kind).toBe('import');
    expect(embeddings.embedTask?.id).toBe('t1');

    images = 6;
    const before = fake.named('embeddingSets').length;
    fake.emit('task', task('t1', { done: 6, status: 'finished' }));
    await flush();
    expect(embeddings.embedding).toBe(false);
    expect(fake.named('embeddingSets').length).toBe(before + 1);
    expect(backbones.set?.images).toBe(6);
  });

  it('takes up an embedding task still running after a reload', async () => {
    const fake = standardClient({ tasksList: () => [task('i1', { kind: 'import' }), task('t9')] });
    useClient(fake.client);
    const { screen, embeddings } = clustersStores();
    await screen.start();
    await flush();
    expect(embeddings.embedTask?.id).toBe('t9');
    expect(embeddings.embedding).toBe(true);
  });

  it('says when every image is embedded already, and shows a refusal in words', async () => {
    const fake = standardClient({
      embeddingsCompute: () => ({ set: setInfo(1, checkpointSource, 6), task: null, missing: 0 }) });
    useClient(fake.client);
    const { screen, embeddings } = clustersStores();
    await screen.start();
    await embeddings.computeEmbeddings();
    expect(embeddings.allEmbedded).toBe(true);
    expect(embeddings.embedTask).toBeUndefined();

    fake.handlers.embeddingsCompute = () =>
      err('CONFLICT', 'A pretraining run is training: one job uses the engine at a time.');
    const error = await embeddings.computeEmbeddings();
    expect(error?.code).toBe('CONFLICT');
    expect(embeddings.embedError?.message).toMatch(/one job uses the engine/);
  });

  it('a task that ended before the call answered is not shown as running', async () => {
    const fake = standardClient();
    fake.handlers.embeddingsCompute = () => {
      // The task's last event comes over the event stream before the call's answer.
      fake.emit('task', task('quick', { done: 6, status: 'finished' }));
      return { set: setInfo(1, checkpointSource, 0), task: task('quick'), missing: 6 };
    };
    useClient(fake.client);
    const { screen, backbones, embeddings } = clustersStores();
    await screen.start();
    await embeddings.computeEmbeddings();
    await flush();
    expect(embeddings.embedTask?.status).toBe('finished');
    expect(embeddings.embedding).toBe(false);
    expect(backbones.set?.images).toBe(6);
  });

  it('a failed embedding task leaves its reason', async () => {
    const fake = standardClient({
      embeddingsCompute: () => ({ set: setInfo(1, checkpointSource, 0), task: task('t2'), missing: 6 }) });
    useClient(fake.client);
    const { screen, embeddings } = clustersStores();
    await screen.start();
    await embeddings.computeEmbeddings();
    fake.emit('task', task('t2', { status: 'failed', error: 'out of memory' }));
    await flush();
    expect(embeddings.embedError?.message).toBe('Embedding failed: out of memory');
  });
});

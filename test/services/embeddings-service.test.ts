import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EmbeddingSetInfo } from '../../main/common/embeddings';
import type { RunInfo } from '../../main/common/runs';
import { startCore, type Core } from '../../main/core';
import type { ComputeJob } from '../../main/engine/compute/compute-jobs';
import { TrainerHost } from '../../main/jobs/trainer-host';
import { dispatch } from '../../main/services/dispatch';
import { builtEntry } from '../helpers/built';
import { dataset, fakeEngineReport } from '../helpers/library';

/**
 * Embeddings, clusters and maps through a real core and the real (built) trainer process: a
 * copy of ../shared/datasets/tiny with 20 of its images (folder names as labels), a short
 * cpu-small run (wasm), then embeddings of its checkpoint (computed once, only new images later,
 * identical when recomputed), k-means with scores, PCA and UMAP maps, similar images and
 * near-duplicates.
 */

let work: string;
let pictures: string;
let core: Core;
let folderId: number;
let run: RunInfo;
let set: EmbeddingSetInfo;
const jobs: ComputeJob[] = [];
/** The thread setting each job's process was started with. */
const jobThreads: unknown[] = [];
const held: string[] = [];

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-embeddings-'));
  pictures = path.join(work, 'pictures');
  // 20 of tiny's 24 images; 4 are held back to be added later.
  for (const className of fs.readdirSync(dataset('tiny')).filter((name) => fs.statSync(path.join(dataset('tiny'), name)).isDirectory())) {
    fs.mkdirSync(path.join(pictures, className), { recursive: true });
    const files = fs.readdirSync(path.join(dataset('tiny'), className)).sort();
    files.forEach((file, index) => {
      const target = path.join(index < files.length - (className === 'frog' ? 4 : 0) ? pictures : work, className, file);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.copyFileSync(path.join(dataset('tiny'), className, file), target);
      if (!target.startsWith(pictures)) held.push(target);
    });
  }
  core = startCore({
    dataDir: path.join(work, 'data'),
    mode: 'cli',
    probeEngines: async () => fakeEngineReport,
    library: { autoThumbnails: false },
    pretraining: {
      trainerScript: builtEntry('trainer-process'),
      createComputeHost: () => {
        const host = new TrainerHost(builtEntry('trainer-process'));
        const runJob = host.runJob.bind(host);
        host.runJob = (job, engine, threads) => {
          jobs.push(job);
          jobThreads.push(threads);
          runJob(job, engine, threads);
        };
        return host;
      },
    },
  });
  const { task } = await core.handlers.libraryAddFolder({ path: pictures });
  expect((await core.tasks.settled(task.id)).status).toBe('finished');
  folderId = (await core.handlers.libraryFolders({}))[0]!.id;
  await core.handlers.libraryUseFolderLabels({ folderId });
  run = await core.handlers.pretrainStart({ preset: 'cpu-small', overrides: { epochs: 1, batch: 8, width: 0.125, engine: 'wasm' } });
  await pretrainingSettled();
}, 120_000);

async function pretrainingSettled(): Promise<void> {
  for (;;) {
    const current = await core.handlers.runGet({ runId: run.id, maxPoints: 10 });
    if (!['running', 'paused'].includes(current.status)) {
      expect(current.status, current.error ?? '').toBe('finished');
      run = current;
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

afterAll(() => {
  core?.close();
  fs.rmSync(work, { recursive: true, force: true });
});

function vectorsOf(setId: number): Map<number, Buffer> {
  const rows = core.db.prepare('SELECT image_id, vector FROM embeddings WHERE set_id = ?').all(setId) as { image_id: number; vector: Buffer }[];
  return new Map(rows.map((row) => [row.image_id, Buffer.from(row.vector)]));
}

describe('embeddings', () => {
  it("embeds every image with a checkpoint's backbone as a task, once", async () => {
    const step = (await core.handlers.runGet({ runId: run.id, maxPoints: 10 })).checkpoints.at(-1)!.step;
    const first = await core.handlers.embeddingsCompute({ source: { kind: 'checkpoint', runId: run.id, step } });
    expect(first.missing).toBe(20);
    expect(first.task).toMatchObject({ kind: 'embed', total: 20, unit: 'images' });
    const ended = await core.tasks.settled(first.task!.id);
    expect(ended.status, ended.error).toBe('finished');
    expect(ended.done).toBe(20);
    set = (await core.handlers.embeddingSets({})).find((candidate) => candidate.id === first.set.id)!;
    expect(set).toMatchObject({ images: 20, libraryImages: 20, dim: 64, size: 32, label: `${run.name} at step ${step}` });
    // Every vector is L2-normalised.
    for (const vector of vectorsOf(set.id).values()) {
      const values = new Float32Array(vector.buffer, vector.byteOffset, vector.byteLength / 4);
      expect(values.length).toBe(64);
      expect(Math.hypot(...values)).toBeCloseTo(1, 4);
    }
    const again = await core.handlers.embeddingsCompute({ source: { kind: 'checkpoint', runId: run.id, step } });
    expect(again).toMatchObject({ missing: 0, task: null });
  }, 120_000);

  it('computes the same vector for the same image again, and only new images when some are added', async () => {
    const before = vectorsOf(set.id);
    const [victim] = [...before.keys()];
    core.db.prepare('DELETE FROM embeddings WHERE set_id = ? AND image_id = ?').run(set.id, victim);
    jobs.length = 0;
    // The threads setting reaches every job's process.
    await core.handlers.settingsSet({ patch: { threads: 1 } });
    jobThreads.length = 0;
    const recompute = await core.handlers.embeddingsCompute({ source: set.source });
    expect(recompute.missing).toBe(1);
    await core.tasks.settled(recompute.task!.id);
    expect(jobThreads).toEqual([1]);
    await core.handlers.settingsSet({ patch: { threads: 'auto' } });
    expect(vectorsOf(set.id).get(victim!)!.equals(before.get(victim!)!)).toBe(true);
    expect(jobs.map((job) => (job.kind === 'embed' ? job.files.length : -1))).toEqual([1]);

    // Add the 4 held-back images and one exact copy of an image under another name.
    for (const file of held) fs.copyFileSync(file, path.join(pictures, path.basename(path.dirname(file)), path.basename(file)));
    const airplane = fs.readdirSync(path.join(pictures, 'airplane')).sort()[0]!;
    fs.copyFileSync(path.join(pictures, 'airplane', airplane), path.join(pictures, 'airplane', `copy-of-${airplane}`));
    const rescan = await core.handlers.libraryRescan({ folderId });
    expect((await core.tasks.settled(rescan.id)).status).toBe('finished');
    jobs.length = 0;
    const added = await core.handlers.embeddingsCompute({ source: set.source });
    expect(added.missing).toBe(5);
    await core.tasks.settled(added.task!.id);
    expect(jobs.map((job) => (job.kind === 'embed' ? job.files.length : -1))).toEqual([5]);
    const after = vectorsOf(set.id);
    expect(after.size).toBe(25);
    for (const [imageId, vector] of before) expect(after.get(imageId)!.equals(vector), `image ${imageId}`).toBe(true);
  }, 120_000);

  it('refuses to embed with a checkpoint that does not exist, naming what to do', async () => {
    const missing = await dispatch(core.handlers, 'embeddingsCompute', { source: { kind: 'checkpoint', runId: run.id, step: 99_999 } });
    expect(missing).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    expect(!missing.ok && missing.error.message).toMatch(/no checkpoint at step 99999/);
  });
});

describe('clusters, maps and neighbours', () => {
  it('clusters with k-means (k = 3), deterministically, scored against the class folders', async () => {
    const clustering = await core.handlers.clusterCompute({ setId: set.id, k: 3, metric: 'cosine', seed: 1 });
    expect(clustering.clusters).toHaveLength(3);
    expect(clustering.clusters.reduce((sum, cluster) => sum + cluster.size, 0)).toBe(25);
    // All 25 images have a class folder, under the 30 the scores need: counted, not shown.
    expect(clustering.scores).toEqual({ labelled: 25, fromFolders: 25, classes: 3, minimum: 30, nmi: null, ari: null, purity: null });
    for (const cluster of clustering.clusters) {
      if (cluster.size === 0) continue;
      expect(cluster.representatives.length).toBe(Math.min(8, cluster.size));
      const distances = cluster.representatives.map((item) => item.distance);
      expect(distances).toEqual([...distances].sort((a, b) => a - b));
      // Named after its majority class folder only with at least 5 images with a class.
      expect(cluster.labelled).toBe(cluster.size);
      if (cluster.labelled >= 5) {
        expect(cluster.majority).toMatch(/^(airplane|frog|truck)$/);
        expect(cluster.purity).toBeGreaterThan(0);
      } else {
        expect(cluster.majority).toBeNull();
        expect(cluster.purity).toBeNull();
      }
    }
    const again = await core.handlers.clusterCompute({ setId: set.id, k: 3, metric: 'cosine', seed: 1 });
    const membersOf = async (id: number) =>
      Promise.all([0, 1, 2].map(async (cluster) => (await core.handlers.clusterImages({ clusteringId: id, cluster, offset: 0, limit: 100 })).items.map((item) => item.imageId).sort()));
    expect(await membersOf(again.id)).toEqual(await membersOf(clustering.id));
    expect((await core.handlers.clusteringLatest({ setId: set.id }))!.id).toBe(again.id);
    const page = await core.handlers.clusterImages({ clusteringId: clustering.id, cluster: 0, offset: 0, limit: 200 });
    expect(page.total).toBe(clustering.clusters[0]!.size);
    expect(await dispatch(core.handlers, 'clusterCompute', { setId: set.id, k: 500 })).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
  }, 120_000);

  it('maps the images in 2-D with PCA at once and with UMAP as a task', async () => {
    const pca = await core.handlers.projectionGet({ setId: set.id, method: 'pca' });
    expect(pca).toMatchObject({ method: 'pca', ready: true });
    expect(pca.imageIds).toHaveLength(25);
    const xy = new Float32Array(Uint8Array.from(Buffer.from(pca.xy, 'base64')).buffer);
    expect(xy.length).toBe(50);
    expect(xy.every(Number.isFinite)).toBe(true);
    expect(new Set(pca.classIds).size).toBe(3);
    const umap = await core.handlers.projectionGet({ setId: set.id, method: 'umap' });
    expect(umap.ready).toBe(false);
    expect((await core.tasks.settled(umap.task!.id)).status).toBe('finished');
    const ready = await core.handlers.projectionGet({ setId: set.id, method: 'umap' });
    expect(ready.ready).toBe(true);
    expect(ready.imageIds).toHaveLength(25);
  }, 180_000);

  it('finds the most similar images and the exact copy as a near-duplicate', async () => {
    const items = (await core.handlers.libraryPage({ show: 'images', offset: 0, limit: 100 })).items;
    const copy = items.find((item) => item.relPath.includes('copy-of-'))!;
    const original = items.find((item) => item.relPath === copy.relPath.replace('copy-of-', ''))!;
    const similar = await core.handlers.similarImages({ setId: set.id, imageId: original.id, k: 5 });
    expect(similar).toHaveLength(5);
    expect(similar.map((item) => item.imageId)).not.toContain(original.id);
    expect(similar[0]!.imageId).toBe(copy.id);
    expect(similar[0]!.distance).toBeCloseTo(0, 5);
    const distances = similar.map((item) => item.distance);
    expect(distances).toEqual([...distances].sort((a, b) => a - b));
    const pairs = await core.handlers.nearDuplicates({ setId: set.id, threshold: 0.001, limit: 50 });
    expect(pairs.map((pair) => [pair.a.imageId, pair.b.imageId].sort())).toContainEqual([original.id, copy.id].sort());
    const tiles = await core.handlers.libraryItems({ ids: [copy.id, original.id] });
    expect(tiles.map((tile) => tile.id)).toEqual([copy.id, original.id]);
  }, 120_000);
});

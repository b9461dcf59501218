import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClassifierInfo, PredictionsPage } from '../../main/common/finetune';
import type { TaskInfo } from '../../main/common/tasks';
import { startCore, type Core } from '../../main/core';
import { builtEntry } from '../helpers/built';
import { dataset, fakeEngineReport } from '../helpers/library';

/**
 * One-click fine-tuning through a real core and the real (built) trainer process: a copy of
 * ../shared/datasets/tiny (24 images in 3 class folders, not used as labels), a 1-epoch cpu-small
 * run whose last checkpoint is the backbone, 4 hand labels per class, then a linear probe and a
 * fine-tune as one task, their predictions for every image, the review queue and the cells of
 * the confusion matrix. The run (and so every classify job) is on the wasm engine: nothing here
 * depends on the engine, and wasm fine-tunes several times faster than cpu (12 labels are k folds:
 * 5 fine-tunings per classifier).
 */

let work: string;
let core: Core;
const classIds = new Map<string, number>();
/** Image ids by class folder name, in path order. */
const byFolder = new Map<string, number[]>();
const labelled = new Set<number>();

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-finetune-'));
  const pictures = path.join(work, 'pictures');
  fs.cpSync(dataset('tiny'), pictures, { recursive: true });
  core = startCore({
    dataDir: path.join(work, 'data'),
    mode: 'cli',
    probeEngines: async () => fakeEngineReport,
    library: { autoThumbnails: false },
    pretraining: { trainerScript: builtEntry('trainer-process') },
  });
  const { task } = await core.handlers.libraryAddFolder({ path: pictures });
  expect((await core.tasks.settled(task.id)).status).toBe('finished');
  const rows = core.db.prepare('SELECT id, folder_class FROM images ORDER BY rel_path').all() as { id: number; folder_class: string }[];
  for (const row of rows) byFolder.set(row.folder_class, [...(byFolder.get(row.folder_class) ?? []), row.id]);
  let run = await core.handlers.pretrainStart({ preset: 'cpu-small', overrides: { epochs: 1, batch: 8, width: 0.125, engine: 'wasm' } });
  for (;;) {
    const current = await core.handlers.runGet({ runId: run.id, maxPoints: 10 });
    if (!['running', 'paused'].includes(current.status)) {
      expect(current.status, current.error ?? '').toBe('finished');
      run = current;
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const step = (await core.handlers.runGet({ runId: run.id, maxPoints: 10 })).checkpoints.at(-1)!.step;
  await core.handlers.runUseCheckpoint({ runId: run.id, step });
  for (const name of [...byFolder.keys()].sort()) classIds.set(name, (await core.handlers.classCreate({ name })).id);
}, 120_000);

afterAll(() => {
  core?.close();
  fs.rmSync(work, { recursive: true, force: true });
});

async function label(folder: string): Promise<void> {
  const ids = byFolder.get(folder)!.slice(0, 4);
  await core.handlers.labelSet({ imageIds: ids, classId: classIds.get(folder)! });
  for (const id of ids) labelled.add(id);
}

/** finetuneStart with the contract's defaults (handlers take parsed arguments). */
async function start(extra: { epochs?: number; compareRandom?: boolean } = {}): Promise<{ task: TaskInfo }> {
  return core.handlers.finetuneStart({ mode: 'both', seed: 0, compareRandom: false, ...extra });
}

/** The review queue (unlabelled, taking turns) with the contract's defaults. */
async function review(extra: { offset?: number; limit?: number; classId?: number; classifierId?: number } = {}): Promise<PredictionsPage> {
  return core.handlers.predictionsPage({ unlabelledOnly: false, order: 'review', offset: 0, limit: 100, ...extra });
}

/**
 * What the review order should be: per group least confident first (ties by image id), then
 * turn t takes the t-th of each group, least confident first within the turn.
 */
function expectedReview(items: { imageId: number; confidence: number }[], groupOf: (imageId: number) => number): number[] {
  const groups = new Map<number, { imageId: number; confidence: number }[]>();
  for (const item of [...items].sort((a, b) => a.confidence - b.confidence || a.imageId - b.imageId)) {
    groups.set(groupOf(item.imageId), [...(groups.get(groupOf(item.imageId)) ?? []), item]);
  }
  const out: number[] = [];
  for (let turn = 0; out.length < items.length; turn += 1) {
    const batch = [...groups.values()].filter((list) => turn < list.length).map((list) => list[turn]!);
    batch.sort((a, b) => a.confidence - b.confidence || a.imageId - b.imageId);
    out.push(...batch.map((item) => item.imageId));
  }
  return out;
}

describe('one-click fine-tuning', () => {
  it('refuses with fewer than 2 labelled classes, naming the problem', async () => {
    expect(byFolder.size).toBe(3);
    await expect(start()).rejects.toThrow(/at least 2 classes.*no image has a label/);
    const [first] = [...byFolder.keys()].sort();
    await label(first!);
    await expect(start()).rejects.toThrow(new RegExp(`at least 2 classes.*only class "${first}"`));
  });

  let classifiers: ClassifierInfo[];

  it('trains a linear probe then a fine-tune as one task and predicts every image', async () => {
    for (const folder of [...byFolder.keys()].sort().slice(1)) await label(folder);
    const { task } = await start({ epochs: 2 });
    expect(task).toMatchObject({ kind: 'finetune', status: 'running' });
    const ended = await core.tasks.settled(task.id);
    expect(ended.status, ended.error).toBe('finished');
    classifiers = await core.handlers.classifiersList({});
    expect(classifiers.map((c) => c.mode).sort()).toEqual(['fine-tune', 'linear-probe']);
    for (const classifier of classifiers) {
      expect(classifier.classes.map((c) => c.name)).toEqual([...byFolder.keys()].sort());
      // 12 labels (4 per class) are too few for a held-out set: a k-fold estimate, every label
      // validated once out of fold, the kept classifier trained on all 12.
      expect(classifier.labelCount).toBe(12);
      expect(classifier.folds).toBeGreaterThanOrEqual(2);
      expect(classifier.trainCount).toBe(12);
      expect(classifier.validationCount).toBe(12);
      const predictions = core.db.prepare('SELECT confidence, split FROM predictions WHERE classifier_id = ?').all(classifier.id) as { confidence: number; split: string }[];
      expect(predictions).toHaveLength(24);
      for (const p of predictions) {
        expect(p.confidence).toBeGreaterThan(0);
        expect(p.confidence).toBeLessThanOrEqual(1);
      }
      expect(predictions.filter((p) => p.split === 'validation')).toHaveLength(classifier.validationCount);
      const details = await core.handlers.classifierGet({ classifierId: classifier.id });
      expect(details.history.length).toBeGreaterThan(0);
      expect(details.confusion).toHaveLength(3);
      expect(details.perClass).toHaveLength(3);
    }
    const chosen = classifiers.filter((c) => c.chosen);
    expect(chosen).toHaveLength(1);
    const best = Math.max(...classifiers.map((c) => c.valAccuracy ?? -1));
    expect(chosen[0]!.valAccuracy ?? -1).toBe(best);
  }, 90_000);

  it('orders the review queue by confidence and leaves labelled images out', async () => {
    const queue = await core.handlers.predictionsPage({ unlabelledOnly: true, order: 'confidence-asc', offset: 0, limit: 100 });
    expect(queue.total).toBe(12);
    expect(queue.items).toHaveLength(12);
    for (const item of queue.items) {
      expect(labelled.has(item.imageId)).toBe(false);
      expect(item.label).toBeNull();
      expect(item.version).toMatch(/^[0-9a-f]{16}$/);
      expect(classIds.get(item.className)).toBe(item.classId);
    }
    const confidences = queue.items.map((item) => item.confidence);
    expect(confidences).toEqual([...confidences].sort((a, b) => a - b));
    const all = await core.handlers.predictionsPage({ unlabelledOnly: false, order: 'confidence-desc', offset: 0, limit: 100 });
    expect(all.total).toBe(24);
    expect(all.items.filter((item) => item.label !== null)).toHaveLength(12);
    const confident = await core.handlers.predictionsPage({ unlabelledOnly: false, minConfidence: 0.5, order: 'confidence-desc', offset: 0, limit: 100 });
    for (const item of confident.items) expect(item.confidence).toBeGreaterThanOrEqual(0.5);
  });

  it('lists the validation images of each confusion cell', async () => {
    for (const classifier of classifiers) {
      const details = await core.handlers.classifierGet({ classifierId: classifier.id });
      let cells = 0;
      for (const [row, truth] of details.classes.entries()) {
        for (const [column, guess] of details.classes.entries()) {
          const ids = await core.handlers.confusionImages({ classifierId: classifier.id, trueClassId: truth.id, predictedClassId: guess.id });
          expect(ids, `${truth.name} -> ${guess.name}`).toHaveLength(details.confusion[row]![column]!);
          for (const id of ids) {
            expect(byFolder.get(truth.name)).toContain(id);
            // The class predicted out of fold (by a model that did not train on the image).
            const p = core.db
              .prepare('SELECT COALESCE(validation_class_id, class_id) AS class_id, split FROM predictions WHERE classifier_id = ? AND image_id = ?')
              .get(classifier.id, id);
            expect(p).toEqual({ class_id: guess.id, split: 'validation' });
          }
          cells += ids.length;
        }
      }
      expect(cells).toBe(classifier.validationCount);
    }
  });

  it('lets the user choose the other classifier', async () => {
    const other = classifiers.find((c) => !c.chosen)!;
    expect(await core.handlers.classifierChoose({ classifierId: other.id })).toMatchObject({ id: other.id, chosen: true });
    expect((await core.handlers.classifiersList({})).filter((c) => c.chosen).map((c) => c.id)).toEqual([other.id]);
    const page = await core.handlers.predictionsPage({ unlabelledOnly: false, order: 'confidence-asc', offset: 0, limit: 1 });
    const first = core.db.prepare('SELECT image_id FROM predictions WHERE classifier_id = ? ORDER BY confidence, image_id LIMIT 1').pluck().get(other.id);
    expect(page.items[0]!.imageId).toBe(first);
  });

  it('numbers rounds and lists them; round 1 had no random comparison', async () => {
    for (const classifier of await core.handlers.classifiersList({})) {
      expect(classifier.round).toBe(1);
      expect(classifier.labelCount).toBe(12);
    }
    const rounds = await core.handlers.finetuneRounds({});
    expect(rounds).toHaveLength(1);
    const lp = classifiers.find((c) => c.mode === 'linear-probe')!;
    const ft = classifiers.find((c) => c.mode === 'fine-tune')!;
    expect(rounds[0]).toMatchObject({ round: 1, labelCount: 12, classCount: 3, linearProbe: lp.valAccuracy, fineTune: ft.valAccuracy, randomLinearProbe: null, randomFineTune: null });
  });

  it('with compareRandom, also trains on the random-init backbone, stores those, and never chooses them', async () => {
    const before = new Set((await core.handlers.classifiersList({})).map((c) => c.id));
    const { task } = await start({ epochs: 2, compareRandom: true });
    expect(task.title).toMatch(/compared with random init/);
    const ended = await core.tasks.settled(task.id);
    expect(ended.status, ended.error).toBe('finished');
    const all = await core.handlers.classifiersList({});
    const added = all.filter((c) => !before.has(c.id));
    expect(added).toHaveLength(4);
    for (const classifier of added) expect(classifier.round).toBe(2);
    const random = added.filter((c) => c.source.kind === 'random');
    const own = added.filter((c) => c.source.kind === 'checkpoint');
    expect(random.map((c) => c.mode).sort()).toEqual(['fine-tune', 'linear-probe']);
    expect(own.map((c) => c.mode).sort()).toEqual(['fine-tune', 'linear-probe']);
    for (const classifier of random) {
      expect(classifier.source).toEqual({ kind: 'random', runId: own[0]!.source.runId });
      expect(classifier.sourceLabel).toMatch(/^Random init/);
      expect(core.db.prepare('SELECT count(*) FROM predictions WHERE classifier_id = ?').pluck().get(classifier.id)).toBe(24);
    }
    // Chosen: the better of the backbone's own classifiers of the new round, even if a random one scored higher.
    const chosen = all.filter((c) => c.chosen);
    expect(chosen).toHaveLength(1);
    expect(own.map((c) => c.id)).toContain(chosen[0]!.id);
    expect(chosen[0]!.valAccuracy ?? -1).toBe(Math.max(...own.map((c) => c.valAccuracy ?? -1)));
    const rounds = await core.handlers.finetuneRounds({});
    expect(rounds.map((r) => r.round)).toEqual([1, 2]);
    const byMode = (list: ClassifierInfo[], mode: string): number | null => list.find((c) => c.mode === mode)!.valAccuracy;
    expect(rounds[1]).toMatchObject({
      round: 2,
      labelCount: 12,
      classCount: 3,
      linearProbe: byMode(own, 'linear-probe'),
      fineTune: byMode(own, 'fine-tune'),
      randomLinearProbe: byMode(random, 'linear-probe'),
      randomFineTune: byMode(random, 'fine-tune'),
    });
    // Each classify job was told where to save its model and the class names.
    for (const classifier of added) {
      const modelDir = core.db.prepare('SELECT model_dir FROM classifiers WHERE id = ?').pluck().get(classifier.id) as string | null;
      if (modelDir !== null) expect(modelDir.startsWith(path.join(work, 'data', 'classifiers'))).toBe(true);
    }
  }, 120_000);

  it('orders the review queue taking turns across predicted classes when the backbone has no clustering; pages line up', async () => {
    const chosen = (await core.handlers.classifiersList({})).find((c) => c.chosen)!;
    const queue = await review();
    expect(queue.total).toBe(12);
    for (const item of queue.items) expect(labelled.has(item.imageId)).toBe(false);
    const classOf = new Map(queue.items.map((item) => [item.imageId, item.classId]));
    expect(queue.items.map((item) => item.imageId)).toEqual(expectedReview(queue.items, (imageId) => classOf.get(imageId)!));
    const all = (await core.handlers.predictionsPage({ unlabelledOnly: true, order: 'confidence-asc', offset: 0, limit: 100 })).items;
    expect(queue.items[0]!.imageId).toBe(all[0]!.imageId);
    const classes = new Set(all.map((item) => item.classId)).size;
    expect(new Set(queue.items.slice(0, classes).map((item) => item.classId)).size).toBe(classes);
    const paged: number[] = [];
    for (let offset = 0; offset < 12; offset += 5) {
      const page = await review({ offset, limit: 5 });
      expect(page.total).toBe(12);
      paged.push(...page.items.map((item) => item.imageId));
    }
    expect(paged).toEqual(queue.items.map((item) => item.imageId));
    // Other filters still apply.
    const one = queue.items[0]!.classId;
    const filtered = await review({ classId: one });
    expect(filtered.total).toBe(queue.items.filter((item) => item.classId === one).length);
    for (const item of filtered.items) expect(item.classId).toBe(one);
    expect(chosen.id).toBeGreaterThan(0);
  });

  it('takes turns across the clusters of the newest clustering of the backbone', async () => {
    const chosen = (await core.handlers.classifiersList({})).find((c) => c.chosen)!;
    const source = chosen.source as { kind: 'checkpoint'; runId: number; step: number };
    const setId = Number(
      core.db.prepare("INSERT INTO embedding_sets (kind, run_id, step, checkpoint_file, dim, size) VALUES ('checkpoint', ?, ?, NULL, 2, 64)").run(source.runId, source.step).lastInsertRowid,
    );
    const images = core.db.prepare('SELECT id FROM images ORDER BY id').pluck().all() as number[];
    const addClustering = (clusterOf: (index: number) => number): void => {
      const id = Number(core.db.prepare("INSERT INTO clusterings (set_id, k, metric, seed, folder_key, images, inertia, iterations) VALUES (?, 4, 'cosine', 0, '', ?, 1, 1)").run(setId, images.length).lastInsertRowid);
      images.forEach((imageId, index) => core.db.prepare('INSERT INTO cluster_members (clustering_id, image_id, cluster, distance) VALUES (?, ?, ?, 0.5)').run(id, imageId, clusterOf(index)));
    };
    addClustering(() => 0);
    // The newest clustering counts: 4 clusters by image order.
    addClustering((index) => index % 4);
    const clusterOf = new Map(images.map((imageId, index) => [imageId, index % 4]));
    const queue = await review();
    expect(queue.total).toBe(12);
    expect(queue.items.map((item) => item.imageId)).toEqual(expectedReview(queue.items, (imageId) => clusterOf.get(imageId)!));
    const clustersOfUnlabelled = new Set(queue.items.map((item) => clusterOf.get(item.imageId))).size;
    expect(new Set(queue.items.slice(0, clustersOfUnlabelled).map((item) => clusterOf.get(item.imageId))).size).toBe(clustersOfUnlabelled);
    const second = await review({ offset: 3, limit: 4 });
    expect(second.items.map((item) => item.imageId)).toEqual(queue.items.slice(3, 7).map((item) => item.imageId));
  });
});

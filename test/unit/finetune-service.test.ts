import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClassifierInfo } from '../../main/common/finetune';
import type { TaskInfo } from '../../main/common/tasks';
import { startCore, type Core } from '../../main/core';
import { builtEntry } from '../engine/built';
import { dataset, fakeEngineReport } from '../helpers/library';

/**
 * One-click fine-tuning through a real core and the real (built) trainer process: a copy of
 * ../shared/datasets/tiny (24 images in 3 class folders, not used as labels), a 1-epoch cpu-small
 * run whose last checkpoint is the backbone, 4 hand labels per class, then a linear probe and a
 * fine-tune as one task, their predictions for every image, the review queue and the cells of
 * the confusion matrix.
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
  let run = await core.handlers.pretrainStart({ preset: 'cpu-small', overrides: { epochs: 1, batch: 8, width: 0.125, engine: 'cpu' } });
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
async function start(extra: { epochs?: number } = {}): Promise<{ task: TaskInfo }> {
  return core.handlers.finetuneStart({ mode: 'both', seed: 0, ...extra });
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
      expect(classifier.trainCount + classifier.validationCount).toBe(12);
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
            const p = core.db.prepare('SELECT class_id, split FROM predictions WHERE classifier_id = ? AND image_id = ?').get(classifier.id, id);
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
});

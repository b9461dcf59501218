import { describe, expect, it } from 'vitest';
import { resolvePretrainConfig } from '../../../main/common/pretrain-config';
import { listImageFiles } from '../../../main/data/files';
import type { ClassifyJob, ClassifyResult } from '../../../main/engine/compute/compute-jobs';
import { TrainerHost } from '../../../main/jobs/trainer-host';
import { builtEntry, sharedDataset } from '../../helpers/built';

/**
 * The classify job (issue 7's one-click fine-tune, engine side) run in the built trainer
 * process as the app runs it: ../shared/datasets/tiny with 7 labels per class (21 labels: one
 * stratified train/validation split) or 4 (12 labels: too few for a held-out set, so a k-fold
 * estimate) and the other images to predict; a linear probe and a full fine-tune each predict
 * every image and report a confusion matrix of exactly the validation images. With one split
 * train and validation are disjoint and stratified; with k folds every label is validated once
 * out of fold and the kept classifier trains on every label.
 */

async function runJob(job: ClassifyJob): Promise<{ result: ClassifyResult; progress: number }> {
  const host = new TrainerHost(builtEntry('trainer-process'));
  let progress = 0;
  const answer = new Promise<ClassifyResult>((resolve, reject) => {
    host.on('message', (message) => {
      if (message.type === 'job-progress') progress += 1;
      if (message.type === 'job-result') resolve(message.result as ClassifyResult);
      if (message.type === 'failed') reject(new Error(message.error.message));
    });
    void host.done.then((exit) => reject(new Error(`the trainer ended: ${JSON.stringify(exit)}`)));
  });
  host.runJob(job, 'auto');
  return { result: await answer, progress };
}

describe('classify job', async () => {
  const listed = (await listImageFiles(sharedDataset('tiny'))).sort((a, b) => a.file.localeCompare(b.file));
  const classNames = [...new Set(listed.map((item) => item.className))].sort();
  /** The first `perClass` images of each class are labelled; the rest are only predicted. */
  const labelsFor = (perClass: number): number[] => {
    const seen = new Map<string, number>();
    return listed.map((item) => {
      const count = (seen.get(item.className) ?? 0) + 1;
      seen.set(item.className, count);
      return count <= perClass ? classNames.indexOf(item.className) : -1;
    });
  };
  const config = resolvePretrainConfig('cpu-small', { width: 0.125 });
  const base = { kind: 'classify', config, files: listed.map((item) => item.file), classes: 3, size: 64, seed: 0 } as const;

  it.each([
    ['linear-probe', 7],
    ['fine-tune', 7],
    ['linear-probe', 4],
    ['fine-tune', 4],
  ] as const)('%s with %i labels per class: trains on the labelled images and predicts every image', async (mode, perClass) => {
    const labels = labelsFor(perClass);
    const { result, progress } = await runJob({ ...base, labels, mode, epochs: mode === 'fine-tune' ? 3 : 40 });
    expect(progress).toBeGreaterThan(1);
    expect(result.mode).toBe(mode);
    expect(result.skipped).toEqual([]);
    expect(result.predicted).toHaveLength(24);
    for (let i = 0; i < 24; i += 1) {
      expect(result.predicted[i]).toBeGreaterThanOrEqual(0);
      expect(result.predicted[i]).toBeLessThan(3);
      expect(result.confidence[i]).toBeGreaterThan(1 / 3 - 1e-6);
      expect(result.confidence[i]).toBeLessThanOrEqual(1);
    }
    const labelledFiles = labels.flatMap((label, i) => (label >= 0 ? [i] : []));
    const sorted = (list: number[]): number[] => [...list].sort((a, b) => a - b);
    if (perClass === 7) {
      // 21 labels: one split; train and validation are disjoint, every class in both.
      expect(result.folds).toBeUndefined();
      expect(sorted([...result.train, ...result.validation])).toEqual(labelledFiles);
      expect(new Set(result.validation.map((i) => labels[i]))).toEqual(new Set([0, 1, 2]));
      expect(result.validationPredicted).toEqual(result.validation.map((i) => result.predicted[i]));
    } else {
      // 12 labels: k folds; each label validated exactly once, the kept classifier trained on all.
      expect(result.folds).toBeGreaterThanOrEqual(2);
      expect(sorted(result.train)).toEqual(labelledFiles);
      expect(sorted(result.validation)).toEqual(labelledFiles);
      expect(new Set(result.validation).size).toBe(result.validation.length);
      expect(result.bestEpoch).toBeGreaterThanOrEqual(1);
    }
    expect(new Set(result.train.map((i) => labels[i]))).toEqual(new Set([0, 1, 2]));
    expect(result.validationPredicted).toHaveLength(result.validation.length);
    // The confusion matrix counts exactly the validation images, each in its true class's row and
    // the column of the class predicted for it by a model that did not train on it.
    expect(result.confusion.flat().reduce((sum, n) => sum + n, 0)).toBe(result.validation.length);
    for (let c = 0; c < 3; c += 1) {
      for (let p = 0; p < 3; p += 1) {
        const cell = result.validation.filter((i, k) => labels[i] === c && result.validationPredicted[k] === p).length;
        expect(result.confusion[c]![p]).toBe(cell);
      }
    }
    const right = result.validation.filter((i, k) => result.validationPredicted[k] === labels[i]).length;
    expect(result.valAccuracy).toBeCloseTo(right / result.validation.length, 6);
    expect(result.head).toMatchObject({ classes: 3 });
  }, 180_000);
});

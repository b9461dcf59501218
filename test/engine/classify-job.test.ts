import { describe, expect, it } from 'vitest';
import { resolvePretrainConfig } from '../../main/common/pretrain-config';
import { listImageFiles } from '../../main/data/files';
import type { ClassifyJob, ClassifyResult } from '../../main/engine/compute-jobs';
import { TrainerHost } from '../../main/jobs/trainer-host';
import { builtEntry, sharedDataset } from './built';

/**
 * The classify job (issue 7's one-click fine-tune, engine side) run in the built trainer
 * process as the app runs it: ../shared/datasets/tiny with 4 labels per class and the other
 * 12 images to predict; a linear probe and a full fine-tune each predict every image, keep
 * their split disjoint and stratified, and report a confusion matrix of the validation images.
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
  const seen = new Map<string, number>();
  // The first 4 images of each class are labelled; the rest are only predicted.
  const labels = listed.map((item) => {
    const count = (seen.get(item.className) ?? 0) + 1;
    seen.set(item.className, count);
    return count <= 4 ? classNames.indexOf(item.className) : -1;
  });
  const config = resolvePretrainConfig('cpu-small', { width: 0.125 });
  const base = { kind: 'classify', config, files: listed.map((item) => item.file), labels, classes: 3, size: 64, seed: 0 } as const;

  it.each(['linear-probe', 'fine-tune'] as const)('%s: trains on the labelled images and predicts every image', async (mode) => {
    const { result, progress } = await runJob({ ...base, mode, epochs: mode === 'fine-tune' ? 3 : 40 });
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
    // Train and validation are disjoint labelled images, with every class in training.
    const labelledFiles = labels.flatMap((label, i) => (label >= 0 ? [i] : []));
    expect([...result.train, ...result.validation].sort((a, b) => a - b)).toEqual(labelledFiles);
    expect(new Set(result.train.map((i) => labels[i]))).toEqual(new Set([0, 1, 2]));
    // The confusion matrix counts exactly the validation images, each in its true class's row.
    expect(result.confusion.flat().reduce((sum, n) => sum + n, 0)).toBe(result.validation.length);
    for (let c = 0; c < 3; c += 1) expect(result.confusion[c]!.reduce((sum, n) => sum + n, 0)).toBe(result.validation.filter((i) => labels[i] === c).length);
    const right = result.validation.filter((i) => result.predicted[i] === labels[i]).length;
    if (result.validation.length > 0) expect(result.valAccuracy).toBeCloseTo(right / result.validation.length, 6);
    expect(result.head).toMatchObject({ classes: 3 });
  }, 120_000);
});

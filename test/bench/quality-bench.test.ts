import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error -- a plain .mjs helper of the benchmarks, without type declarations
import { fitEpochs, formatMeanSd, meanSd, parseArgs, parsePretrainOutput, reusableEvaluation } from './quality-lib.mjs';

/** The arithmetic behind `npm run bench:quality` and `bench:eval-size` (quality-lib.mjs). */
describe('quality benchmark helpers', () => {
  it('gives mean and sample sd, and formats them with a sign for gains', () => {
    expect(meanSd([1, 2, 3])).toEqual({ mean: 2, sd: 1 });
    expect(meanSd([0.5])).toEqual({ mean: 0.5, sd: 0 });
    expect(formatMeanSd([0.1, 0.12, 0.14], { scale: 100, digits: 1, signed: true })).toBe('+12.0 ± 2.0');
    expect(formatMeanSd([-0.02, -0.04], { scale: 100, digits: 1, signed: true })).toBe('-3.0 ± 1.4');
    expect(formatMeanSd([0.2, 0.3], { digits: 3 })).toBe('0.250 ± 0.071');
  });

  it('fits the whole epochs that a CPU-time budget holds at the measured speed, at least one', () => {
    // 10 CPU minutes, 30 s before training, 100 images per CPU second, 2976 images an epoch: 570 * 100 / 2976 = 19.2.
    expect(fitEpochs({ minutes: 10, prepCpuSeconds: 30, imagesPerCpuSecond: 100, imagesPerEpoch: 2976 })).toBe(19);
    expect(fitEpochs({ minutes: 1, prepCpuSeconds: 50, imagesPerCpuSecond: 10, imagesPerEpoch: 2976 })).toBe(1);
  });

  it('fits a wall-clock budget with a 5% margin, from images per second of training', () => {
    // 10 minutes * 60 * 0.95 * 250 images/s / 2976 = 47.9 -> 47; the CPU-time fields play no part.
    expect(fitEpochs({ minutes: 10, budget: 'wall', prepCpuSeconds: 300, imagesPerCpuSecond: 1, imagesPerSecond: 250, imagesPerEpoch: 2976 })).toBe(47);
  });

  it("reads where a pretraining run stopped and what it trained from the CLI's last lines", () => {
    const stdout =
      'Stopped at epoch 7, step 686 on 3000 images; last loss 5.1234.\n21952 images seen in 561.3 s of training (39.1 images/s); the training thread used 540.2 s of CPU (41.0 images per CPU second after the first step).\nCheckpoint: /x/step-00000686.safetensors\n';
    expect(parsePretrainOutput(stdout)).toEqual({ status: 'stopped', epoch: 7, step: 686, images: 3000, imagesSeen: 21952, trainingSeconds: 561.3, cpuSeconds: 540.2, imagesPerCpuSecond: 41, imagesPerSecond: null, coresBusy: null });
    // With the trainer's timed steps: the wall rate and the cores it kept busy.
    const timed = `${stdout}686 steps in 560.0 s of training, 39.2 images/s (3.1 s of it waiting for a batch after the first; 1.93 cores busy on average).\n`;
    expect(parsePretrainOutput(timed)).toMatchObject({ imagesPerSecond: 39.2, coresBusy: 1.93 });
    expect(() => parsePretrainOutput('nothing')).toThrow(/unexpected pretraining output/);
  });

  it('parses options against their defaults and refuses unknown ones', () => {
    expect(parseArgs(['--minutes', '2', '--per-class', '5', '--runs', 'bench-runs'], { minutes: 10, perClass: 10, runs: '' })).toEqual({ minutes: 2, perClass: 5, runs: 'bench-runs' });
    expect(() => parseArgs(['--minute', '2'], { minutes: 10 })).toThrow(/unknown option --minute/);
  });

  it('reuses only an evaluation that measured the same thing (init, size, draws, labels per class, fine-tune when asked)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-reuse-'));
    try {
      const write = (name: string, evaluation: object) => fs.writeFileSync(path.join(dir, name), JSON.stringify(evaluation));
      const evaluation = (randomInit: boolean, size: number, fineTune: number[]) => ({ backbone: { randomInit }, size, perClass: 10, probe: [0.2, 0.3, 0.25], fineTune });
      write('eval-pretrained-defaultpx-3x10-ft.json', evaluation(false, 64, [0.3, 0.31, 0.32]));
      write('eval-random-32px-3x10.json', evaluation(true, 32, []));
      const wanted = { randomInit: false, size: 64, draws: 3, perClass: 10, fineTune: false };
      // An evaluation with the fine-tune serves one without it, at the size it recorded.
      expect(reusableEvaluation(dir, wanted)?.file).toBe(path.join(dir, 'eval-pretrained-defaultpx-3x10-ft.json'));
      expect(reusableEvaluation(dir, { ...wanted, fineTune: true })?.evaluation.fineTune).toEqual([0.3, 0.31, 0.32]);
      expect(reusableEvaluation(dir, { ...wanted, size: undefined })?.evaluation.size).toBe(64);
      expect(reusableEvaluation(dir, { ...wanted, size: 32 })).toBeUndefined();
      expect(reusableEvaluation(dir, { ...wanted, draws: 1 })).toBeUndefined();
      expect(reusableEvaluation(dir, { ...wanted, perClass: 5 })).toBeUndefined();
      expect(reusableEvaluation(dir, { ...wanted, randomInit: true, size: 32 })?.file).toBe(path.join(dir, 'eval-random-32px-3x10.json'));
      // No fine-tune in it: not reused for an evaluation that asks for one; a size-less request wants the default size's file.
      expect(reusableEvaluation(dir, { ...wanted, randomInit: true, size: 32, fineTune: true })).toBeUndefined();
      expect(reusableEvaluation(dir, { ...wanted, randomInit: true, size: undefined })).toBeUndefined();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineReport } from '../../main/common/engine';
import type { RunInfo } from '../../main/common/runs';
import { startCore, type Core } from '../../main/core';
import type { FromTrainer } from '../../main/jobs/protocol';
import { TrainerHost } from '../../main/jobs/trainer-host';
import { dispatch } from '../../main/services/dispatch';
import { builtEntry } from '../helpers/built';
import { dataset, fakeEngineReport } from '../helpers/library';

/**
 * The pretraining workspace's backend through a real core and the real (built) trainer
 * process, on ../shared/datasets/tiny (24 images in 3 class folders, used as labels):
 * field-by-field validation and the measured estimate, the contract refusing what the form
 * refuses, a killed trainer leaving an interrupted run that resumes from its last checkpoint,
 * the montage inspector, the kNN monitor, continuing from an older checkpoint, extending a
 * finished run, and choosing the backbone.
 */

// wasm: these runs train several times faster than on cpu, and nothing here depends on the engine.
const base = { batch: 8, width: 0.125, engine: 'wasm' } as const;
/** What probing reports here: the engine the runs ask for (the estimate measures on it too). */
const engineReport: EngineReport = { ...fakeEngineReport, chosen: 'wasm', candidates: [{ name: 'wasm', available: true, reason: 'test' }] };

let work: string;
let dataDir: string;
let core: Core;
const trainerMessages: FromTrainer[] = [];

function open(stepDelayMs?: number): Core {
  return startCore({
    dataDir,
    mode: 'cli',
    probeEngines: async () => engineReport,
    library: { autoThumbnails: false },
    pretraining: {
      trainerScript: builtEntry('trainer-process'),
      stepDelayMs,
      createTrainer: (script) => {
        const host = new TrainerHost(script);
        host.on('message', (message) => trainerMessages.push(message));
        return host;
      },
    },
  });
}

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) {
      const runs = (await core.handlers.runsList({})).map((run) => `${run.id}:${run.status}@${run.lastStep}`);
      const seen = trainerMessages.slice(-8).map((message) => message.type);
      throw new Error(`timed out waiting for ${what} (runs ${runs.join(', ')}; last trainer messages ${seen.join(', ')})`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function waitForEnd(runId: number): Promise<RunInfo> {
  return until(`run ${runId} to end`, async () => {
    const run = await core.handlers.runGet({ runId, maxPoints: 10 });
    return ['running', 'paused'].includes(run.status) ? undefined : run;
  });
}

async function waitForStep(runId: number, step: number): Promise<void> {
  await until(`run ${runId} to reach step ${step}`, async () => ((await core.handlers.runGet({ runId, maxPoints: 10 })).lastStep >= step ? true : undefined));
}

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-workspace-'));
  dataDir = path.join(work, 'data');
  core = open(60);
  const { task } = await core.handlers.libraryAddFolder({ path: dataset('tiny') });
  const ended = await core.tasks.settled(task.id);
  expect(ended.status, ended.error).toBe('finished');
  const [folder] = await core.handlers.libraryFolders({});
  expect(await core.handlers.libraryUseFolderLabels({ folderId: folder!.id })).toMatchObject({ classes: 3 });
}, 60_000);

afterAll(() => {
  core?.close();
  fs.rmSync(work, { recursive: true, force: true });
});

describe('the new-run form and the contract refuse the same settings, naming the field', () => {
  const invalid: [string, Record<string, unknown>][] = [
    ['batch', { batch: 4000 }],
    ['batch', { batch: 1 }],
    ['crop', { crop: 40 }],
    ['crop', { crop: 20 }],
    ['cross', { grid: 3, cross: 0.4 }],
    ['engine', { engine: 'quantum' }],
    ['epochs', { epochs: 0 }],
    ['temperature', { temperature: -1 }],
    ['lr', { lr: 0 }],
  ];

  it.each(invalid)('refuses a bad %s in the estimate and in pretrainStart', async (field, bad) => {
    const estimate = await core.handlers.pretrainEstimate({ preset: 'cpu-small', overrides: { ...base, ...bad }, measure: false });
    expect(estimate.config).toBeNull();
    expect(estimate.errors.map((error) => error.field)).toContain(field);
    const started = await dispatch(core.handlers, 'pretrainStart', { preset: 'cpu-small', overrides: { ...base, ...bad } });
    expect(started).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
    expect(!started.ok && started.error.message).toContain(field);
  });

  it('reports every bad field at once, and a valid config with steps, memory and the engine', async () => {
    const both = await core.handlers.pretrainEstimate({ preset: 'cpu-small', overrides: { batch: 1, temperature: 9 }, measure: false });
    expect(both.errors.map((error) => error.field).sort()).toEqual(['batch', 'temperature']);
    const good = await core.handlers.pretrainEstimate({ preset: 'cpu-small', overrides: { ...base, epochs: 2 }, measure: false });
    expect(good.errors).toEqual([]);
    expect(good).toMatchObject({ imageCount: 24, stepsPerEpoch: 3, totalSteps: 6, engine: { chosen: 'wasm' }, timing: null });
    expect(good.memoryMb).toBeGreaterThan(0);
    expect(good.timingNote).toMatch(/Measure/);
  });

  it('measures the time per step with a short warm-up in a trainer process', async () => {
    const measured = await core.handlers.pretrainEstimate({ preset: 'cpu-small', overrides: { ...base, epochs: 2 }, measure: true });
    expect(measured.timing, measured.timingNote ?? '').not.toBeNull();
    expect(measured.timing!.source).toBe('measured');
    expect(measured.timing!.secondsPerStep).toBeGreaterThan(0);
    expect(measured.timing!.secondsPerEpoch).toBeCloseTo(measured.timing!.secondsPerStep * 3, 10);
    expect(measured.timing!.totalSeconds).toBeCloseTo(measured.timing!.secondsPerStep * 6, 10);
  }, 120_000);
});

describe('a pretraining run in the workspace', () => {
  it('marks a run whose trainer was killed interrupted; one resume continues from its last checkpoint', async () => {
    trainerMessages.length = 0;
    const run = await core.handlers.pretrainStart({ preset: 'cpu-small', overrides: { ...base, epochs: 50, checkpointEvery: 2 } });
    await waitForStep(run.id, 7);
    const ready = trainerMessages.find((message): message is Extract<FromTrainer, { type: 'ready' }> => message.type === 'ready')!;
    process.kill(ready.pid, 'SIGKILL');
    const killed = await waitForEnd(run.id);
    expect(killed.status, killed.error ?? '').toBe('interrupted');
    expect(killed.error).toMatch(/killed/);
    const stepAtKill = killed.lastStep;
    const details = await core.handlers.runGet({ runId: run.id, maxPoints: 2000 });
    const newest = details.checkpoints.at(-1)!;
    expect(newest.step).toBeGreaterThanOrEqual(stepAtKill - 2);

    trainerMessages.length = 0;
    const resumed = await core.handlers.pretrainContinue({ runId: run.id });
    expect(resumed).toMatchObject({ id: run.id, status: 'running', runDir: run.runDir });
    await until('the resumed run to report a step', () =>
      trainerMessages.some((message) => message.type === 'progress' && (message.progress.steps?.length ?? 0) > 0) || undefined,
    );
    const firstStep = trainerMessages.flatMap((message) => (message.type === 'progress' ? (message.progress.steps ?? []) : []))[0]!.step;
    // It goes on from the checkpoint: the step counter goes back no more than one checkpoint interval.
    expect(firstStep).toBe(newest.step + 1);
    expect(firstStep).toBeGreaterThan(stepAtKill - 2);
    const log = await core.handlers.runLog({ runId: run.id, lines: 500 });
    expect(log.lines.some((line) => line.includes(`Continuing from the checkpoint at step ${newest.step}`))).toBe(true);
    await core.handlers.pretrainCancel({ runId: run.id });
    expect((await waitForEnd(run.id)).status).toBe('cancelled');
    // Steps trained again after the checkpoint replaced the first ones: one row per step, no gap.
    const after = await core.handlers.runGet({ runId: run.id, maxPoints: 10_000 });
    expect(after.metrics.map((metric) => metric.step)).toEqual(Array.from({ length: after.metricCount }, (_, i) => i + 1));
  }, 180_000);

  it('shows the montages of the current batch and of a picked step while paused', async () => {
    const run = await core.handlers.pretrainStart({ preset: 'cpu-small', overrides: { ...base, epochs: 50 } });
    await waitForStep(run.id, 2);
    await core.handlers.pretrainPause({ runId: run.id });
    const current = await core.handlers.pretrainInspect({ runId: run.id, montages: 8 });
    const picked = await core.handlers.pretrainInspect({ runId: run.id, step: 1, montages: 8 });
    for (const inspection of [current, picked]) {
      expect(inspection).toMatchObject({ grid: 2, crop: 32, size: 64, batch: 8 });
      expect(inspection.montages).toHaveLength(8);
      for (const montage of inspection.montages) expect(Buffer.from(montage, 'base64').length).toBe(64 * 64 * 4);
      expect(inspection.patches).toHaveLength(8 * 4);
      // One permutation across the batch: every source image's 4 patches, each location once.
      const bySource = new Map<number, number[]>();
      for (const patch of inspection.patches) bySource.set(patch.source, [...(bySource.get(patch.source) ?? []), patch.trueLocation]);
      expect(bySource.size).toBe(8);
      for (const locations of bySource.values()) expect(locations.sort()).toEqual([0, 1, 2, 3]);
      const library = new Set((await core.handlers.libraryPage({ show: 'images', offset: 0, limit: 100 })).items.map((item) => item.id));
      for (const patch of inspection.patches) {
        expect(library.has(patch.imageId!)).toBe(true);
        expect(patch.fileName).toMatch(/\.jpg$/);
        expect(patch.predictedLocation).toBeGreaterThanOrEqual(0);
        expect(patch.predictedLocation).toBeLessThan(4);
        expect(patch.neighbours).toHaveLength(3);
        for (const neighbour of patch.neighbours) {
          const other = inspection.patches.find((p) => p.montage === neighbour.montage && p.cell === neighbour.cell)!;
          expect(neighbour.sameSource).toBe(other.source === patch.source);
          expect(other === patch).toBe(false);
        }
      }
      const right = inspection.patches.filter((patch) => patch.predictedLocation === patch.trueLocation).length;
      expect(inspection.locationAccuracy).toBeCloseTo(right / 32, 6);
      expect(inspection.clusterAccuracy).toBeGreaterThanOrEqual(0);
      expect(inspection.clusterAccuracy).toBeLessThanOrEqual(1);
    }
    expect(picked).toMatchObject({ step: 1, epoch: 1, stepInEpoch: 1 });
    expect(current.step).toBe(current.weightsStep);
    expect(await dispatch(core.handlers, 'pretrainInspect', { runId: run.id, step: 100_000 })).toMatchObject({ ok: false, error: { code: 'CONFLICT' } });
    await core.handlers.pretrainResume({ runId: run.id });
    await core.handlers.pretrainCancel({ runId: run.id });
    await waitForEnd(run.id);
    expect(await dispatch(core.handlers, 'pretrainInspect', { runId: run.id })).toMatchObject({ ok: false, error: { code: 'CONFLICT' } });
  }, 180_000);

  let finished: RunInfo;

  it('monitors kNN accuracy on held-out labelled images before training and after each epoch', async () => {
    const run = await core.handlers.pretrainStart({ preset: 'cpu-small', overrides: { ...base, epochs: 2, keepCheckpoints: 10 } });
    expect(run.monitor).toEqual({ classes: 3, bank: expect.any(Number), queries: expect.any(Number) });
    expect(run.monitor!.bank + run.monitor!.queries).toBe(24);
    finished = await waitForEnd(run.id);
    expect(finished.status, finished.error ?? '').toBe('finished');
    const details = await core.handlers.runGet({ runId: run.id, maxPoints: 2000 });
    expect(details.epochMetrics.map((metric) => [metric.epoch, metric.step])).toEqual([
      [0, 0],
      [1, 3],
      [2, 6],
    ]);
    for (const metric of details.epochMetrics) {
      expect(metric.knnAccuracy).toBeGreaterThanOrEqual(0);
      expect(metric.knnAccuracy).toBeLessThanOrEqual(1);
    }
    expect(finished.knnAccuracy).toBe(details.epochMetrics.at(-1)!.knnAccuracy);
    expect(finished.totalSteps).toBe(6);
    // The run was also a task of the status bar, with its steps counted.
    const task = (await core.handlers.tasksList({})).find((t) => t.kind === 'pretrain' && t.title.includes(finished.name));
    expect(task).toMatchObject({ status: 'finished', done: 6, total: 6, unit: 'steps' });
    // Batch accuracies are stored per step.
    for (const metric of details.metrics) expect(metric.locationAccuracy).not.toBeNull();
  }, 180_000);

  it('continues from an older checkpoint as a new run, and extends a finished run in place', async () => {
    const details = await core.handlers.runGet({ runId: finished.id, maxPoints: 2000 });
    expect(details.checkpoints.map((c) => c.step)).toEqual([3, 6]);
    const child = await core.handlers.pretrainContinue({ runId: finished.id, step: 3 });
    expect(child.id).not.toBe(finished.id);
    expect(child).toMatchObject({ parentRunId: finished.id, parentStep: 3 });
    expect(child.runDir).not.toBe(finished.runDir);
    const childEnded = await waitForEnd(child.id);
    expect(childEnded.status).toBe('finished');
    const childDetails = await core.handlers.runGet({ runId: child.id, maxPoints: 2000 });
    expect(childDetails.metrics.map((m) => m.step)).toEqual([1, 2, 3, 4, 5, 6]);
    // The parent's first 3 steps were copied; the child trained steps 4-6 from the same checkpoint.
    expect(childDetails.metrics.slice(0, 3)).toEqual(details.metrics.slice(0, 3));

    const refused = await dispatch(core.handlers, 'pretrainContinue', { runId: finished.id });
    expect(refused).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
    expect(!refused.ok && refused.error.message).toMatch(/epochs/);
    const extended = await core.handlers.pretrainContinue({ runId: finished.id, epochs: 3 });
    expect(extended).toMatchObject({ id: finished.id, status: 'running' });
    const done = await waitForEnd(finished.id);
    expect(done).toMatchObject({ status: 'finished', lastStep: 9, totalSteps: 9 });
    expect(done.config.epochs).toBe(3);
  }, 240_000);

  it('chooses a checkpoint as the backbone for clusters and fine-tuning', async () => {
    // The first run to finish became the backbone by itself (none was in use); choosing replaces it.
    const runs = await core.handlers.runsList({});
    const firstFinished = runs.filter((run) => run.status === 'finished').sort((a, b) => a.id - b.id)[0]!;
    expect(await core.handlers.backboneGet({})).toMatchObject({ runId: firstFinished.id });
    const details = await core.handlers.runGet({ runId: finished.id, maxPoints: 10 });
    const checkpoint = details.checkpoints.at(-1)!;
    const choice = await core.handlers.runUseCheckpoint({ runId: finished.id, step: checkpoint.step });
    expect(choice).toMatchObject({ runId: finished.id, step: checkpoint.step, file: checkpoint.file, runName: finished.name });
    expect(await core.handlers.backboneGet({})).toEqual(choice);
    expect(await dispatch(core.handlers, 'runUseCheckpoint', { runId: finished.id, step: 12345 })).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
  });
});

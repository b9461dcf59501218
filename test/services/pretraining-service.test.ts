import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunEvent, RunInfo } from '../../main/common/runs';
import { startCore, type Core } from '../../main/core';
import type { StepMetric } from '../../main/engine/jigclu/run-pretraining';
import type { FromTrainer } from '../../main/jobs/protocol';
import { TrainerHost } from '../../main/jobs/trainer-host';
import { dispatch } from '../../main/services/dispatch';
import { adoptsFinishedRun } from '../../main/services/backbone';
import { databasePath } from '../../main/paths';
import { builtEntry } from '../helpers/built';
import { dataset, fakeEngineReport } from '../helpers/library';

/**
 * Pretraining runs through the services of a real core: the tiny dataset imported into the
 * library, a cpu-small run in the real (built) trainer process, its rows in SQLite, one job at a
 * time, deleting a run with its folder, and runs left running marked interrupted on restart.
 */

// wasm: several times faster than cpu for these runs; nothing here depends on the engine.
const overrides = { epochs: 1, batch: 8, width: 0.125, engine: 'wasm' } as const;

let work: string;
let dataDir: string;
let core: Core;
const events: RunEvent[] = [];
/** Every message the trainer processes sent, as the app received them. */
const trainerMessages: FromTrainer[] = [];

function open(): Core {
  const started = startCore({
    dataDir,
    mode: 'cli',
    probeEngines: async () => fakeEngineReport,
    library: { autoThumbnails: false },
    pretraining: {
      trainerScript: builtEntry('trainer-process'),
      createTrainer: (script) => {
        const host = new TrainerHost(script);
        host.on('message', (message) => trainerMessages.push(message));
        return host;
      },
    },
  });
  started.hub.subscribe((name, payload) => {
    if (name === 'run') events.push(payload as RunEvent);
  });
  return started;
}

async function waitForEnd(runId: number, timeoutMs = 120_000): Promise<RunInfo> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = await core.handlers.runGet({ runId, maxPoints: 2000 });
    if (!['running', 'paused'].includes(run.status)) return run;
    if (Date.now() > deadline) throw new Error(`run ${runId} still ${run.status} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function waitForTraining(runId: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!events.some((event) => event.runId === runId && event.phase === 'training')) {
    if (Date.now() > deadline) throw new Error(`run ${runId} never started training`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-pretraining-'));
  dataDir = path.join(work, 'data');
  core = open();
  const { task } = await core.handlers.libraryAddFolder({ path: dataset('tiny') });
  const ended = await core.tasks.settled(task.id);
  expect(ended.status, ended.error).toBe('finished');
}, 60_000);

afterAll(() => {
  core?.close();
  fs.rmSync(work, { recursive: true, force: true });
});

describe('pretraining service', () => {
  let firstRun: RunInfo;

  it('trains a cpu-small run in the trainer process and records it, refusing a second start meanwhile', async () => {
    const images = (await core.handlers.libraryFolders({})).reduce((sum, folder) => sum + folder.images, 0);
    expect(images).toBeGreaterThanOrEqual(16);
    trainerMessages.length = 0;
    const started = await dispatch(core.handlers, 'pretrainStart', { preset: 'cpu-small', overrides });
    expect(started.ok, JSON.stringify(started)).toBe(true);
    const run = (started as { value: RunInfo }).value;
    expect(run).toMatchObject({ status: 'running', imageCount: images, runDir: path.join(dataDir, 'runs', String(run.id)) });
    expect(run.config).toMatchObject({ preset: 'cpu-small', ...overrides });
    expect(run.filesHash).toMatch(/^[0-9a-f]{64}$/);

    const second = await dispatch(core.handlers, 'pretrainStart', { preset: 'cpu-small', overrides });
    expect(second).toMatchObject({ ok: false, error: { code: 'CONFLICT' } });
    expect(!second.ok && second.error.message).toMatch(/one training job runs at a time/);

    firstRun = await waitForEnd(run.id);
    expect(firstRun.status, firstRun.error ?? '').toBe('finished');
    expect(firstRun.engine).toBe(overrides.engine);
    expect(firstRun.endedAt).not.toBeNull();
    const stepsPerEpoch = Math.floor(images / overrides.batch);
    expect(firstRun.lastStep).toBe(stepsPerEpoch);

    const details = await core.handlers.runGet({ runId: run.id, maxPoints: 2000 });
    // Metrics in SQLite are exactly the steps the trainer reported: same count, same values.
    const reported: StepMetric[] = trainerMessages.flatMap((message) => (message.type === 'progress' ? (message.progress.steps ?? []) : []));
    expect(reported.map((metric) => metric.step)).toEqual(Array.from({ length: stepsPerEpoch }, (_, i) => i + 1));
    expect(details.metricCount).toBe(reported.length);
    expect(details.metrics).toEqual(reported);
    // The live events carry the latest of those values.
    const lastEvent = events.filter((event) => event.runId === run.id && event.losses).at(-1)!;
    expect(lastEvent.losses).toEqual({ total: reported.at(-1)!.total, cluster: reported.at(-1)!.cluster, location: reported.at(-1)!.location });
    const last = details.metrics.at(-1)!;
    expect(firstRun.finalLosses).toEqual({ total: last.total, cluster: last.cluster, location: last.location });
    // Checkpoints: rows for the files on disk, inside the run's own folder.
    expect(details.checkpoints.length).toBeGreaterThan(0);
    for (const checkpoint of details.checkpoints) {
      expect(fs.existsSync(checkpoint.file), checkpoint.file).toBe(true);
      expect(checkpoint.file.startsWith(run.runDir + path.sep)).toBe(true);
    }
    expect(details.checkpoints.at(-1)?.step).toBe(stepsPerEpoch);
    expect(firstRun.checkpointCount).toBe(details.checkpoints.length);
    // The final event says it ended.
    expect(events.filter((event) => event.runId === run.id).at(-1)).toMatchObject({ phase: 'ended', status: 'finished' });
    // No backbone was in use: its newest checkpoint became it, and its log says so.
    expect(await core.handlers.backboneGet({})).toMatchObject({ runId: run.id, step: stepsPerEpoch });
    expect((await core.handlers.runLog({ runId: run.id, lines: 50 })).lines.join('\n')).toContain(`Its checkpoint at step ${stepsPerEpoch} is now the backbone in use`);
  }, 180_000);

  it('a finished run replaces the sample run as the backbone in use, never a run of your own', async () => {
    expect(adoptsFinishedRun(undefined, undefined, 5)).toBe(true);
    expect(adoptsFinishedRun(3, 3, 5)).toBe(true);
    expect(adoptsFinishedRun(3, 3, 3)).toBe(false);
    expect(adoptsFinishedRun(4, 3, 5)).toBe(false);
    expect(adoptsFinishedRun(4, undefined, 5)).toBe(false);
    // The first run stands in for the sample run: a second run that finishes takes its place.
    core.db.prepare("INSERT INTO settings (key, value) VALUES ('firstRun.sampleRunId', ?)").run(String(firstRun.id));
    const second = await core.handlers.pretrainStart({ preset: 'cpu-small', overrides });
    const ended = await waitForEnd(second.id);
    expect(ended.status, ended.error ?? '').toBe('finished');
    expect(await core.handlers.backboneGet({})).toMatchObject({ runId: second.id, step: ended.lastStep });
    expect((await core.handlers.runLog({ runId: second.id, lines: 50 })).lines.join('\n')).toContain(`instead of ${firstRun.name}, the sample run`);
    core.db.prepare("DELETE FROM settings WHERE key = 'firstRun.sampleRunId'").run();
    await core.handlers.runDelete({ runId: second.id, confirm: true });
  }, 180_000);

  it('downsamples long curves to at most maxPoints points', async () => {
    const runId = firstRun.id;
    const db = core.db;
    const insert = db.prepare('INSERT OR REPLACE INTO run_metrics (run_id, step, epoch, total, cluster, location, lr) VALUES (?, ?, 0, ?, 1, 1, 0.1)');
    db.transaction(() => {
      for (let step = 1000; step < 6000; step += 1) insert.run(runId, step, step);
    })();
    const details = await core.handlers.runGet({ runId, maxPoints: 2000 });
    expect(details.metricCount).toBeGreaterThan(5000);
    expect(details.metrics.length).toBeLessThanOrEqual(2000);
    expect(details.metrics.length).toBeGreaterThan(1000);
    expect(details.metrics.at(-1)?.step).toBe(5999);
    db.prepare('DELETE FROM run_metrics WHERE run_id = ? AND step >= 1000').run(runId);
  });

  it('refuses invalid settings naming the field, and unknown folders', async () => {
    const tooBig = await dispatch(core.handlers, 'pretrainStart', { preset: 'cpu-small', overrides: { ...overrides, batch: 4000 } });
    expect(tooBig).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
    expect(!tooBig.ok && tooBig.error.message).toMatch(/batch/);
    const badEngine = await dispatch(core.handlers, 'pretrainStart', { preset: 'cpu-small', overrides: { engine: 'quantum' } });
    expect(badEngine).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
    expect(!badEngine.ok && badEngine.error.message).toMatch(/engine/);
    const noFolder = await dispatch(core.handlers, 'pretrainStart', { folderIds: [999], preset: 'cpu-small', overrides });
    expect(noFolder).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    expect(await core.handlers.runsList({})).toHaveLength(1);
  });

  it('renames, notes and deletes a run with its checkpoint folder', async () => {
    const runId = firstRun.id;
    expect((await core.handlers.runRename({ runId, name: 'tiny baseline' })).name).toBe('tiny baseline');
    expect((await core.handlers.runNote({ runId, note: 'first try' })).note).toBe('first try');
    expect(await dispatch(core.handlers, 'runDelete', { runId })).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
    expect(fs.existsSync(firstRun.runDir)).toBe(true);
    expect(await core.handlers.runDelete({ runId, confirm: true })).toEqual({ deleted: true });
    expect(fs.existsSync(firstRun.runDir)).toBe(false);
    expect(await core.handlers.runsList({})).toEqual([]);
    for (const table of ['run_metrics', 'checkpoints']) {
      expect(core.db.prepare(`SELECT count(*) FROM ${table} WHERE run_id = ?`).pluck().get(runId), table).toBe(0);
    }
    expect(await dispatch(core.handlers, 'runGet', { runId })).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
  });

  it('pauses, resumes and cancels a run; a cancelled run keeps a checkpoint of where it stopped', async () => {
    const run = await core.handlers.pretrainStart({ preset: 'cpu-small', overrides: { ...overrides, epochs: 50 } });
    await waitForTraining(run.id);
    expect((await core.handlers.pretrainPause({ runId: run.id })).status).toBe('paused');
    expect(await dispatch(core.handlers, 'runDelete', { runId: run.id, confirm: true })).toMatchObject({ ok: false, error: { code: 'CONFLICT' } });
    expect((await core.handlers.pretrainResume({ runId: run.id })).status).toBe('running');
    await core.handlers.pretrainCancel({ runId: run.id });
    const ended = await waitForEnd(run.id);
    expect(ended.status, ended.error ?? '').toBe('cancelled');
    const details = await core.handlers.runGet({ runId: run.id, maxPoints: 2000 });
    // It stopped at a step boundary with a checkpoint of that step (a 'stop' one, unless a step
    // checkpoint of the same step was just written).
    const newest = details.checkpoints.at(-1)!;
    expect(fs.existsSync(newest.file)).toBe(true);
    expect(newest.step).toBeGreaterThanOrEqual(ended.lastStep);
    expect(await dispatch(core.handlers, 'pretrainPause', { runId: run.id })).toMatchObject({ ok: false, error: { code: 'CONFLICT' } });
    await core.handlers.runDelete({ runId: run.id, confirm: true });
  }, 180_000);

  it('marks a run left running by a killed app as interrupted on restart, and never reuses its folder', async () => {
    const started = await core.handlers.pretrainStart({ preset: 'cpu-small', overrides: { ...overrides, epochs: 50 } });
    // Wait until it trains, then simulate a crash: the app goes away and the database still
    // says 'running' when it opens again.
    await waitForTraining(started.id);
    core.close();
    const raw = new Database(databasePath(dataDir));
    raw.prepare("UPDATE runs SET status = 'running', ended_at = NULL WHERE id = ?").run(started.id);
    raw.close();
    core = open();
    const after = await core.handlers.runGet({ runId: started.id, maxPoints: 2000 });
    expect(after.status).toBe('interrupted');
    expect(after.endedAt).not.toBeNull();
    // A new run gets a folder of its own.
    const next = await core.handlers.pretrainStart({ preset: 'cpu-small', overrides });
    expect(next.runDir).not.toBe(after.runDir);
    expect(path.dirname(next.runDir)).toBe(path.join(dataDir, 'runs'));
    expect((await waitForEnd(next.id)).status).toBe('finished');
  }, 180_000);
});

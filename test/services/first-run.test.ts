import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { firstRunSteps } from '../../main/common/first-run';
import { createServices } from '../../main/services/app-services';
import type { FirstRunPlan, ServiceContext } from '../../main/services/context';
import type { Handlers } from '../../main/services/dispatch';
import { defaultFirstRunPlan, findSampleDir } from '../../main/services/first-run';
import { TaskRegistry } from '../../main/services/tasks';
import { SettingsRepository } from '../../main/store/settings-repository';
import { openDatabase } from '../../main/store/db';
import type { TaskInfo } from '../../main/common/tasks';
import { builtEntry } from '../helpers/built';
import { fakeEngineReport } from '../helpers/library';

/**
 * The guided first run through the real services and the real (built) trainer process, on a
 * copy of the bundled sample set, with a tiny plan (1 epoch of a narrow cpu-small, 2 classifier
 * epochs) so it takes about a minute: every step runs, in order, and the numbers come back.
 */

let work: string;
let context: ServiceContext;
let handlers: Handlers;
const taskEvents: TaskInfo[] = [];

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-first-run-'));
  const sample = path.join(work, 'sample');
  fs.cpSync(findSampleDir()!, sample, { recursive: true });
  const dataDir = path.join(work, 'data');
  fs.mkdirSync(dataDir, { recursive: true });
  const db = openDatabase(path.join(dataDir, 'jigclu.sqlite'));
  context = {
    db,
    dataDir,
    databasePath: path.join(dataDir, 'jigclu.sqlite'),
    mode: 'cli',
    version: '0.0.0',
    probeEngines: async () => fakeEngineReport,
    tasks: new TaskRegistry((info) => taskEvents.push(info)),
  };
  const plan: FirstRunPlan = { ...defaultFirstRunPlan, sampleDir: sample, pretrain: { epochs: 1, width: 0.0625, batch: 16 }, finetuneEpochs: 2, pollMs: 50 };
  // One set of services for the file, as a core builds them.
  ({ handlers } = createServices(context, { library: { autoThumbnails: false }, pretraining: { trainerScript: builtEntry('trainer-process') }, firstRun: plan }));
});

afterAll(async () => {
  await context?.tasks.cancelAll();
  context?.db.close();
  fs.rmSync(work, { recursive: true, force: true });
});

describe('first run', () => {
  it('finds the bundled sample set with its 4 class folders', () => {
    const dir = findSampleDir()!;
    expect(fs.readdirSync(dir).filter((name) => fs.statSync(path.join(dir, name)).isDirectory()).sort()).toEqual(['blobs', 'checkers', 'circles', 'stripes']);
    expect(findSampleDir({ JIGCLU_SAMPLE_DIR: path.join(work, 'sample') })).toBe(path.join(work, 'sample'));
  });

  it('imports, labels 4 per class, pretrains, embeds, clusters (k = 4) and fine-tunes as one task', async () => {
    new SettingsRepository(context.db).setMany({ engine: 'wasm' });
    expect((await handlers.firstRunInfo({})).fresh).toBe(true);
    const { task } = await handlers.firstRunStart({});
    await expect(Promise.resolve().then(() => handlers.firstRunStart({}))).rejects.toThrow(/already running/);
    const ended = await context.tasks.settled(task.id);
    const info = await handlers.firstRunInfo({});
    expect(ended.status, ended.error ?? info.run?.error ?? '').toBe('finished');
    expect(ended.done).toBe(100);
    expect(info.fresh).toBe(false);
    const result = info.run!.result!;
    expect(result.images).toBe(96);
    expect(result.classes).toEqual(['blobs', 'checkers', 'circles', 'stripes']);
    expect(result.k).toBe(4);
    // Scored over all 96 images by their class folders, exactly as the Clusters screen scores that clustering.
    expect(result.scoredImages).toBe(96);
    expect(result.nmi).toBeGreaterThanOrEqual(0);
    expect(result.nmi).toBeLessThanOrEqual(1);
    const shown = await handlers.clusteringGet({ clusteringId: result.clusteringId });
    expect(shown.scores).toMatchObject({ labelled: 96, fromFolders: 96, classes: 4, nmi: result.nmi, purity: result.purity });
    expect(result.linearProbeAccuracy).not.toBeNull();
    expect(result.fineTuneAccuracy).not.toBeNull();
    // The run honoured the engine setting (wasm, as "Force CPU" sets it where tfjs-node is absent).
    expect(result.engine).toBe('wasm');
    // Only 16 hand labels: 4 per class, no folder labels.
    const labels = context.db.prepare("SELECT source, count(*) AS n FROM labels GROUP BY source").all() as { source: string; n: number }[];
    expect(labels).toEqual([{ source: 'hand', n: 16 }]);
    const messages = taskEvents.filter((event) => event.id === task.id).map((event) => event.message ?? '');
    // Every step was reported in order (events are throttled: a fast step may not get one of its own).
    const steps = messages.map((m) => Number(/^Step (\d+) of/.exec(m)?.[1] ?? 0)).filter((n) => n > 0);
    expect(steps).toEqual([...steps].sort((x, y) => x - y));
    expect(steps.at(-1)).toBe(firstRunSteps.length);
    expect(steps).toContain(3);
  }, 240_000);

  it('cancels: the run stops and the task ends as cancelled', async () => {
    const { task } = await handlers.firstRunStart({});
    await new Promise((resolve) => setTimeout(resolve, 300));
    context.tasks.cancel(task.id);
    expect((await context.tasks.settled(task.id)).status).toBe('cancelled');
    expect((await handlers.firstRunInfo({})).run?.status).toBe('cancelled');
  }, 60_000);
});

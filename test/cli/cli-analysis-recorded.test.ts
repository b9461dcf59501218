import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolvePretrainConfig } from '../../main/common/pretrain-config';
import { startCore, type Core } from '../../main/core';
import { JigCluTrainer } from '../../main/engine/jigclu/trainer';
import { fakeEngineReport } from '../helpers/library';
import { builtEntry, sharedDataset } from '../helpers/built';
import { useCpuBackend } from '../helpers/engine';

/**
 * One path for runs (issue 18): `jigclu embed`, `cluster` and `finetune` work through the same
 * core services as the app, so what they compute is stored in the data folder and listed by the
 * contract's calls, in an app opened before the command ran and in one opened after. The
 * checkpoint is a tiny untrained one (ResNet-18 x 0.0625) in a run folder no database knows: the
 * commands record it as a run of its own, which the app lists with what was computed from it.
 */

let work = '';
let dataDir = '';
let runDir = '';
const cores: Core[] = [];
beforeAll(async () => {
  await useCpuBackend();
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-cli-analysis-'));
  dataDir = path.join(work, 'data');
  runDir = path.join(work, 'run');
  fs.mkdirSync(path.join(runDir, 'checkpoints'), { recursive: true });
  const trainer = new JigCluTrainer(resolvePretrainConfig('cpu-small', { width: 0.0625, seed: 5 }), 'fast');
  fs.writeFileSync(path.join(runDir, 'checkpoints', 'step-00000000.safetensors'), await trainer.serialize());
  trainer.dispose();
}, 60_000);
afterAll(() => {
  for (const core of cores.splice(0)) core.close();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

/** Runs the built CLI on the test's data folder. */
async function jigclu(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string; all: string }> {
  const child = spawn(process.execPath, [builtEntry('cli'), '--data-dir', dataDir, ...args]);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, stdout, stderr, all: stdout + stderr };
}

function openApp(): Core {
  const core = startCore({ dataDir, mode: 'browser', probeEngines: async () => fakeEngineReport, library: { autoThumbnails: false } });
  cores.push(core);
  return core;
}

describe('the computing commands record what they compute', () => {
  it('embed, cluster and finetune are listed by the contract calls, in an app open meanwhile and one opened after', async () => {
    const tiny = sharedDataset('tiny');
    const embeddings = path.join(work, 'embeddings.csv');
    const embed = await jigclu(['embed', runDir, tiny, '--out', embeddings, '--engine', 'cpu']);
    expect(embed.code, embed.all).toBe(0);
    expect(embed.stderr).toMatch(/24 images embedded \(32 features, 32 px, step-00000000\.safetensors, engine cpu/);
    expect(fs.readFileSync(embeddings, 'utf8').trim().split('\n')).toHaveLength(25);
    // An app open while the next commands run.
    const app = openApp();
    const runs = await app.handlers.runsList({});
    expect(runs).toHaveLength(1);
    const run = runs[0]!;
    expect(run.name).toBe('step-00000000.safetensors (given to the command line)');
    const sets = await app.handlers.embeddingSets({});
    expect(sets).toHaveLength(1);
    expect(sets[0]).toMatchObject({ source: { kind: 'checkpoint', runId: run.id, step: 0 }, images: 24, dim: 32 });
    expect((await app.handlers.libraryFolders({})).map((folder) => folder.path)).toEqual([tiny]);

    const clusters = path.join(work, 'clusters.csv');
    const cluster = await jigclu(['cluster', runDir, tiny, '--k', '3', '--out', clusters, '--engine', 'cpu']);
    expect(cluster.code, cluster.all).toBe(0);
    expect(cluster.stdout).toMatch(/k-means: 24 images, k = 3, cosine, seed 0: \d+ iterations/);
    // The same embedding set: nothing embedded twice.
    expect(cluster.stderr).toMatch(/24 images embedded \(32 features, 32 px, step-00000000\.safetensors, stored before\)/);
    const latest = await app.handlers.clusteringLatest({ setId: sets[0]!.id });
    expect(latest).toMatchObject({ k: 3, images: 24, metric: 'cosine', seed: 0 });
    expect(latest!.clusters.reduce((sum, entry) => sum + entry.size, 0)).toBe(24);
    // The CSV holds the stored assignment.
    const rows = fs.readFileSync(clusters, 'utf8').trim().split('\n').slice(1);
    expect(rows).toHaveLength(24);
    const sizes = [0, 1, 2].map((c) => rows.filter((row) => row.split(',')[1] === String(c)).length);
    expect(sizes).toEqual(latest!.clusters.map((entry) => entry.size));

    const finetune = await jigclu(['finetune', runDir, '--train', tiny, '--test', tiny, '--per-class', '3', '--epochs', '2', '--mode', 'linear-probe', '--seed', '1', '--engine', 'cpu']);
    expect(finetune.code, finetune.all).toBe(0);
    expect(finetune.stdout).toMatch(/^few-label linear probe: val \d+\.\d% test \d+\.\d% \(3 labels\/class, 3 classes, pretrained\)$/m);
    // Opened after: it lists the classifier, its round, and its predictions of all 24 images.
    const late = openApp();
    const classifiers = await late.handlers.classifiersList({});
    expect(classifiers).toHaveLength(1);
    expect(classifiers[0]).toMatchObject({ mode: 'linear-probe', source: { kind: 'checkpoint', runId: run.id, step: 0 }, labelCount: 9 });
    expect(classifiers[0]!.classes.map((entry) => entry.name)).toEqual(['airplane', 'frog', 'truck']);
    expect(await late.handlers.finetuneRounds({})).toHaveLength(1);
    const predictions = await late.handlers.predictionsPage({ classifierId: classifiers[0]!.id, unlabelledOnly: false, order: 'confidence-desc', offset: 0, limit: 100 });
    expect(predictions.total).toBe(24);
    // The drawn labels trained the classifier; none was written as a label of the library.
    expect((await late.handlers.libraryFolders({}))[0]!.labelled).toBe(0);
    expect(await late.handlers.runsList({})).toHaveLength(1);
    expect(app.services.finetune.list()).toHaveLength(1);
  }, 240_000);
});

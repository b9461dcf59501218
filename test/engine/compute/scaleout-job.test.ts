import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunDetails } from '../../../main/common/runs';
import type { Core } from '../../../main/core';
import { decodeSafetensors } from '../../../main/engine/weights/safetensors';
import { decodeTorchSafetensors } from '../../../main/engine/weights/torch-export';
import { fromTorchLayout } from '../../../main/engine/weights/torch-layout';
import { dispatch } from '../../../main/services/dispatch';
import { repoRoot } from '../../helpers/built';
import { tinyLibraryCore } from '../../helpers/compute-host';
import { runTorchScript, torchPython, torchUnavailable } from '../../helpers/torch-python';

/**
 * Scaling out end to end on ../shared/datasets/tiny (issue 21): a 1-epoch run of the app
 * (cpu-small, width 0.125, batch 8: 3 steps per epoch) exported as a DDP job; its init weights
 * back in the app's format bit for bit (through PyTorch too); the job's selftest; 2 more epochs
 * under torchrun with 2 gloo processes, equal to 1 process to 1e-5; import-job; the imported
 * run with its parent, step and engine, clusters computed from it, and the app continuing it.
 */

const missing = torchUnavailable();
if (missing) console.warn(`scaleout-job.test.ts: skipping the export / torchrun / import test: ${missing}`);

let work: string;
let core: Core;
let parent: RunDetails;
let jobDir: string;

function sha256(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** The trainer in the job folder, with Debian's Python (torchrun as `-m torch.distributed.run`). */
function python(args: string[], timeout = 120_000) {
  const run = spawnSync(torchPython, args, { cwd: jobDir, encoding: 'utf8', timeout, env: { ...process.env, OMP_NUM_THREADS: '1' } });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

async function settledRun(runId: number): Promise<RunDetails> {
  for (;;) {
    const run = await core.handlers.runGet({ runId, maxPoints: 100 });
    if (!['running', 'paused'].includes(run.status)) return run;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

beforeAll(async () => {
  if (missing) return;
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-scaleout-'));
  core = await tinyLibraryCore(work);
  await core.handlers.libraryUseFolderLabels({ folderId: (await core.handlers.libraryFolders({}))[0]!.id });
  const started = await core.handlers.pretrainStart({ preset: 'cpu-small', overrides: { epochs: 1, batch: 8, width: 0.125, engine: 'cpu' } });
  parent = await settledRun(started.id);
  expect(parent.status, parent.error ?? '').toBe('finished');
}, 120_000);

afterAll(() => {
  core?.close();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe.skipIf(missing !== undefined)('a run exported as a PyTorch DDP job and brought back', () => {
  it('refuses to export a run whose image has changed, naming it, and leaves no folder behind', async () => {
    const image = path.join(work, 'pictures', 'frog', fs.readdirSync(path.join(work, 'pictures', 'frog')).sort()[0]!);
    const original = fs.readFileSync(image);
    fs.appendFileSync(image, Buffer.from([0]));
    try {
      const { task, path: folder } = await core.handlers.jobExport({ runId: parent.id, destination: path.join(work, 'refused') });
      const ended = await core.tasks.settled(task.id);
      expect(ended.status).toBe('failed');
      expect(ended.error).toContain(`${image} has changed`);
      expect(fs.existsSync(folder)).toBe(false);
    } finally {
      fs.writeFileSync(image, original);
    }
  }, 60_000);

  it('exports job.json, manifest.tsv, init.safetensors, the trainer, run.sh and golden batches', async () => {
    const { task, path: folder } = await core.handlers.jobExport({ runId: parent.id, destination: path.join(work, 'jobs') });
    const ended = await core.tasks.settled(task.id);
    expect(ended.status, ended.error).toBe('finished');
    // The parent has trained its 1 epoch: the command suggests one more.
    expect(ended.message).toContain('python3 -m torch.distributed.run --nproc_per_node N jigclu_ddp.py --epochs 2 --out out');
    jobDir = folder;
    expect(fs.readdirSync(jobDir).sort()).toEqual(['golden', 'init.safetensors', 'jigclu_ddp.py', 'job.json', 'manifest.tsv', 'run.sh']);
    const job = JSON.parse(fs.readFileSync(path.join(jobDir, 'job.json'), 'utf8'));
    expect(job).toMatchObject({ format: 'jigclu-job-v1', imageCount: 24, stepsPerEpoch: 3, start: { epoch: 1, stepInEpoch: 0, globalStep: 3 }, parent: { runId: parent.id, step: 3 } });
    expect(job.config).toEqual(parent.config);
    expect(job.trainer.sha256).toBe(sha256(path.join(repoRoot, 'scaleout', 'jigclu_ddp.py')));
    expect(job.manifest.sha256).toBe(sha256(path.join(jobDir, 'manifest.tsv')));
    const manifest = fs.readFileSync(path.join(jobDir, 'manifest.tsv'), 'utf8').trim().split('\n');
    expect(manifest[0]).toBe('index\troot\tpath\tsha256\tbytes\twidth\theight');
    expect(manifest).toHaveLength(25);
    const files = JSON.parse(fs.readFileSync(path.join(parent.runDir, 'files.json'), 'utf8')).files as { path: string }[];
    manifest.slice(1).forEach((line, index) => {
      const [i, root, rel, digest, , width, height] = line.split('\t');
      expect(Number(i)).toBe(index);
      expect(path.join(job.roots[root!], rel!)).toBe(files[index]!.path);
      expect(digest).toBe(sha256(files[index]!.path));
      expect([width, height]).toEqual(['32', '32']);
    });
    expect(fs.readFileSync(path.join(jobDir, 'run.sh'), 'utf8')).toContain('-m torch.distributed.run --standalone --nproc_per_node "$NPROC" --redirects 3:1 --tee 3:1');
  }, 60_000);

  it('keeps the weights bit-identical from the app to PyTorch layout and back, through the trainer too', () => {
    const checkpoint = decodeSafetensors(fs.readFileSync(parent.checkpoints.at(-1)!.file));
    const init = decodeTorchSafetensors(fs.readFileSync(path.join(jobDir, 'init.safetensors'))).tensors;
    const back = path.join(work, 'roundtrip.safetensors');
    const answer = runTorchScript(path.join(repoRoot, 'test', 'fixtures', 'scaleout_port.py'), [], JSON.stringify({ roundtrips: [{ init: path.join(jobDir, 'init.safetensors'), config: parent.config, out: back }] }));
    expect(answer.reason).toBeUndefined();
    const throughTorch = decodeSafetensors(fs.readFileSync(back)).tensors;
    expect([...throughTorch.keys()].sort()).toEqual([...checkpoint.tensors.keys()].sort());
    for (const [name, tensor] of checkpoint.tensors) {
      const bytes = (data: ArrayBufferView) => Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      const torch = init.get(name)!;
      expect(bytes(fromTorchLayout(torch.shape, torch.data as Float32Array)).equals(bytes(tensor.data)), `${name} via init.safetensors`).toBe(true);
      expect(throughTorch.get(name)!.shape, name).toEqual(tensor.shape);
      expect(bytes(throughTorch.get(name)!.data).equals(bytes(tensor.data)), `${name} through PyTorch`).toBe(true);
    }
    expect([...checkpoint.tensors.keys()].some((name) => name.startsWith('optimizer.momentum.'))).toBe(true);
  });

  it("passes the job's selftest: the app's golden batches and losses with PyTorch, and the images decode alike", () => {
    const run = python(['jigclu_ddp.py', 'selftest']);
    expect(run.output).toContain('selftest passed');
    expect(run.status).toBe(0);
    // And it fails when the app's numbers and this PyTorch's disagree.
    const goldenFile = path.join(jobDir, 'golden', 'golden.json');
    const golden = fs.readFileSync(goldenFile, 'utf8');
    const tampered = JSON.parse(golden) as { batches: { losses: { cluster: number } }[] };
    tampered.batches[1]!.losses.cluster += 0.01;
    fs.writeFileSync(goldenFile, JSON.stringify(tampered));
    try {
      const failed = python(['jigclu_ddp.py', 'selftest', '--skip-files']);
      expect(failed.status).toBe(1);
      expect(failed.output).toMatch(/selftest FAILED:\n {2}batch \d+ of epoch 1 \(8 images\): cluster loss/);
    } finally {
      fs.writeFileSync(goldenFile, golden);
    }
  }, 60_000);

  it('refuses to train when an image is not where a remapped root says, naming it', () => {
    const job = JSON.parse(fs.readFileSync(path.join(jobDir, 'job.json'), 'utf8')) as { roots: Record<string, string> };
    expect(Object.keys(job.roots)).toEqual(['r0']);
    const elsewhere = path.join(work, 'elsewhere');
    fs.mkdirSync(elsewhere);
    const run = python(['jigclu_ddp.py', '--epochs', '3', '--out', 'refused', '--workers', '0', '--root', `r0=${elsewhere}`]);
    expect(run.status).toBe(2);
    expect(run.output).toMatch(new RegExp(`error: 24 of 24 images cannot be used: ${elsewhere.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/airplane/\\S+ is missing`));
    expect(run.output).toContain('none is skipped');
    expect(fs.existsSync(path.join(jobDir, 'refused', 'checkpoints', 'step-00000004.safetensors'))).toBe(false);
  }, 60_000);

  it('trains 2 epochs under torchrun with 2 gloo processes, equal to 1 process to 1e-5', () => {
    const two = python(['-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2', '--redirects', '3:1', '--tee', '3:1', 'jigclu_ddp.py', '--epochs', '3', '--out', 'out', '--workers', '0']);
    expect(two.status, two.output).toBe(0);
    const one = python(['jigclu_ddp.py', '--epochs', '3', '--out', 'one', '--workers', '0']);
    expect(one.status, one.output).toBe(0);
    const metrics = (dir: string) => fs.readFileSync(path.join(jobDir, dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, number>);
    expect(metrics('out').map((m) => m.step)).toEqual([4, 5, 6, 7, 8, 9]);
    metrics('out').forEach((m, i) => {
      for (const key of ['total', 'cluster', 'location', 'lr']) expect(Math.abs(m[key]! - metrics('one')[i]![key]!), `step ${m.step} ${key}`).toBeLessThan(1e-5);
    });
    const final = (dir: string) => decodeSafetensors(fs.readFileSync(path.join(jobDir, dir, 'checkpoints', 'step-00000009.safetensors')));
    const [a, b] = [final('out'), final('one')];
    expect(a.metadata).toMatchObject({ format: 'jigclu-checkpoint-v1', kind: 'final', engine: 'torch DDP x 2' });
    expect(b.metadata.engine).toBe('torch DDP x 1');
    for (const [name, tensor] of a.tensors) {
      const other = b.tensors.get(name)!.data;
      let worst = 0;
      tensor.data.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - other[i]!))));
      expect(worst, name).toBeLessThan(1e-5);
    }
  }, 120_000);

  it('imports the output as a run that remembers its parent, step and engine, once', async () => {
    const imported = await core.handlers.jobImport({ path: path.join(jobDir, 'out') });
    expect(imported).toMatchObject({ engine: 'torch DDP x 2', metrics: 6 });
    expect(imported.run).toMatchObject({ parentRunId: parent.id, parentStep: 3, engine: 'torch DDP x 2', status: 'finished', lastStep: 9, totalSteps: 9, imageCount: 24 });
    expect(imported.run.config.epochs).toBe(3);
    const details = await core.handlers.runGet({ runId: imported.run.id, maxPoints: 100 });
    expect(details.metrics.map((m) => m.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(details.checkpoints.at(-1)).toMatchObject({ step: 9, epoch: 3, kind: 'final' });
    expect((await core.handlers.runsList({})).map((run) => run.id)).toContain(imported.run.id);
    const again = await dispatch(core.handlers, 'jobImport', { path: path.join(jobDir, 'out') });
    expect(again).toMatchObject({ ok: false, error: { code: 'CONFLICT' } });
    expect(!again.ok && again.error.message).toContain('already imported');
  }, 60_000);

  it('computes clusters from the imported run, and the app continues training it', async () => {
    const imported = (await core.handlers.runsList({})).find((run) => run.engine === 'torch DDP x 2')!;
    const embedded = await core.handlers.embeddingsCompute({ source: { kind: 'checkpoint', runId: imported.id, step: 9 } });
    expect((await core.tasks.settled(embedded.task!.id)).status).toBe('finished');
    const clustering = await core.handlers.clusterCompute({ setId: embedded.set.id, k: 3, metric: 'cosine', seed: 1 });
    expect(clustering.clusters.reduce((sum, cluster) => sum + cluster.size, 0)).toBe(24);
    await core.handlers.pretrainContinue({ runId: imported.id, epochs: 4 });
    const continued = await settledRun(imported.id);
    expect(continued.status, continued.error ?? '').toBe('finished');
    expect(continued.lastStep).toBe(12);
    expect(continued.parentRunId).toBe(parent.id);
  }, 90_000);
});

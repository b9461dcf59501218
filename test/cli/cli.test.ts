import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startCore } from '../../main/core';
import { decodeSafetensors } from '../../main/engine/weights/safetensors';
import { sharedDataset, runBuiltCli } from '../helpers/built';
import { fakeEngineReport } from '../helpers/library';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

const jigclu = runBuiltCli;

describe('jigclu CLI', () => {
  it('pretrains 2 short epochs on tiny, then runs knn on the checkpoint and the random-init baseline', () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-cli-'));
    dirs.push(dataDir);
    const tiny = sharedDataset('tiny');
    const runDir = path.join(dataDir, 'run');
    const pretrain = jigclu(['--data-dir', dataDir, 'pretrain', tiny, '--epochs', '2', '--batch', '8', '--out', runDir, '--seed', '3']);
    expect(pretrain.code, pretrain.all).toBe(0);
    expect(pretrain.stderr).toMatch(/Engine: (wasm|cpu|tfjs-node)/);
    expect(pretrain.stderr).toMatch(/Epoch 2\/2 done: loss \d/);
    expect(pretrain.stdout).toMatch(/Finished at epoch 2, step 6 on 24 images/);
    expect(pretrain.stdout).toMatch(/\n48 images seen in \d+\.\d s of training \(\d+\.\d images\/s\); the training thread used \d+\.\d s of CPU \(\d+\.\d images per CPU second after the first step\)\./);
    const checkpoint = /Checkpoint: (\S+\.safetensors)/.exec(pretrain.stdout)?.[1];
    expect(checkpoint && fs.existsSync(checkpoint)).toBe(true);

    const knn = jigclu(['knn', runDir, '--train', tiny, '--test', tiny]);
    expect(knn.code, knn.all).toBe(0);
    expect(knn.stdout).toMatch(/kNN top-1: \d+\.\d\d% \(step-00000006\.safetensors; 24 train \/ 24 test images, 3 classes, eval size 32px, k=200, t=0.1/);

    const baseline = jigclu(['knn', '--random-init', '--train', tiny, '--test', tiny]);
    expect(baseline.code, baseline.all).toBe(0);
    expect(baseline.stdout).toMatch(/kNN top-1: \d+\.\d\d% \(random-init resnet18 x0.25;/);

    // evaluate: kNN, k-means scores and the few-label probe in one command, also as JSON.
    const report = path.join(dataDir, 'quality.json');
    const evaluated = jigclu(['evaluate', runDir, '--train', tiny, '--test', tiny, '--per-class', '4', '--draws', '2', '--json', report]);
    expect(evaluated.code, evaluated.all).toBe(0);
    expect(evaluated.stdout).toMatch(/kNN top-1: \d+\.\d% \(k = 200, t = 0\.1; 24 train \/ 24 test images\)/);
    expect(evaluated.stdout).toMatch(/k-means of the test images \(k = 3\): NMI \d\.\d{4}, ARI -?\d\.\d{4}, purity \d\.\d{4}/);
    expect(evaluated.stdout).toMatch(/4-label linear probe: test \d+\.\d% ± \d+\.\d over 2 label draws/);
    const json = JSON.parse(fs.readFileSync(report, 'utf8')) as { backbone: { step: number; imagesSeen: number }; knn: number; probe: number[]; fineTune: number[]; clusters: { nmi: number } };
    expect(json.backbone).toMatchObject({ step: 6, imagesSeen: 48 });
    expect(json.probe).toHaveLength(2);
    expect(json.fineTune).toEqual([]);
    expect(json.knn).toBeGreaterThanOrEqual(0);
    expect(json.clusters.nmi).toBeGreaterThanOrEqual(0);

    // embed: one CSV row per image, 128 L2-normalised features (ResNet-18 x 0.25).
    const embeddings = path.join(dataDir, 'embeddings.csv');
    const embed = jigclu(['--data-dir', dataDir, 'embed', runDir, tiny, '--out', embeddings]);
    expect(embed.code, embed.all).toBe(0);
    expect(embed.stderr).toMatch(/24 images embedded \(128 features, 32 px, step-00000006\.safetensors/);
    const rows = fs.readFileSync(embeddings, 'utf8').trim().split('\n');
    expect(rows[0]!.split(',')).toHaveLength(129);
    expect(rows).toHaveLength(25);
    const first = rows[1]!.split(',').slice(1).map(Number);
    expect(Math.hypot(...first)).toBeCloseTo(1, 4);

    // cluster: path, cluster, distance for each image, and scores against the 3 class folders.
    const clusters = path.join(dataDir, 'clusters.csv');
    const cluster = jigclu(['--data-dir', dataDir, 'cluster', runDir, tiny, '--k', '3', '--out', clusters]);
    expect(cluster.code, cluster.all).toBe(0);
    expect(cluster.stdout).toMatch(/k-means: 24 images, k = 3, cosine, seed 0: \d+ iterations/);
    expect(cluster.stdout).toMatch(/Against the 3 class folders \(24 labelled images\): NMI \d\.\d{4}, ARI -?\d\.\d{4}, purity \d\.\d{4}\. Fewer than 30 images: a rough guide only/);
    const assigned = fs.readFileSync(clusters, 'utf8').trim().split('\n');
    expect(assigned[0]).toBe('path,cluster,distance');
    expect(assigned).toHaveLength(25);
    for (const line of assigned.slice(1)) expect(line).toMatch(/\.jpg,[012],\d/);
    // export --format torch: torchvision names in a safetensors file.
    const torchFile = path.join(dataDir, 'backbone.safetensors');
    const exported = jigclu(['export', runDir, '--format', 'torch', '--out', torchFile]);
    expect(exported.code, exported.all).toBe(0);
    expect(exported.stdout).toMatch(/torchvision resnet18 names, width x0.25/);
    const bytes = fs.readFileSync(torchFile);
    const header = JSON.parse(bytes.subarray(8, 8 + Number(bytes.readBigUInt64LE(0))).toString('utf8')) as Record<string, { shape: number[] }>;
    expect(header['conv1.weight']!.shape).toEqual([16, 3, 7, 7]);
    expect(header['layer4.1.bn2.running_var']!.shape).toEqual([128]);
    expect(Object.keys(header).some((name) => name.startsWith('fc.'))).toBe(false);
    const bad = jigclu(['--data-dir', dataDir, 'cluster', runDir, tiny, '--k', '99', '--out', clusters]);
    expect(bad.code).toBe(1);
    expect(bad.all).toMatch(/--k must be between 2 and the number of images \(24\)/);
    // --resume without folders continues on the run's own images, on the engine asked for.
    const resumed = jigclu(['--data-dir', dataDir, 'pretrain', '--resume', runDir, '--epochs', '3', '--engine', 'cpu']);
    expect(resumed.code, resumed.all).toBe(0);
    expect(resumed.stderr).toMatch(/Resuming on the run's own (folders|24 images)/);
    expect(resumed.stderr).toMatch(/Engine cpu \(1 thread\);/);
    expect(resumed.stdout).toMatch(/Finished at epoch 3, step 9 on 24 images/);
  }, 240_000);

  it('trains the same on 1 and 2 wasm threads, and refuses --threads 0', () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-cli-'));
    dirs.push(dataDir);
    const tiny = sharedDataset('tiny');
    const weights = [1, 2].map((threads) => {
      const runDir = path.join(dataDir, `run-${threads}`);
      const run = jigclu(['--data-dir', dataDir, 'pretrain', tiny, '--engine', 'wasm', '--threads', String(threads), '--epochs', '1', '--batch', '8', '--seed', '5', '--out', runDir, '--no-cache']);
      expect(run.code, run.all).toBe(0);
      expect(run.stderr).toContain(`Engine: wasm, ${threads} thread${threads === 1 ? '' : 's'}`);
      expect(run.stdout).toMatch(/Finished at epoch 1, step 3 on 24 images; last loss \d\.\d{4}\.\n\d+ images seen in [^\n]*\n3 steps in \d+\.\d s of training, \d+\.\d images\/s \(\d+\.\d s of it waiting for a batch after the first; \d+\.\d\d cores busy on average\)\./);
      return decodeSafetensors(fs.readFileSync(/Checkpoint: (\S+\.safetensors)/.exec(run.stdout)![1]!)).tensors;
    });
    let worst = 0;
    for (const [name, tensor] of weights[0]!) {
      const other = weights[1]!.get(name)!.data;
      tensor.data.forEach((value, i) => (worst = Math.max(worst, Math.abs(value - other[i]!))));
    }
    expect(weights[0]!.size).toBeGreaterThan(100);
    expect(worst).toBeLessThan(1e-5);
    const bad = jigclu(['--data-dir', dataDir, 'pretrain', tiny, '--threads', '0']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--threads must be 'auto' or a whole number of at least 1/);
  }, 120_000);

  it('refuses an invalid setting with a message naming the field', () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-cli-'));
    dirs.push(dataDir);
    const result = jigclu(['--data-dir', dataDir, 'pretrain', sharedDataset('tiny'), '--batch', '64']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/invalid setting batch: a batch of 64 needs at least 64 images, but only 24/);
    const crop = jigclu(['--data-dir', dataDir, 'pretrain', sharedDataset('tiny'), '--crop', '16']);
    expect(crop.code).toBe(1);
    expect(crop.stderr).toMatch(/invalid setting crop:/);
  }, 60_000);

  it('stops a run at a CPU-time budget of the training thread, with a checkpoint', () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-cli-'));
    dirs.push(dataDir);
    const runDir = path.join(dataDir, 'run');
    const result = jigclu(['--data-dir', dataDir, 'pretrain', sharedDataset('tiny'), '--epochs', '100', '--batch', '8', '--cpu-time-limit', '0.05', '--out', runDir]);
    expect(result.code, result.all).toBe(0);
    const stopped = /Stopped at epoch \d+, step (\d+) on 24 images/.exec(result.stdout);
    expect(stopped, result.stdout).not.toBeNull();
    expect(Number(stopped![1])).toBeLessThan(300);
    const cpu = Number(/the training thread used (\d+\.\d) s of CPU/.exec(result.stdout)?.[1]);
    // The budget (3 s) plus at most the step that was running when it ran out.
    expect(cpu).toBeGreaterThanOrEqual(3);
    expect(cpu).toBeLessThan(30);
    expect(fs.readdirSync(path.join(runDir, 'checkpoints')).some((name) => name.endsWith('.safetensors'))).toBe(true);
    // Trained through the core like every pretrain: the app lists the run, stopped at the budget, with its curve.
    const core = startCore({ dataDir, mode: 'browser', probeEngines: async () => fakeEngineReport, library: { autoThumbnails: false } });
    try {
      const runs = core.services.runs.list();
      expect(runs).toHaveLength(1);
      expect(runs[0]).toMatchObject({ status: 'interrupted', runDir, lastStep: Number(stopped![1]) });
      expect(runs[0]!.error).toMatch(/--cpu-time-limit of 0\.05 minutes/);
      expect(core.services.runs.get(runs[0]!.id).metrics).toHaveLength(Number(stopped![1]));
    } finally {
      core.close();
    }
  }, 120_000);
});

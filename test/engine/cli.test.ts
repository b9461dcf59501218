import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { builtEntry, sharedDataset } from './built';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function jigclu(args: string[]) {
  const result = spawnSync(process.execPath, [builtEntry('cli'), ...args], { encoding: 'utf8', timeout: 180_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr, all: result.stdout + result.stderr };
}

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
    const checkpoint = /Checkpoint: (\S+\.safetensors)/.exec(pretrain.stdout)?.[1];
    expect(checkpoint && fs.existsSync(checkpoint)).toBe(true);

    const knn = jigclu(['knn', runDir, '--train', tiny, '--test', tiny]);
    expect(knn.code, knn.all).toBe(0);
    expect(knn.stdout).toMatch(/kNN top-1: \d+\.\d\d% \(step-00000006\.safetensors; 24 train \/ 24 test images, 3 classes, eval size 32px, k=200, t=0.1/);

    const baseline = jigclu(['knn', '--random-init', '--train', tiny, '--test', tiny]);
    expect(baseline.code, baseline.all).toBe(0);
    expect(baseline.stdout).toMatch(/kNN top-1: \d+\.\d\d% \(random-init resnet18 x0.25;/);
  }, 240_000);

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
});

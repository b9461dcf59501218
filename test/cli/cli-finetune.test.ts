import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolvePretrainConfig } from '../../main/common/pretrain-config';
import { JigCluTrainer } from '../../main/engine/jigclu/trainer';
import { builtEntry, sharedDataset } from '../helpers/built';
import { useCpuBackend } from '../helpers/engine';

/**
 * `jigclu finetune` and `jigclu predict`, run as the user runs them (the built CLI, in a child
 * process, on a temporary data folder): few labels per class from ../shared/datasets/tiny on a
 * small checkpoint, both modes, saved; then the saved fine-tune classifier predicts the folder
 * into a CSV with one row per image.
 */

let cli = '';
let dir = '';
beforeAll(async () => {
  await useCpuBackend();
  // The built app (npm run build): the command runs its jobs in the trainer process beside it.
  cli = builtEntry('cli');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-cli-finetune-'));
}, 180_000);
afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function jigclu(args: string[]) {
  const result = spawnSync(process.execPath, [cli, '--data-dir', path.join(dir, 'data'), ...args], { encoding: 'utf8', timeout: 300_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr, all: result.stdout + result.stderr };
}

/** RFC 4180 rows (no line breaks inside fields here, but quoted commas and quotes). */
function parseCsv(text: string): string[][] {
  return text
    .split('\r\n')
    .filter((line) => line !== '')
    .map((line) => {
      const fields: string[] = [];
      let field = '';
      let quoted = false;
      for (let i = 0; i < line.length; i += 1) {
        const ch = line[i]!;
        if (quoted) {
          if (ch === '"' && line[i + 1] === '"') {
            field += '"';
            i += 1;
          } else if (ch === '"') quoted = false;
          else field += ch;
        } else if (ch === '"') quoted = true;
        else if (ch === ',') {
          fields.push(field);
          field = '';
        } else field += ch;
      }
      fields.push(field);
      return fields;
    });
}

describe('jigclu finetune / predict', () => {
  it('fine-tunes from 3 labels per class on a checkpoint, saves both classifiers, and predicts a folder into CSV', async () => {
    const tiny = sharedDataset('tiny');
    // A small untrained checkpoint in a run folder, as `jigclu pretrain` lays it out.
    const runDir = path.join(dir, 'run');
    fs.mkdirSync(path.join(runDir, 'checkpoints'), { recursive: true });
    const trainer = new JigCluTrainer(resolvePretrainConfig('cpu-small', { width: 0.125 }), 'fast');
    fs.writeFileSync(path.join(runDir, 'checkpoints', 'step-00000000.safetensors'), await trainer.serialize());
    trainer.dispose();

    const out = path.join(dir, 'classifier');
    const finetune = jigclu(['finetune', runDir, '--train', tiny, '--test', tiny, '--per-class', '3', '--epochs', '2', '--seed', '1', '--out', out]);
    expect(finetune.code, finetune.all).toBe(0);
    expect(finetune.stdout).toMatch(/^few-label linear probe: val \d+\.\d% test \d+\.\d% \(3 labels\/class, 3 classes, pretrained\)$/m);
    expect(finetune.stdout).toMatch(/^few-label fine-tune: val \d+\.\d% test \d+\.\d% \(3 labels\/class, 3 classes, pretrained\)$/m);
    expect(finetune.stderr).toMatch(/9 labelled images \(3 classes\), 24 test images; 32 px/);
    for (const mode of ['linear-probe', 'fine-tune']) {
      for (const name of ['model.json', 'weights.bin', 'labels.json']) expect(fs.existsSync(path.join(out, mode, name)), `${mode}/${name}`).toBe(true);
    }

    const baseline = jigclu(['finetune', '--random-init', '--train', tiny, '--per-class', '2', '--mode', 'linear-probe', '--epochs', '5']);
    expect(baseline.code, baseline.all).toBe(0);
    expect(baseline.stdout).toMatch(/^few-label linear probe: val (\d+\.\d%|n\/a) \(2 labels\/class, 3 classes, random-init\)$/m);

    const csv = path.join(dir, 'predictions', 'out.csv');
    const predict = jigclu(['predict', path.join(out, 'fine-tune'), tiny, '--csv', csv, '--batch', '7']);
    expect(predict.code, predict.all).toBe(0);
    expect(predict.stdout).toMatch(/Predicted 24 images with /);
    const counts = [...predict.stdout.matchAll(/^ {2}(airplane|frog|truck) +(\d+)$/gm)];
    expect(counts.map((m) => m[1])).toEqual(['airplane', 'frog', 'truck']);
    expect(counts.reduce((sum, m) => sum + Number(m[2]), 0)).toBe(24);
    const rows = parseCsv(fs.readFileSync(csv, 'utf8'));
    expect(rows[0]).toEqual(['path', 'predicted', 'confidence', 'airplane', 'frog', 'truck']);
    expect(rows).toHaveLength(25);
    const paths = new Set<string>();
    for (const row of rows.slice(1)) {
      expect(row).toHaveLength(6);
      paths.add(row[0]!);
      expect(fs.existsSync(row[0]!)).toBe(true);
      expect(['airplane', 'frog', 'truck']).toContain(row[1]);
      const confidence = Number(row[2]);
      const probabilities = row.slice(3).map(Number);
      expect(confidence).toBeGreaterThanOrEqual(0);
      expect(confidence).toBeLessThanOrEqual(1);
      expect(probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
      expect(Math.max(...probabilities)).toBeCloseTo(confidence, 5);
      expect(probabilities[['airplane', 'frog', 'truck'].indexOf(row[1]!)]).toBeCloseTo(confidence, 5);
    }
    expect(paths.size).toBe(24);
    // Nothing was written into the image folder.
    expect(fs.readdirSync(tiny).sort()).toEqual(['SOURCE.txt', 'airplane', 'frog', 'truck']);

    const broken = jigclu(['predict', path.join(dir, 'run'), tiny, '--csv', csv]);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(/labels\.json is missing/);
  }, 600_000);
});

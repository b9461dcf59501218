import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { resolvePretrainConfig } from '../../main/common/pretrain-config';
import { startCore, type Core } from '../../main/core';
import { writeRunImages } from '../../main/data/run-images';
import { fakeEngineReport } from '../helpers/library';

/**
 * RunsService.holderOf: the run a checkpoint given to the command line belongs to (embed, cluster
 * and finetune store their results under it). A checkpoint a run holds is found; one in the
 * folder of a recorded run joins that run; a run folder trained before runs were recorded is
 * adopted; any other file becomes a run of its own that names it where it is.
 */

const config = resolvePretrainConfig('cpu-small', { width: 0.0625 });
const dirs: string[] = [];
const cores: Core[] = [];
afterEach(() => {
  for (const core of cores.splice(0)) core.close();
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function open(): { core: Core; work: string } {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-holder-'));
  dirs.push(work);
  const core = startCore({ dataDir: path.join(work, 'data'), mode: 'browser', probeEngines: async () => fakeEngineReport, library: { autoThumbnails: false } });
  cores.push(core);
  return { core, work };
}

describe('RunsService.holderOf', () => {
  it('records a loose checkpoint as a run of its own, once, leaving the file where it is', () => {
    const { core, work } = open();
    const file = path.join(work, 'elsewhere', 'model.safetensors');
    const first = core.services.runs.holderOf(file, { config, step: 12, epoch: 2 });
    expect(first.step).toBe(12);
    expect(first.run).toMatchObject({ name: 'model.safetensors (given to the command line)', status: 'finished', imageCount: 0 });
    expect(path.dirname(first.run.runDir)).toBe(path.join(work, 'data', 'runs'));
    expect(core.services.runs.get(first.run.id).checkpoints).toMatchObject([{ file, step: 12, epoch: 2 }]);
    const again = core.services.runs.holderOf(file, { config, step: 12, epoch: 2 });
    expect(again.run.id).toBe(first.run.id);
    expect(core.services.runs.list()).toHaveLength(1);
  });

  it('adopts a run folder trained before runs were recorded, and adds its other checkpoints to that run', () => {
    const { core, work } = open();
    const runDir = path.join(work, 'old-run');
    const image = { path: path.join(work, 'images', 'a.jpg'), size: 10, mtimeMs: 1 };
    writeRunImages(runDir, { folders: [path.join(work, 'images')], files: [image] });
    const file = path.join(runDir, 'checkpoints', 'step-00000004.safetensors');
    const adopted = core.services.runs.holderOf(file, { config, step: 4, epoch: 1 });
    expect(adopted.run).toMatchObject({ runDir, status: 'interrupted', imageCount: 1 });
    const later = core.services.runs.holderOf(path.join(runDir, 'checkpoints', 'step-00000008.safetensors'), { config, step: 8, epoch: 2 });
    expect(later).toMatchObject({ run: { id: adopted.run.id }, step: 8 });
    expect(core.services.runs.get(adopted.run.id).checkpoints.map((checkpoint) => checkpoint.step)).toEqual([4, 8]);
    expect(core.services.runs.list()).toHaveLength(1);
  });

  it('records one run per architecture for a random-init baseline without a checkpoint', () => {
    const { core } = open();
    const run = core.services.runs.architectureRun(config);
    expect(run.name).toBe('Random init (cpu-small, resnet18 x0.0625, seed 0)');
    expect(core.services.runs.architectureRun(config).id).toBe(run.id);
    expect(core.services.runs.architectureRun({ ...config, seed: 9 }).id).not.toBe(run.id);
  });
});

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readRunImages } from '../../main/data/run-images';
import { sharedDataset, runBuiltCli } from '../helpers/built';

/**
 * The README's `jigclu pretrain --resume <run>` with no folders (issue 17): it continues on the
 * run's own images (it used to train on the bundled sample set), and refuses in one sentence
 * when they changed.
 */

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

const jigclu = runBuiltCli;

describe('jigclu pretrain --resume', () => {
  it("continues on the run's own images without folders, and refuses changed ones", () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-cli-resume-'));
    dirs.push(work);
    const photos = path.join(work, 'photos');
    fs.cpSync(sharedDataset('tiny'), photos, { recursive: true });
    const runDir = path.join(work, 'run');
    // The data folder beside the photos: the library never imports a folder inside its data folder.
    const data = path.join(work, 'data');
    const first = jigclu(['--data-dir', data, 'pretrain', photos, '--epochs', '1', '--batch', '8', '--out', runDir, '--seed', '3']);
    expect(first.code, first.all).toBe(0);
    expect(first.stdout).toMatch(/Finished at epoch 1, step 3 on 24 images/);
    expect(readRunImages(runDir)).toMatchObject({ folders: [photos] });

    const resumed = jigclu(['--data-dir', data, 'pretrain', '--resume', runDir, '--epochs', '2']);
    expect(resumed.code, resumed.all).toBe(0);
    expect(resumed.stderr).toContain(`Resuming on the run's own folders: ${photos}`);
    expect(resumed.stderr).not.toMatch(/bundled sample set/);
    expect(resumed.stderr).toMatch(/Resuming from step-00000003\.safetensors at epoch 2, step 3/);
    expect(resumed.stdout).toMatch(/Finished at epoch 2, step 6 on 24 images/);

    fs.copyFileSync(path.join(photos, 'frog', fs.readdirSync(path.join(photos, 'frog')).sort()[0]!), path.join(photos, 'frog', 'zz-new.png'));
    const refused = jigclu(['--data-dir', data, 'pretrain', '--resume', runDir, '--epochs', '3']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/jigclu: The images of this run changed since it trained: 1 added \(zz-new\.png\)\..*--allow-changed-images/);
    expect(fs.readdirSync(path.join(runDir, 'checkpoints')).filter((name) => name.endsWith('.safetensors')).sort().at(-1)).toBe('step-00000006.safetensors');
  }, 120_000);
});

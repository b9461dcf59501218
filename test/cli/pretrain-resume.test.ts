import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { listFolders, planResume } from '../../main/cli/pretrain-resume';
import { readRunImages, writeRunImages } from '../../main/data/run-images';
import { checkpointPath, writeCheckpoint } from '../../main/engine/weights/checkpoints';
import { encodeSafetensors } from '../../main/engine/weights/safetensors';
import { dataset } from '../helpers/library';

/**
 * `jigclu pretrain --resume <run>` (issue 17): a run remembers its folders and files; resuming
 * without folders trains on them (never on the bundled sample set); images that changed since
 * are listed and refused unless --allow-changed-images; a damaged newest checkpoint is skipped.
 * The planning runs here in-process; test/cli/cli-resume.test.ts runs the command.
 */

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-resume-'));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const checkpoint = (step: number): Buffer => encodeSafetensors([{ name: 'w', shape: [4], data: new Float32Array(4).fill(step) }], { format: 'jigclu-checkpoint-v1' });

/** A run folder trained on a copy of tiny: its image list and two checkpoints. */
async function trainedRun(): Promise<{ runDir: string; photos: string; warnings: string[]; warn: (line: string) => void }> {
  const work = tempDir();
  const photos = path.join(work, 'photos');
  fs.cpSync(dataset('tiny'), photos, { recursive: true });
  const runDir = path.join(work, 'run');
  writeRunImages(runDir, { folders: [photos], files: await listFolders([photos], (folder) => `${folder} missing`) });
  writeCheckpoint(runDir, 3, checkpoint(3), 3);
  writeCheckpoint(runDir, 6, checkpoint(6), 3);
  const warnings: string[] = [];
  return { runDir, photos, warnings, warn: (line) => warnings.push(line) };
}

describe('planning a resume', () => {
  it("without folders uses the run's own folders and files, from its newest checkpoint", async () => {
    const { runDir, photos, warnings, warn } = await trainedRun();
    const plan = await planResume(runDir, [], false, warn);
    expect(plan.resumeFrom).toBe(checkpointPath(runDir, 6));
    expect(plan.folders).toEqual([photos]);
    expect(plan.files.map((file) => file.path)).toEqual(readRunImages(runDir)!.files.map((file) => file.path));
    expect(plan.files.every((file) => file.path.startsWith(photos))).toBe(true);
    expect(warnings.join('\n')).toContain(`Resuming on the run's own folders: ${photos}`);
  });

  it('says what changed and refuses, unless --allow-changed-images', async () => {
    const { runDir, photos, warn } = await trainedRun();
    const classFolder = path.join(photos, fs.readdirSync(photos).find((name) => fs.statSync(path.join(photos, name)).isDirectory())!);
    const [first, second] = fs.readdirSync(classFolder).sort();
    fs.copyFileSync(path.join(classFolder, first!), path.join(classFolder, 'added-later.png'));
    fs.rmSync(path.join(classFolder, second!));
    await expect(planResume(runDir, [], false, warn)).rejects.toThrow(
      new RegExp(`changed since it trained: 1 added \\(added-later\\.png\\), 1 removed \\(${second!.replace('.', '\\.')}\\).*--allow-changed-images`),
    );
    const allowed = await planResume(runDir, [], true, warn);
    expect(allowed.files.some((file) => file.path.endsWith('added-later.png'))).toBe(true);
    expect(allowed.files.some((file) => file.path.endsWith(second!))).toBe(false);
  });

  it('notices a file changed in place (same name, other size)', async () => {
    const { runDir, photos, warn } = await trainedRun();
    const classFolder = path.join(photos, fs.readdirSync(photos).find((name) => fs.statSync(path.join(photos, name)).isDirectory())!);
    const victim = path.join(classFolder, fs.readdirSync(classFolder).sort()[0]!);
    fs.appendFileSync(victim, Buffer.alloc(10));
    await expect(planResume(runDir, [], false, warn)).rejects.toThrow(/1 changed \(/);
  });

  it('with other folders than the run had, refuses them as changed images', async () => {
    const { runDir, warn } = await trainedRun();
    await expect(planResume(runDir, [dataset('tiny')], false, warn)).rejects.toThrow(/24 added .*24 removed/);
  });

  it('skips a damaged newest checkpoint with a message and resumes from the one before', async () => {
    const { runDir, warnings, warn } = await trainedRun();
    fs.truncateSync(checkpointPath(runDir, 6), 20);
    const plan = await planResume(runDir, [], false, warn);
    expect(plan.resumeFrom).toBe(checkpointPath(runDir, 3));
    expect(warnings.join('\n')).toMatch(/Skipped the damaged checkpoint step-00000006\.safetensors \(.*\); resuming from step-00000003\.safetensors instead\./);
  });

  it('asks for the folders of a run that does not record its images', async () => {
    const { runDir, warn } = await trainedRun();
    fs.rmSync(path.join(runDir, 'files.json'));
    await expect(planResume(runDir, [], false, warn)).rejects.toThrow(/does not record which images it trained on.*jigclu pretrain <folders\.\.\.> --resume/);
  });

  it("resumes an app run (a file list with library ids, no folders) on the run's files", async () => {
    const { runDir, photos, warn } = await trainedRun();
    const files = (await listFolders([photos], () => 'missing')).map((file, index) => ({ ...file, id: index + 1 }));
    writeRunImages(runDir, { files });
    const plan = await planResume(runDir, [], false, warn);
    expect(plan.files).toHaveLength(files.length);
    fs.rmSync(files[0]!.path);
    await expect(planResume(runDir, [], false, warn)).rejects.toThrow(/1 removed/);
  });
});

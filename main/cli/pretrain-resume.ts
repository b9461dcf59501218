import fs from 'node:fs';
import path from 'node:path';
import { listImageFiles } from '../data/files';
import { compareRunImages, describeImageChanges, readRunImages, unchanged, type RunImage } from '../data/run-images';
import { checkpointProblem, newestUsableCheckpoint, skippedMessage } from '../engine/weights/checkpoints';

/** What `jigclu pretrain --resume` continues: the run folder, the checkpoint, and the images. */
export interface ResumePlan {
  runDir: string;
  resumeFrom: string;
  /** The folders to remember for the run (given now, or remembered), absolute. */
  folders?: string[];
  files: RunImage[];
}

/** Lists the image files under some folders, with sizes and times; a folder that is gone is an error naming it. */
export async function listFolders(folders: string[], gone: (folder: string) => string): Promise<RunImage[]> {
  const files: RunImage[] = [];
  for (const folder of folders) {
    if (!fs.existsSync(folder) || !fs.statSync(folder).isDirectory()) throw new Error(gone(folder));
    files.push(...(await listImageFiles(folder)).map((item) => ({ path: item.file, size: item.size, mtimeMs: item.mtimeMs })));
  }
  return files;
}

/** The images a run's list names, as they are on disk now (missing ones left out). */
function statListed(files: RunImage[]): RunImage[] {
  const now: RunImage[] = [];
  for (const file of files) {
    try {
      const stat = fs.statSync(file.path);
      now.push({ ...file, size: stat.size, mtimeMs: stat.mtimeMs });
    } catch {
      // Gone: compareRunImages reports it as removed.
    }
  }
  return now;
}

/**
 * Plans `--resume <run-or-checkpoint> [folders]`: the newest whole checkpoint (a damaged newer
 * one is skipped and set aside, with a message), and the images: the folders given, else the
 * folders (or file list) the run remembers. When the images differ from the run's list it says
 * what changed and refuses, unless `allowChanged`.
 */
export async function planResume(resumeArg: string, folders: string[], allowChanged: boolean, warn: (line: string) => void): Promise<ResumePlan> {
  const target = path.resolve(resumeArg);
  if (!fs.existsSync(target)) throw new Error(`${resumeArg} does not exist: give a run folder or one of its checkpoints (.safetensors).`);
  let runDir: string;
  let resumeFrom: string;
  if (fs.statSync(target).isDirectory()) {
    runDir = target;
    const { file, skipped } = newestUsableCheckpoint(runDir, { setAside: true });
    for (const entry of skipped) warn(`warning: ${skippedMessage(entry, file)}`);
    if (!file) throw new Error(`${resumeArg} has no checkpoint to resume from${skipped.length ? ' that is whole' : ''}.`);
    resumeFrom = file;
  } else {
    const problem = checkpointProblem(target);
    if (problem) throw new Error(`${resumeArg} cannot be resumed from: ${problem}. Give the run folder to resume from its newest whole checkpoint.`);
    runDir = path.dirname(path.dirname(target));
    resumeFrom = target;
  }

  const remembered = readRunImages(runDir);
  const given = folders.map((folder) => path.resolve(folder));
  let current: RunImage[];
  let remember: string[] | undefined;
  if (given.length > 0) {
    current = await listFolders(given, (folder) => `${folder} is not a folder of images.`);
    remember = given;
  } else if (remembered?.folders?.length) {
    remember = remembered.folders;
    warn(`Resuming on the run's own folders: ${remember.join(', ')}`);
    current = await listFolders(remember, (folder) => `The run's folder ${folder} no longer exists: give the folders to train on after --resume's run, with --allow-changed-images.`);
  } else if (remembered) {
    warn(`Resuming on the run's own ${remembered.files.length} images.`);
    current = statListed(remembered.files);
  } else {
    throw new Error(
      `${runDir} does not record which images it trained on (it was started before runs kept that list): ` +
        `give its folders, as in: jigclu pretrain <folders...> --resume ${resumeArg}`,
    );
  }

  if (remembered) {
    const changes = compareRunImages(remembered.files, current);
    if (!unchanged(changes)) {
      const what = describeImageChanges(changes);
      if (!allowChanged) {
        throw new Error(
          `The images of this run changed since it trained: ${what}. A resumed run draws its batches from the same image list as before, ` +
            'so it would not continue the same training. Add --allow-changed-images to resume on the images as they are now, or start a new run.',
        );
      }
      warn(`warning: resuming on changed images (${what}), as --allow-changed-images asks.`);
    }
  }
  return { runDir, resumeFrom, folders: remember, files: current };
}

import fs from 'node:fs';
import path from 'node:path';
import { removeStaleTemporaries, writeFileAtomic, type AtomicFileIo } from '../../data/atomic-file';
import { readSafetensorsHeader, safetensorsProblem } from './safetensors';

/**
 * The checkpoint files of a run folder (<run>/checkpoints/step-<8 digits>.safetensors): written
 * whole or not at all, checked before an older one is removed, and a damaged one (cut off by a
 * full disk or a crash) set aside so that resuming uses the newest good one.
 */

const checkpointName = /^step-\d+\.safetensors$/;

/** The folder of a run's checkpoints. */
export function checkpointsDir(runDir: string): string {
  return path.join(runDir, 'checkpoints');
}

/** The file of the checkpoint at `globalStep`. */
export function checkpointPath(runDir: string, globalStep: number): string {
  return path.join(checkpointsDir(runDir), `step-${String(globalStep).padStart(8, '0')}.safetensors`);
}

/** Checkpoint files of a run folder, oldest first (by global step in the name). */
export function listCheckpoints(runDir: string): string[] {
  const dir = checkpointsDir(runDir);
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((name) => checkpointName.test(name))
    .sort()
    .map((name) => path.join(dir, name));
}

/** The newest checkpoint file of a run folder, if any (damaged or not; see `newestUsableCheckpoint`). */
export function latestCheckpoint(runDir: string): string | undefined {
  return listCheckpoints(runDir).at(-1);
}

/** The whole checkpoints of a run folder with the step and epoch each was written at, oldest first. */
export function wholeCheckpoints(runDir: string): { file: string; step: number; epoch: number }[] {
  return listCheckpoints(runDir)
    .filter((file) => !checkpointProblem(file))
    .map((file) => {
      const position = JSON.parse(readSafetensorsHeader(file).metadata.position ?? '{}') as { epoch: number; globalStep: number };
      return { file, step: position.globalStep, epoch: position.epoch };
    });
}

/** Why a checkpoint file cannot be resumed from (cut off, not safetensors), or undefined. */
export function checkpointProblem(file: string): string | undefined {
  return safetensorsProblem(file);
}

/** A checkpoint passed over because it is damaged, and why. */
export interface SkippedCheckpoint {
  file: string;
  reason: string;
  /** Where it was moved (<name>.damaged), so that it never counts as a checkpoint again. */
  setAsideTo?: string;
}

/**
 * The newest checkpoint of a run that is whole, newest first; damaged newer ones are reported
 * in `skipped` and, with `setAside`, renamed to <name>.damaged beside it.
 */
export function newestUsableCheckpoint(runDir: string, options: { setAside?: boolean } = {}): { file?: string; skipped: SkippedCheckpoint[] } {
  const skipped: SkippedCheckpoint[] = [];
  for (const file of listCheckpoints(runDir).reverse()) {
    const reason = checkpointProblem(file);
    if (!reason) return { file, skipped };
    const entry: SkippedCheckpoint = { file, reason };
    if (options.setAside) {
      try {
        fs.renameSync(file, `${file}.damaged`);
        entry.setAsideTo = `${file}.damaged`;
      } catch {
        // A read-only folder: it is skipped all the same.
      }
    }
    skipped.push(entry);
  }
  return { skipped };
}

/** The sentence that says a damaged checkpoint was skipped. */
export function skippedMessage(skipped: SkippedCheckpoint, usedInstead?: string): string {
  return (
    `Skipped the damaged checkpoint ${path.basename(skipped.file)} (${skipped.reason})` +
    (usedInstead ? `; resuming from ${path.basename(usedInstead)} instead.` : '.') +
    (skipped.setAsideTo ? ` It was renamed ${path.basename(skipped.setAsideTo)}.` : '')
  );
}

/** A checkpoint that could not be written; the previous ones are all still there. */
export class CheckpointWriteError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CheckpointWriteError';
  }
}

/**
 * Writes one checkpoint atomically, checks the file on disk, and only then removes the oldest
 * so that `keep` remain. A failure (a full disk) leaves every older checkpoint in place and no
 * partial file, and says which checkpoint is still the newest.
 */
export function writeCheckpoint(runDir: string, globalStep: number, data: Buffer, keep: number, io?: AtomicFileIo): string {
  const file = checkpointPath(runDir, globalStep);
  const previous = listCheckpoints(runDir).filter((known) => known !== file).at(-1);
  try {
    writeFileAtomic(file, data, io);
    const problem = checkpointProblem(file);
    if (problem) {
      fs.rmSync(file, { force: true });
      throw Object.assign(new Error(`the file written does not read back whole: ${problem}`), { code: 'EIO' });
    }
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const full = code === 'ENOSPC' || code === 'EDQUOT';
    throw new CheckpointWriteError(
      `Could not write the checkpoint at step ${globalStep} in ${checkpointsDir(runDir)}: ` +
        (full ? 'the disk is full' : (cause as Error).message) +
        `. ${previous ? `The previous checkpoint, ${path.basename(previous)}, is kept` : 'No earlier checkpoint exists'}; ` +
        (full ? 'free some space, then resume.' : 'resume from it once the problem is fixed.'),
      code,
      { cause },
    );
  }
  const all = listCheckpoints(runDir);
  for (const old of all.slice(0, Math.max(0, all.length - keep))) if (old !== file) fs.rmSync(old, { force: true });
  return file;
}

/** Removes what an earlier process killed mid-write left in a run's checkpoint folder. */
export function removePartialCheckpoints(runDir: string): string[] {
  return removeStaleTemporaries(checkpointsDir(runDir));
}

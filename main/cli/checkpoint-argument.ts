import fs from 'node:fs';
import path from 'node:path';
import { checkpointProblem, newestUsableCheckpoint, skippedMessage } from '../engine/weights/checkpoints';

/**
 * The checkpoint a command's argument names: a .safetensors file, or a run folder's newest
 * checkpoint that is whole (a damaged newer one is skipped with a message on stderr). A damaged
 * file named directly is refused, saying why.
 */
export function resolveCheckpointArgument(argument: string, warn: (line: string) => void = (line) => console.error(line)): string {
  const resolved = path.resolve(argument);
  if (!fs.existsSync(resolved)) throw new Error(`${argument} does not exist: give a run folder or a checkpoint (.safetensors).`);
  if (fs.statSync(resolved).isDirectory()) {
    const { file, skipped } = newestUsableCheckpoint(resolved);
    for (const entry of skipped) warn(`warning: ${skippedMessage(entry, file)}`);
    if (!file) {
      throw new Error(
        skipped.length
          ? `${argument} has no usable checkpoint: every one is damaged (${skipped.map((entry) => `${path.basename(entry.file)}: ${entry.reason}`).join('; ')}).`
          : `${argument} has no checkpoint (checkpoints/step-*.safetensors).`,
      );
    }
    return file;
  }
  const problem = checkpointProblem(resolved);
  if (problem) throw new Error(`${argument} is not a usable checkpoint: ${problem}.`);
  return resolved;
}

import path from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import {
  generateSampleSet,
  sampleClasses,
  sampleImageSize,
  sampleImagesPerClass,
  sampleSeed,
} from '../data/sample-set';

function parseSeed(value: string): number {
  const seed = Number(value);
  if (!Number.isSafeInteger(seed) || seed < 0)
    throw new InvalidArgumentError('the seed is a whole number, 0 or more.');
  return seed;
}

/**
 * `jigclu sample-set [folder] [--seed N]`: writes the generated sample image set (the one bundled
 * in resources/sample is seed 7) into a folder, one subfolder per class. For the CLI's owner to
 * add with `registerSampleCommand(program)`.
 */
export function registerSampleCommand(program: Command, log: (line: string) => void = console.log): Command {
  return program
    .command('sample-set')
    .description(
      `write the generated sample image set (${sampleClasses.length} classes x ${sampleImagesPerClass} images, ${sampleImageSize} px PNG) into a folder`,
    )
    .argument('[folder]', 'where to write it', 'jigclu-sample')
    .option('--seed <n>', 'random seed (the bundled set is seed 7)', parseSeed, sampleSeed)
    .action(async (folder: string, options: { seed: number }) => {
      const outDir = path.resolve(folder);
      const files = await generateSampleSet(outDir, options.seed);
      log(`Wrote ${files.length} images (${sampleClasses.join(', ')}) to ${outDir}, seed ${options.seed}.`);
    });
}

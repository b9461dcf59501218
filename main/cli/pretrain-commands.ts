import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { evalSizeFor, presetNames, resolvePretrainConfig, stepsPerEpochFor, type PresetName, type PretrainOverrides } from '../common/pretrain-config';
import type { RunInfo } from '../common/runs';
import { startCore } from '../core';
import { defaultConvGradMode, type ConvGradMode } from '../engine/nn/conv';
import { knnEvaluate, loadBackbone, loadLabelledSet } from '../engine/jigclu/evaluate';
import { exportBackbone } from '../engine/weights/export';
import { exportTorchBackbone } from '../engine/weights/torch-export';
import { JigCluTrainer } from '../engine/jigclu/trainer';
import * as tf from '../engine/backend/tfjs';
import { resolveCheckpointArgument } from './checkpoint-argument';
import { threadCpuSeconds } from './cpu-time';
import { addEngineOptions, chooseEngine, engineSummary, type EngineFlags } from './engine-choice';
import { planResume } from './pretrain-resume';
import { describeEndedRun, followRun, libraryFoldersOf, resumeTarget } from './pretrain-run';

/** The bundled sample set (resources/sample), beside the built code or the source tree. */
export function bundledSampleDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.join(here, '..', '..', 'resources', 'sample'), path.join(here, '..', 'resources', 'sample')];
  // Inside the packaged Electron app, resources/ is copied next to the asar.
  const resourcesPath = (process as { resourcesPath?: string }).resourcesPath;
  if (resourcesPath) candidates.unshift(path.join(resourcesPath, 'sample'));
  return candidates.find((dir) => fs.existsSync(dir)) ?? candidates.at(-1)!;
}

function number(name: string, integer = false) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!Number.isFinite(parsed) || (integer && !Number.isInteger(parsed))) {
      throw new InvalidArgumentError(`${name} must be ${integer ? 'a whole number' : 'a number'}.`);
    }
    return parsed;
  };
}

/** The options of `jigclu pretrain`. */
export interface PretrainOptions extends EngineFlags {
  preset: PresetName;
  epochs?: number;
  batch?: number;
  crop?: number;
  cross?: number;
  grid?: number;
  temperature?: number;
  lr?: number;
  seed?: number;
  convGrad?: 'auto' | 'fast' | 'native';
  out?: string;
  resume?: string;
  allowChangedImages?: boolean;
  checkpointEvery?: number;
  timeLimit?: number;
  cpuTimeLimit?: number;
  cache: boolean;
}

/** The settings the options override (the rest come from the preset). */
export function pretrainOverrides(options: PretrainOptions): PretrainOverrides {
  return {
    epochs: options.epochs,
    batch: options.batch,
    crop: options.crop,
    grid: options.grid as 2 | 3 | undefined,
    cross: options.cross,
    temperature: options.temperature,
    lr: options.lr,
    seed: options.seed,
    engine: options.engine,
    convGrad: options.convGrad,
    checkpointEvery: options.checkpointEvery,
  };
}

/** Registers `pretrain` and `knn` on the program. */
export function registerPretrainCommands(program: Command): void {
  const pretrainCommand = program
    .command('pretrain')
    .description('pretrain a backbone with Jigsaw Clustering on image folders (the bundled sample set when none is given)')
    .argument('[folders...]', 'folders of images (searched recursively)')
    .addOption(new Option('--preset <name>', 'settings preset').choices(presetNames).default('cpu-small'))
    .option('--epochs <n>', 'epochs', number('--epochs', true))
    .option('--batch <n>', 'images per batch', number('--batch', true))
    .option('--crop <px>', 'patch size s (montages are grid * s)', number('--crop', true))
    .option('--grid <m>', 'patches per side (2 or 3)', number('--grid', true))
    .option('--cross <ratio>', 'patch overlap (cross ratio)', number('--cross'))
    .option('--temperature <t>', 'cluster loss temperature', number('--temperature'))
    .option('--lr <lr>', 'learning rate of the first epoch, used as given at any batch size (cosine per epoch; default 0.03 as the reference)', number('--lr'))
    .option('--seed <n>', 'random seed', number('--seed', true))
    .option('--checkpoint-every <steps>', 'write a checkpoint every N steps', number('--checkpoint-every', true))
    .option('--time-limit <minutes>', 'stop (with a checkpoint) after this many minutes of training', number('--time-limit'))
    .option('--cpu-time-limit <minutes>', "stop (with a checkpoint) once the trainer process's training thread has used this many minutes of CPU time (a budget that holds on a machine busy with other work)", number('--cpu-time-limit'));
  addEngineOptions(pretrainCommand)
    .addOption(new Option('--conv-grad <mode>', "conv filter gradient: ours ('fast') or tfjs's ('native')").choices(['auto', 'fast', 'native']))
    .option('--out <folder>', 'run folder for checkpoints (default: <data-dir>/runs/<run id>)')
    .option('--no-cache', 'do not keep resized copies of the images in the data folder')
    .option('--resume <run-or-checkpoint>', 'continue a run from its last checkpoint (a run folder or a .safetensors file)')
    .option('--allow-changed-images', "with --resume: train on the images as they are now even when they differ from the run's list")
    .action(async (folders: string[], options: PretrainOptions) => {
      const dataDir = program.opts<{ dataDir: string }>().dataDir;
      if (options.cpuTimeLimit !== undefined && threadCpuSeconds(process.pid) === undefined) {
        throw new Error("--cpu-time-limit reads the trainer's CPU time from /proc, which this system does not have: use --time-limit (minutes on the wall clock) instead.");
      }
      // Planned before the core opens: a refused --resume changes nothing.
      const plan = options.resume ? await planResume(options.resume, folders, Boolean(options.allowChangedImages), (line) => console.error(line)) : undefined;
      const core = startCore({ dataDir, mode: 'cli', library: { autoThumbnails: false } });
      try {
        let start: () => RunInfo;
        if (plan) {
          // Without folders a run resumes on its own images (never on the sample set).
          const { run, step } = resumeTarget(core, plan);
          const details = core.services.runs.get(run.id, 10);
          const epochs = options.epochs ?? run.config.epochs;
          const from = step ?? details.checkpoints.at(-1)?.step ?? 0;
          if (from >= epochs * stepsPerEpochFor(run.imageCount, run.config.batch)) {
            // As before runs were recorded: nothing left to train is not an error.
            console.error(`Run folder: ${run.runDir}\nThe checkpoint at step ${from} has trained all ${epochs} epochs already: nothing to train (give more --epochs to train further).`);
            console.log(describeEndedRun(details));
            return;
          }
          start = () => core.services.pretraining.continue({ runId: run.id, step, epochs: options.epochs }, { cache: options.cache, engine: options.engine, threads: options.threads });
        } else {
          const roots = (folders.length ? folders : [bundledSampleDir()]).map((folder) => path.resolve(folder));
          if (!folders.length) console.error(`No folder given: training on the bundled sample set (${roots[0]}).`);
          const { folderIds, under } = await libraryFoldersOf(core, roots);
          const overrides = pretrainOverrides(options);
          const placement = { cache: options.cache, threads: options.threads, ...(options.out ? { runDir: path.resolve(options.out) } : {}), ...(under ? { under } : {}) };
          start = () => core.services.pretraining.start({ folderIds, preset: options.preset, overrides }, placement);
        }
        let ended;
        let startStep = 0;
        const begin = (): RunInfo => {
          const run = start();
          startStep = run.lastStep;
          return run;
        };
        try {
          ended = await followRun(core, begin, { timeLimitMinutes: options.timeLimit, cpuTimeLimitMinutes: options.cpuTimeLimit });
        } catch (error) {
          const invalid = /^Invalid run settings: (.*)$/s.exec((error as Error).message);
          if (invalid) throw new Error(`invalid setting ${invalid[1]}`, { cause: error });
          throw error;
        }
        if (ended.run.status === 'crashed') throw new Error(`the run crashed: ${ended.run.error ?? 'no reason given'} (its log: ${path.join(ended.run.runDir, 'train.log')})`);
        console.log(describeEndedRun(ended.run, { usage: ended.usage, batch: ended.batch, startStep }));
      } finally {
        await core.tasks.cancelAll();
        core.close();
      }
    });

  program
    .command('export')
    .description('write the backbone of a checkpoint alone: tfjs format (model.json + weights.bin) or PyTorch (torchvision names, safetensors)')
    .argument('<checkpoint>', 'a checkpoint (.safetensors) or run folder')
    .requiredOption('--out <path>', 'tfjs: folder to write model.json and weights.bin into; torch: the .safetensors file to write')
    .addOption(new Option('--format <name>', "'torch' loads into torchvision's resnet18/resnet50 with strict=False (only fc missing)").choices(['tfjs', 'torch']).default('tfjs'))
    .action(async (checkpointArg: string, options: { out: string; format: 'tfjs' | 'torch' }) => {
      const checkpoint = resolveCheckpointArgument(checkpointArg);
      const trainer = JigCluTrainer.deserialize(fs.readFileSync(checkpoint), { convGrad: 'native' });
      if (options.format === 'torch') {
        const file = await exportTorchBackbone(trainer.model.backbone, path.resolve(options.out), { sourceCheckpoint: path.basename(checkpoint), step: trainer.position.globalStep });
        trainer.dispose();
        console.log(`Backbone written to ${file} (torchvision ${trainer.config.arch} names${trainer.config.width === 1 ? '' : `, width x${trainer.config.width}: not torchvision's standard width`})`);
        return;
      }
      const file = await exportBackbone(trainer.model.backbone, path.resolve(options.out), { checkpoint: path.basename(checkpoint), position: trainer.position, config: trainer.config });
      trainer.dispose();
      console.log(`Backbone written to ${file}`);
    });

  const knnCommand = program
    .command('knn')
    .description('kNN accuracy (k = 200, cosine, t = 0.1) of backbone features on class folders (root/<class>/<images>)')
    .argument('[checkpoint]', 'a checkpoint (.safetensors) or run folder')
    .requiredOption('--train <folder>', 'labelled images for the feature bank')
    .requiredOption('--test <folder>', 'labelled images to classify')
    .option('--random-init', 'evaluate a randomly initialised backbone of the same architecture (the untrained baseline)')
    .addOption(new Option('--preset <name>', 'architecture for --random-init without a checkpoint').choices(presetNames).default('cpu-small'))
    .option('--eval-size <px>', 'evaluate whole images at this size (default: the size the app uses the backbone at; see the README)', number('--eval-size', true))
    .option('--k <n>', 'neighbours', number('--k', true), 200)
    .option('--t <temperature>', 'vote temperature', number('--t'), 0.1);
  addEngineOptions(knnCommand).action(async (checkpointArg: string | undefined, options: { train: string; test: string; randomInit?: boolean; preset: PresetName; evalSize?: number; k: number; t: number } & EngineFlags) => {
      if (!checkpointArg && !options.randomInit) throw new Error('give a checkpoint, or --random-init for the untrained baseline.');
      const checkpoint = checkpointArg ? resolveCheckpointArgument(checkpointArg) : undefined;
      const engine = await chooseEngine(options);
      const convGrad: ConvGradMode = defaultConvGradMode(tf.getBackend());
      const { backbone, config, dispose } = loadBackbone(checkpoint, { randomInit: options.randomInit, config: resolvePretrainConfig(options.preset), convGrad });
      const size = options.evalSize ?? evalSizeFor(config);
      const started = performance.now();
      const train = await loadLabelledSet(options.train, size);
      const test = await loadLabelledSet(options.test, size, train.classNames);
      const accuracy = await knnEvaluate(backbone, train, test, convGrad, options.k, options.t);
      dispose();
      const what = options.randomInit ? `random-init ${config.arch} x${config.width}` : path.basename(checkpoint!);
      console.log(
        `kNN top-1: ${(accuracy * 100).toFixed(2)}% (${what}; ${train.labels.length} train / ${test.labels.length} test images, ${train.classNames.length} classes, ` +
          `eval size ${size}px, k=${options.k}, t=${options.t}, engine ${engineSummary(engine)}, ${((performance.now() - started) / 1000).toFixed(1)} s)`,
      );
    });
}

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import cliProgress from 'cli-progress';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { ConfigError, evalSizeFor, presetNames, resolvePretrainConfig, type PresetName, type PretrainOverrides } from '../common/pretrain-config';
import { formatEta } from '../common/tasks';
import { writeRunImages, type RunImages } from '../data/run-images';
import { addEngineOptions, engineSummary, startEngine, type EngineFlags } from './engine-options';
import { defaultConvGradMode, type ConvGradMode } from '../engine/conv';
import { knnEvaluate, loadBackbone, loadLabelledSet } from '../engine/evaluate';
import { exportBackbone } from '../engine/export';
import { exportTorchBackbone } from '../engine/torch-export';
import { runPretraining, type PretrainProgress } from '../engine/run-pretraining';
import { JigCluTrainer } from '../engine/trainer';
import { mainThreadCpuSeconds } from './cpu-time';
import * as tf from '../engine/tfjs';
import { resolveCheckpointArgument } from './checkpoint-argument';
import { listFolders, planResume } from './pretrain-resume';

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

interface PretrainOptions extends EngineFlags {
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

function progressLine(progress: PretrainProgress): Record<string, string> {
  return {
    phase: progress.phase === 'preparing' ? 'decoding images' : `epoch ${Math.min(progress.epoch + 1, progress.epochs)}/${progress.epochs}`,
    loss: progress.losses ? `loss ${progress.losses.total.toFixed(3)} (clu ${progress.losses.cluster.toFixed(3)}, loc ${progress.losses.location.toFixed(3)})` : '',
    rate: progress.imagesPerSecond ? `${progress.imagesPerSecond.toFixed(1)} img/s` : '',
    eta_text: formatEta(progress.etaSeconds),
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
    .option('--cpu-time-limit <minutes>', "stop (with a checkpoint) once the training thread has used this many minutes of CPU time (a budget that holds on a machine busy with other work)", number('--cpu-time-limit'));
  addEngineOptions(pretrainCommand)
    .addOption(new Option('--conv-grad <mode>', "conv filter gradient: ours ('fast') or tfjs's ('native')").choices(['auto', 'fast', 'native']))
    .option('--out <folder>', 'run folder for checkpoints (default: <data-dir>/runs/<time>-<preset>)')
    .option('--no-cache', 'do not keep resized copies of the images in the data folder')
    .option('--resume <run-or-checkpoint>', 'continue a run from its last checkpoint (a run folder or a .safetensors file)')
    .option('--allow-changed-images', "with --resume: train on the images as they are now even when they differ from the run's list")
    .action(async (folders: string[], options: PretrainOptions) => {
      const dataDir = program.opts<{ dataDir: string }>().dataDir;
      let resumeFrom: string | undefined;
      let runDir: string;
      let images: RunImages;
      if (options.resume) {
        // Without folders a run resumes on its own images (never on the sample set), and
        // refuses images that changed unless told otherwise.
        const plan = await planResume(options.resume, folders, Boolean(options.allowChangedImages), (line) => console.error(line));
        ({ runDir, resumeFrom } = plan);
        images = { folders: plan.folders, files: plan.files };
      } else {
        const roots = (folders.length ? folders : [bundledSampleDir()]).map((folder) => path.resolve(folder));
        if (!folders.length) console.error(`No folder given: training on the bundled sample set (${roots[0]}).`);
        images = { folders: roots, files: await listFolders(roots, (root) => `${root} is not a folder of images.`) };
        const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
        runDir = path.resolve(options.out ?? path.join(dataDir, 'runs', `${stamp}-${options.preset}`));
      }
      const files = images.files.map((image) => image.path);
      const overrides: PretrainOverrides = {
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
      let config;
      const resumed = resumeFrom ? JigCluTrainer.readMetadata(fs.readFileSync(resumeFrom)) : undefined;
      const resumedAt = resumed?.position.globalStep;
      try {
        const base = resumed?.config;
        config = base
          ? resolvePretrainConfig(base.preset, { ...base, epochs: options.epochs ?? base.epochs, engine: options.engine !== 'auto' ? options.engine : base.engine })
          : resolvePretrainConfig(options.preset, overrides, files.length);
      } catch (error) {
        if (error instanceof ConfigError) throw new Error(`invalid setting ${error.message}`, { cause: error });
        throw error;
      }
      // The run remembers its folders and files, so that --resume trains on the same images.
      writeRunImages(runDir, images);
      const engine = await startEngine(options, config.engine);
      console.error(`Engine: ${engineSummary(engine)}`);
      for (const candidate of engine.candidates) {
        if (candidate.name === engine.chosen) break;
        console.error(`  not ${candidate.name}: ${candidate.reason}`);
      }
      console.error(`Run folder: ${runDir}`);
      const bar = new cliProgress.SingleBar(
        {
          stream: process.stderr,
          format: '{phase} |{bar}| {value}/{total} · {loss} · {rate} · ETA {eta_text}',
          noTTYOutput: !process.stderr.isTTY,
          notTTYSchedule: 10_000,
          hideCursor: Boolean(process.stderr.isTTY),
        },
        cliProgress.Presets.shades_classic,
      );
      let started = false;
      let stop = false;
      let trainingSeconds = 0;
      const deadline = options.timeLimit ? performance.now() + options.timeLimit * 60_000 : Infinity;
      const cpuDeadline = options.cpuTimeLimit ? mainThreadCpuSeconds() + options.cpuTimeLimit * 60 : Infinity;
      // CPU time and step after the first step (whose time includes the engine's warm-up), for the rate.
      let firstStep: { step: number; cpu: number } | undefined;
      let interrupts = 0;
      const onInterrupt = (): void => {
        interrupts += 1;
        if (interrupts > 1) process.exit(130);
        stop = true;
        process.stderr.write('\nStopping: writing a checkpoint first (Ctrl+C again to quit at once)…\n');
      };
      process.on('SIGINT', onInterrupt);
      process.on('SIGTERM', onInterrupt);
      try {
        const outcome = await runPretraining(
          { config, files, runDir, resumeFrom, engine, cacheDir: options.cache ? path.join(dataDir, 'cache', 'images') : undefined },
          {
            progress: (progress) => {
              if (progress.elapsedSeconds !== undefined) trainingSeconds = progress.elapsedSeconds;
              if (progress.phase === 'training' && !firstStep) firstStep = { step: progress.done, cpu: mainThreadCpuSeconds() };
              if (!started) {
                bar.start(progress.total, progress.done, progressLine(progress));
                started = true;
              }
              bar.setTotal(progress.total);
              bar.update(progress.done, progressLine(progress));
            },
            log: (level, message) => {
              if (started && process.stderr.isTTY) process.stderr.write('\n');
              console.error(level === 'warn' ? `warning: ${message}` : message);
            },
            control: () => (stop || performance.now() > deadline || mainThreadCpuSeconds() > cpuDeadline ? 'stop' : 'run'),
          },
        );
        bar.stop();
        const trained = (outcome.position.globalStep - (resumedAt ?? 0)) * config.batch;
        const cpuRate = firstStep && outcome.position.globalStep > firstStep.step ? ((outcome.position.globalStep - firstStep.step) * config.batch) / (mainThreadCpuSeconds() - firstStep.cpu) : undefined;
        console.log(
          `${outcome.status === 'finished' ? 'Finished' : 'Stopped'} at epoch ${outcome.position.epoch}, step ${outcome.position.globalStep} on ${outcome.imageCount} images` +
            (outcome.rejected.length ? ` (${outcome.rejected.length} files skipped)` : '') +
            (outcome.lastLosses ? `; last loss ${outcome.lastLosses.total.toFixed(4)}` : '') +
            `.\n${trained} images seen in ${trainingSeconds.toFixed(1)} s of training${trainingSeconds > 0 ? ` (${(trained / trainingSeconds).toFixed(1)} images/s)` : ''}` +
            `; the training thread used ${mainThreadCpuSeconds().toFixed(1)} s of CPU${cpuRate ? ` (${cpuRate.toFixed(1)} images per CPU second after the first step)` : ''}.` +
            (outcome.training.steps > 0
              ? `\n${outcome.training.steps} steps in ${outcome.training.seconds.toFixed(1)} s of training, ${((outcome.training.steps * config.batch) / outcome.training.seconds).toFixed(1)} images/s (${outcome.training.dataWaitSeconds.toFixed(1)} s of it waiting for a batch after the first; ${(outcome.training.cpuSeconds / outcome.training.seconds).toFixed(2)} cores busy on average).`
              : '') +
            `\nCheckpoint: ${outcome.lastCheckpoint ?? 'none written'}`,
        );
      } finally {
        bar.stop();
        process.off('SIGINT', onInterrupt);
        process.off('SIGTERM', onInterrupt);
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
      const engine = await startEngine(options);
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

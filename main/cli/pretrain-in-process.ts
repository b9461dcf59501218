import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, resolvePretrainConfig, type PresetName, type PretrainOverrides } from '../common/pretrain-config';
import { formatEta } from '../common/tasks';
import { writeRunImages, type RunImages } from '../data/run-images';
import { runPretraining, type PretrainProgress } from '../engine/jigclu/run-pretraining';
import { JigCluTrainer } from '../engine/jigclu/trainer';
import { mainThreadCpuSeconds } from './cpu-time';
import { chooseEngine, type EngineFlags } from './engine-choice';
import { listFolders, planResume } from './pretrain-resume';
import { pretrainBar, timedStepsLine } from './pretrain-run';

/**
 * `jigclu pretrain --cpu-time-limit`: training in this process, as before runs were recorded,
 * because its budget is this process's training-thread CPU time (npm run bench:quality
 * calibrates on it). Such a run is not recorded in the database; every other pretrain goes
 * through the core (pretrain-run.ts). Moving the CPU budget into the trainer process would let
 * it take that path too.
 */

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

function progressLine(progress: PretrainProgress): Record<string, string> {
  return {
    phase: progress.phase === 'preparing' ? 'decoding images' : `epoch ${Math.min(progress.epoch + 1, progress.epochs)}/${progress.epochs}`,
    loss: progress.losses ? `loss ${progress.losses.total.toFixed(3)} (clu ${progress.losses.cluster.toFixed(3)}, loc ${progress.losses.location.toFixed(3)})` : '',
    rate: progress.imagesPerSecond ? `${progress.imagesPerSecond.toFixed(1)} img/s` : '',
    eta_text: formatEta(progress.etaSeconds),
  };
}

/** Trains in this process (`--cpu-time-limit` only); `bundledSampleDir` when no folder is given. */
export async function pretrainInProcess(dataDir: string, folders: string[], options: PretrainOptions, sampleDir: string): Promise<void> {
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
    const roots = (folders.length ? folders : [sampleDir]).map((folder) => path.resolve(folder));
    if (!folders.length) console.error(`No folder given: training on the bundled sample set (${roots[0]}).`);
    images = { folders: roots, files: await listFolders(roots, (root) => `${root} is not a folder of images.`) };
    const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
    runDir = path.resolve(options.out ?? path.join(dataDir, 'runs', `${stamp}-${options.preset}`));
  }
  const files = images.files.map((image) => image.path);
  const overrides = pretrainOverrides(options);
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
  const engine = await chooseEngine(options, config.engine);
  console.error(`Run folder: ${runDir}`);
  const bar = pretrainBar();
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
        (outcome.training.steps > 0 ? `\n${timedStepsLine(outcome.training, config.batch)}` : '') +
        `\nCheckpoint: ${outcome.lastCheckpoint ?? 'none written'}`,
    );
  } finally {
    bar.stop();
    process.off('SIGINT', onInterrupt);
    process.off('SIGTERM', onInterrupt);
  }
}

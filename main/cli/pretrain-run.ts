import fs from 'node:fs';
import path from 'node:path';
import cliProgress from 'cli-progress';
import type { RunDetails, RunEvent, RunInfo, TrainingTime } from '../common/runs';
import { formatEta } from '../common/tasks';
import { writeRunImages, type RunImage } from '../data/run-images';
import { isInside } from '../data/scan';
import { wholeCheckpoints } from '../engine/weights/checkpoints';
import { JigCluTrainer } from '../engine/jigclu/trainer';
import type { Core } from '../core';
import { trainedElsewhere } from '../services/run-owner';
import { threadCpuSeconds } from './cpu-time';
import { printEngine } from './engine-choice';
import { followTask } from './progress';
import type { ResumePlan } from './pretrain-resume';

/**
 * `jigclu pretrain` through the same core services as the app: its folders are imported into
 * the library (or rescanned), the run is started (or continued) by the pretraining service in a
 * trainer process, and every step's metrics land in SQLite, so the run shows up in the app.
 * This module shows the run on the terminal: progress bar, log lines, Ctrl+C, --time-limit.
 */

/**
 * Adds each folder to the library (rescanning one that is there already) and waits for the
 * imports, with their progress bars. A folder inside a library folder is trained on through
 * that folder: `under` then limits the run to the folders given.
 */
export async function libraryFoldersOf(core: Core, roots: string[]): Promise<{ folderIds: number[]; under?: string[] }> {
  const folderIds: number[] = [];
  let inside = false;
  for (const root of roots) {
    if (!fs.existsSync(root) || !fs.statSync(root).isDirectory()) throw new Error(`${root} is not a folder of images.`);
    const known = await core.handlers.libraryFolders({});
    const holder = known.find((folder) => folder.path === root) ?? known.find((folder) => isInside(folder.path, root));
    let started;
    if (holder) {
      inside ||= holder.path !== root;
      folderIds.push(holder.id);
      started = await core.handlers.libraryRescan({ folderId: holder.id });
    } else {
      const added = await core.handlers.libraryAddFolder({ path: root });
      folderIds.push(added.folder.id);
      started = added.task;
    }
    const final = await followTask(core.hub, core.tasks, started);
    if (final.status === 'failed') throw new Error(final.error ?? `importing ${root} failed`);
    if (final.status === 'cancelled') throw new Error(`Cancelled while importing ${root}: what was read so far is kept in the library.`);
  }
  return { folderIds: [...new Set(folderIds)], ...(inside ? { under: roots } : {}) };
}

/**
 * The run `--resume` continues: the database's run of that folder, or a folder trained before
 * runs were recorded, recorded now. When the images to train on differ from the run's list
 * (allowed with --allow-changed-images, or folders given), the list is written anew.
 */
export function resumeTarget(core: Core, plan: ResumePlan): { run: RunInfo; step?: number } {
  const runs = core.services.runs;
  let run = runs.findByFolder(plan.runDir);
  if (run && trainedElsewhere(run.runDir)) throw new Error(`${run.name} is training in another process (the app or another jigclu): continue it there, or stop it first.`);
  if (!run) {
    const config = JigCluTrainer.readMetadata(fs.readFileSync(plan.resumeFrom)).config;
    run = runs.adoptFolder(plan.runDir, { config, folders: plan.folders, files: plan.files, checkpoints: wholeCheckpoints(plan.runDir) });
  } else {
    const listed = runs.readFileList(run);
    const ids = new Map(listed.files.map((file) => [file.path, file.id]));
    const same = listed.files.length === plan.files.length && plan.files.every((file) => ids.has(file.path));
    if (!same) writeRunImages(run.runDir, { folders: plan.folders, files: plan.files.map((file): RunImage => ({ ...file, id: ids.get(file.path) ?? 0 })) });
  }
  const from = path.resolve(plan.resumeFrom);
  const step = runs.get(run.id, 1).checkpoints.find((checkpoint) => path.resolve(checkpoint.file) === from)?.step;
  return { run, ...(step !== undefined ? { step } : {}) };
}

function progressFields(event: RunEvent): Record<string, string> {
  return {
    phase: event.phase === 'preparing' ? 'decoding images' : `epoch ${Math.min(event.epoch + 1, event.epochs)}/${event.epochs}`,
    loss: event.losses ? `loss ${event.losses.total.toFixed(3)} (clu ${event.losses.cluster.toFixed(3)}, loc ${event.losses.location.toFixed(3)})` : '',
    rate: event.imagesPerSecond ? `${event.imagesPerSecond.toFixed(1)} img/s` : '',
    eta_text: formatEta(event.etaSeconds),
  };
}

/** The pretraining progress bar on stderr (epoch, losses, images/s, ETA), for both pretrain paths. */
export function pretrainBar(): cliProgress.SingleBar {
  return new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: '{phase} |{bar}| {value}/{total} · {loss} · {rate} · ETA {eta_text}',
      noTTYOutput: !process.stderr.isTTY,
      notTTYSchedule: 10_000,
      hideCursor: Boolean(process.stderr.isTTY),
    },
    cliProgress.Presets.shades_classic,
  );
}

/**
 * Starts a run with `start` (the pretraining service's start or continue) and follows it to its
 * end: a progress bar with the epoch, losses, images/s and ETA, the run's log lines, the engine
 * the trainer chose. Ctrl+C, --time-limit and --cpu-time-limit (the trainer process's training
 * thread's CPU time, sampled at each step) stop it at a checkpoint, resumable; a second
 * Ctrl+C quits at once. Resolves with the run as recorded.
 */
export async function followRun(core: Core, start: () => RunInfo, options: { timeLimitMinutes?: number; cpuTimeLimitMinutes?: number } = {}): Promise<{ run: RunDetails; usage: TrainingUsage; batch: number }> {
  const bar = pretrainBar();
  let runId: number | undefined;
  let started = false;
  const usage: TrainingUsage = {};
  let timing: NodeJS.Timeout | undefined;
  const pending: RunEvent[] = [];
  const cpuLimit = options.cpuTimeLimitMinutes;
  let cpuSpent = false;
  const say = (line: string): void => {
    if (started && process.stderr.isTTY) process.stderr.write('\n');
    console.error(line);
  };
  const stop = (note: string): void => void core.services.pretraining.stopForQuit(60_000, note);
  const show = (event: RunEvent): void => {
    if (event.engine) printEngine(event.engine);
    if (event.trainerPid !== undefined) usage.pid = event.trainerPid;
    if (event.phase === 'training') {
      sampleUsage(usage, event);
      if (cpuLimit !== undefined && !cpuSpent && usage.last && usage.last.cpu >= cpuLimit * 60) {
        cpuSpent = true;
        say(`The --cpu-time-limit of ${cpuLimit} minutes of CPU time is reached: stopping at a checkpoint…`);
        stop(`Stopped at the --cpu-time-limit of ${cpuLimit} minutes of CPU time, at a checkpoint: continue it with jigclu pretrain --resume, or Continue in the app.`);
      }
    }
    if (event.training) usage.training = event.training;
    // "Preparing images: n / m" is progress, which the bar shows; other messages are the run's log lines.
    const preparing = event.message ? /^Preparing images: (\d+) \/ (\d+)/.exec(event.message) : null;
    if (event.message && !preparing) say(event.level === 'info' || !event.level ? event.message : `${event.level === 'warn' ? 'warning' : 'error'}: ${event.message}`);
    const [value, total] = preparing ? [Number(preparing[1]), Number(preparing[2])] : [event.step, event.totalSteps];
    if (event.phase === 'ended' || total <= 0) return;
    if (!started) {
      bar.start(total, value, progressFields(event));
      started = true;
    }
    if (event.phase === 'training' && !timing && options.timeLimitMinutes !== undefined) timing = startTimeLimit(options.timeLimitMinutes);
    bar.setTotal(total);
    bar.update(value, progressFields(event));
  };
  const unsubscribe = core.hub.subscribe((name, payload) => {
    if (name !== 'run') return;
    const event = payload as RunEvent;
    // Events of the start call itself arrive before its answer says the run's id.
    if (runId === undefined) pending.push(event);
    else if (event.runId === runId) show(event);
  });
  // Minutes of training: counted from the first training step, as before runs were recorded.
  const startTimeLimit = (minutes: number): NodeJS.Timeout =>
    setTimeout(() => {
      say(`The --time-limit of ${minutes} minutes is reached: stopping at a checkpoint…`);
      stop(`Stopped at the --time-limit of ${minutes} minutes, at a checkpoint: continue it with jigclu pretrain --resume, or Continue in the app.`);
    }, minutes * 60_000);
  let interrupts = 0;
  const onInterrupt = (): void => {
    interrupts += 1;
    if (interrupts > 1) process.exit(130);
    process.stderr.write('\nStopping: writing a checkpoint first (Ctrl+C again to quit at once)…\n');
    stop('Stopped from the command line (Ctrl+C) at a checkpoint: continue it with jigclu pretrain --resume, or Continue in the app.');
  };
  process.on('SIGINT', onInterrupt);
  process.on('SIGTERM', onInterrupt);
  try {
    const run = start();
    runId = run.id;
    console.error(`Run folder: ${run.runDir}`);
    for (const event of pending.splice(0)) if (event.runId === runId) show(event);
    await core.services.pretraining.settled();
    return { run: core.services.runs.get(run.id, 10), usage, batch: run.config.batch };
  } finally {
    clearTimeout(timing);
    bar.stop();
    unsubscribe();
    process.off('SIGINT', onInterrupt);
    process.off('SIGTERM', onInterrupt);
  }
}

/** What the trainer process's training thread spent, sampled at each step while it lives. */
export interface TrainingUsage {
  pid?: number;
  /** The step and CPU seconds at the first training event of this session, and at the latest. */
  first?: { step: number; cpu: number };
  last?: { step: number; cpu: number; elapsedSeconds: number };
  /** The trainer's timed steps, from the run's final event. */
  training?: TrainingTime;
}

function sampleUsage(usage: TrainingUsage, event: RunEvent): void {
  const cpu = usage.pid !== undefined ? threadCpuSeconds(usage.pid) : undefined;
  if (cpu === undefined) return;
  usage.first ??= { step: event.step, cpu };
  usage.last = { step: event.step, cpu, elapsedSeconds: event.elapsedSeconds ?? usage.last?.elapsedSeconds ?? 0 };
}

/** The line saying how much training this session did, on the wall clock and in the trainer's CPU time (bench:quality reads it). */
/** "N steps in T s of training, R images/s (…)": test/cli/cli.test.ts and test/bench/threads-e2e.sh read it. */
export function timedStepsLine(training: TrainingTime, batch: number): string {
  return (
    `${training.steps} steps in ${training.seconds.toFixed(1)} s of training, ${((training.steps * batch) / training.seconds).toFixed(1)} images/s ` +
    `(${training.dataWaitSeconds.toFixed(1)} s of it waiting for a batch after the first; ${(training.cpuSeconds / training.seconds).toFixed(2)} cores busy on average).`
  );
}

function describeUsage(usage: TrainingUsage, batch: number, startStep: number): string {
  const last = usage.last;
  if (!last) return '';
  const trained = (last.step - startStep) * batch;
  const seconds = last.elapsedSeconds;
  const cpuRate = usage.first && last.step > usage.first.step && last.cpu > usage.first.cpu ? ((last.step - usage.first.step) * batch) / (last.cpu - usage.first.cpu) : undefined;
  return (
    `\n${trained} images seen in ${seconds.toFixed(1)} s of training${seconds > 0 ? ` (${(trained / seconds).toFixed(1)} images/s)` : ''}` +
    `; the training thread used ${last.cpu.toFixed(1)} s of CPU${cpuRate ? ` (${cpuRate.toFixed(1)} images per CPU second after the first step)` : ''}.` +
    (usage.training && usage.training.steps > 0 ? `\n${timedStepsLine(usage.training, batch)}` : '')
  );
}

/** The lines printed once a run has ended (the README test reads "on N images" and the checkpoint). */
export function describeEndedRun(run: RunDetails, trained?: { usage: TrainingUsage; batch: number; startStep: number }): string {
  const checkpoint = run.checkpoints.at(-1);
  return (
    `${run.status === 'finished' ? 'Finished' : 'Stopped'} at epoch ${checkpoint?.epoch ?? 0}, step ${run.lastStep} on ${run.imageCount} images` +
    (run.finalLosses ? `; last loss ${run.finalLosses.total.toFixed(4)}` : '') +
    `.${trained ? describeUsage(trained.usage, trained.batch, trained.startStep) : ''}\nCheckpoint: ${checkpoint?.file ?? 'none written'}\nRun ${run.id} (${run.name}) is in the app's run history.`
  );
}

import fs from 'node:fs';
import path from 'node:path';
import {
  ConfigError,
  resolvePretrainConfig,
  stepsPerEpochFor,
  type PretrainConfig,
  type PretrainOverrides,
  type PresetName,
} from '../common/pretrain-config';
import type { ThreadSetting } from '../common/engine';
import { ServiceError } from '../common/result';
import type {
  CheckpointInfo,
  MontageInspection,
  PretrainEstimate,
  RunEvent,
  RunInfo,
  RunStatus,
  TrainingTime,
} from '../common/runs';
import type { BatchInspection, MonitorSet } from '../engine/jigclu/monitor';
import type { FromTrainer } from '../jobs/protocol';
import { TrainerHost, type TrainerExit, type TrainerHandle } from '../jobs/trainer-host';
import type { TrainerSlot } from '../jobs/trainer-slot';
import { jobEngine, jobThreads } from './engine-setting';
import { monitorSet } from './monitor-set';
import { PretrainEstimator } from './pretrain-estimate';
import { claimRun, releaseRun } from './run-owner';
import { appLog, withCrashDetails } from '../log';
import { runFileList, type RunsRepository } from '../store/runs-repository';
import type { AreaHandlers, PretrainingOptions, ServiceContext } from './context';
import type { BackboneService } from './backbone';
import { referenceClasses } from './reference-classes';
import type { RunsService } from './runs';
import type { TaskContext } from './tasks';

/**
 * Choices of a run the contract does not carry, made by the host that starts it (the command
 * line's --out, --no-cache, folders inside a library folder, --engine on --resume).
 */
export interface RunPlacement {
  /** The run's folder (default <dataDir>/runs/<id>). */
  runDir?: string;
  /** Keep resized copies of the images in the data folder (default true). */
  cache?: boolean;
  /** Train only on the chosen folders' images under these paths. */
  under?: string[];
  /** On continue: the engine to train on from now (default the run's own). */
  engine?: PretrainConfig['engine'];
  /** The wasm engine's threads for this run (the command line's --threads; default the settings'). */
  threads?: ThreadSetting;
}

/** Answers the montage inspector waits for, by request id. */
interface PendingInspection {
  resolve: (inspection: BatchInspection) => void;
  reject: (error: Error) => void;
}

/** The one job that is training now. */
interface ActiveRun {
  runId: number;
  host: TrainerHandle;
  status: RunStatus;
  cancelRequested: boolean;
  last?: RunEvent;
  /** The trainer's timed steps, from its last message (shown on the final event). */
  training?: TrainingTime;
  ended: Promise<void>;
  files: { id: number; path: string }[];
  inspections: Map<number, PendingInspection>;
  pid?: number;
  /** Stopped to be resumed later (the app quits, Ctrl+C on the command line): ends as interrupted with this note, not cancelled. */
  quitting?: string;
  /** Keep resized copies of the images in the data folder. */
  cache: boolean;
  /** The run as a task of the status bar (progress, ETA, cancel). */
  task?: TaskContext;
}

/**
 * Pretraining runs: starts one at a time in the trainer process, records its metrics and
 * checkpoints in SQLite as they come, and keeps the run history (rename, note, delete).
 */
export class PretrainingService {
  readonly repo: RunsRepository;
  private active?: ActiveRun;
  private closed = false;
  private inspectionId = 0;
  private readonly estimator: PretrainEstimator;

  /**
   * @param slot the engine's one-job-at-a-time slot: a run holds it while it trains or is paused.
   * @param runs the run history, where runs are created and recorded.
   * @param backbone the backbone in use, which a finished run may become.
   */
  constructor(
    private readonly context: ServiceContext,
    private readonly options: PretrainingOptions,
    private readonly slot: TrainerSlot,
    private readonly runs: RunsService,
    private readonly backbone: BackboneService,
  ) {
    this.repo = runs.repo;
    this.estimator = new PretrainEstimator(context, options, () => {
      const active = this.active;
      return active && { config: this.repo.get(active.runId)?.config, imagesPerSecond: active.last?.imagesPerSecond };
    });
  }

  /** Resolves once the running job (if any) has ended and been recorded. */
  async settled(): Promise<void> {
    await this.active?.ended;
  }

  start(args: { folderIds?: number[]; preset: PresetName; overrides: PretrainOverrides }, placement: RunPlacement = {}): RunInfo {
    this.mustBeFree();
    const rows = this.runs.filesOf(args.folderIds, true, placement.under);
    let config;
    try {
      config = resolvePretrainConfig(args.preset, args.overrides, rows.length);
    } catch (error) {
      if (error instanceof ConfigError) throw new ServiceError('INVALID_ARGUMENT', `Invalid run settings: ${error.message}`);
      throw error;
    }
    const { folders, files, filesHash } = runFileList(rows);
    const monitor = monitorSet(files, this.monitorClasses(files), config.seed, this.options.monitorLimit);
    const run = this.runs.createRun({
      name: `Run ${this.repo.nextRunNumber()} (${config.preset})`,
      config,
      imageCount: rows.length,
      filesHash,
      folders,
      files,
      monitor: monitor ? { classes: monitor.classes, bank: monitor.query.filter((q) => !q).length, queries: monitor.query.filter(Boolean).length } : null,
      runDir: placement.runDir,
    });
    this.launch(run, { config, files, monitor, cache: placement.cache, threads: placement.threads });
    return this.repo.get(run.id)!;
  }

  /**
   * Continues a run that is not training. From its newest checkpoint the same run goes on (its
   * metrics after that checkpoint are dropped, as those steps are trained again); from an older
   * checkpoint a new run starts, with its own folder, that remembers where it came from.
   * `epochs` sets the length of the schedule (more than before extends a finished run).
   */
  continue(args: { runId: number; step?: number; epochs?: number }, placement: Pick<RunPlacement, 'cache' | 'engine' | 'threads'> = {}): RunInfo {
    this.mustBeFree();
    const run = this.runs.mustGet(args.runId);
    const checkpoints = this.runs.usableCheckpoints(run);
    if (checkpoints.length === 0) {
      throw new ServiceError('NOT_FOUND', `${run.name} has no checkpoint to continue from: it stopped before its first one. Start a new run instead.`);
    }
    const newest = checkpoints.at(-1)!;
    const from = args.step === undefined ? newest : checkpoints.find((checkpoint) => checkpoint.step === args.step);
    if (!from) throw new ServiceError('NOT_FOUND', `${run.name} has no checkpoint at step ${args.step}; it has ${checkpoints.map((c) => c.step).join(', ')}.`);
    const list = this.runs.readFileList(run);
    const config: PretrainConfig = { ...run.config, epochs: args.epochs ?? run.config.epochs, engine: placement.engine && placement.engine !== 'auto' ? placement.engine : run.config.engine };
    const stepsPerEpoch = stepsPerEpochFor(run.imageCount, config.batch);
    if (stepsPerEpoch > 0 && from.step >= config.epochs * stepsPerEpoch) {
      throw new ServiceError(
        'INVALID_ARGUMENT',
        `epochs: the checkpoint at step ${from.step} has already trained all ${config.epochs} epochs; ask for more epochs to train further.`,
      );
    }
    const monitor = monitorSet(list.files, this.monitorClasses(list.files), config.seed, this.options.monitorLimit);
    if (from === newest && run.status !== 'running' && run.status !== 'paused') {
      this.repo.rewindTo(run.id, from.step);
      this.repo.setPlan(run.id, { config });
      this.runs.appendLog(run.runDir, `Continuing from the checkpoint at step ${from.step} (epoch ${from.epoch}).`);
      this.launch(this.repo.get(run.id)!, { config, files: list.files, monitor, resumeFrom: from.file, cache: placement.cache, threads: placement.threads });
      return this.repo.get(run.id)!;
    }
    const child = this.runs.createRun({
      name: `Run ${this.repo.nextRunNumber()} (from ${run.name} at step ${from.step})`,
      config,
      imageCount: run.imageCount,
      filesHash: run.filesHash,
      folders: list.folders,
      files: list.files,
      monitor: run.monitor,
      parent: { runId: run.id, step: from.step },
    });
    // The new run's curves start with the parent's up to the checkpoint.
    for (const metric of this.repo.metrics(run.id, Number.MAX_SAFE_INTEGER)) if (metric.step <= from.step) this.repo.addMetric(child.id, metric);
    for (const epoch of this.repo.epochMetrics(run.id)) if (epoch.step <= from.step) this.repo.addEpochMetric(child.id, epoch);
    this.runs.appendLog(child.runDir, `Continuing ${run.name} from its checkpoint at step ${from.step} (epoch ${from.epoch}).`);
    this.launch(child, { config, files: list.files, monitor, resumeFrom: from.file, cache: placement.cache, threads: placement.threads });
    return this.repo.get(child.id)!;
  }

  /** The montages of one batch of the running or paused run, with the model's predictions. */
  async inspect(args: { runId: number; step?: number; montages: number }): Promise<MontageInspection> {
    const active = this.mustBeActive(args.runId);
    if (!active.host.inspect) throw new ServiceError('UNAVAILABLE', 'This trainer cannot show its montages.');
    if (active.last?.phase !== 'training') throw new ServiceError('CONFLICT', 'The run is still preparing its images: inspect its montages once it trains.');
    this.inspectionId += 1;
    const id = this.inspectionId;
    const result = await new Promise<BatchInspection>((resolve, reject) => {
      const timer = setTimeout(() => {
        active.inspections.delete(id);
        reject(new ServiceError('UNAVAILABLE', 'The trainer did not answer within 10 minutes (a step may be very slow on this engine); try again.'));
      }, 600_000);
      active.inspections.set(id, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      active.host.inspect!({ id, step: args.step, count: args.montages });
    });
    const cells = result.grid * result.grid;
    return {
      runId: args.runId,
      step: result.step,
      epoch: result.epoch,
      stepInEpoch: result.stepInEpoch,
      weightsStep: result.weightsStep,
      grid: result.grid,
      crop: result.crop,
      size: result.size,
      batch: result.batch,
      montages: result.montages.map((rgba) => Buffer.from(rgba.buffer, rgba.byteOffset, rgba.byteLength).toString('base64')),
      patches: result.sources.map((source, slot) => {
        const file = active.files[result.sourceFiles[source]!];
        return {
          montage: Math.floor(slot / cells),
          cell: slot % cells,
          source,
          imageId: file?.id ?? null,
          fileName: file ? path.basename(file.path) : '',
          trueLocation: result.trueLocations[slot]!,
          predictedLocation: result.predictedLocations[slot]!,
          neighbours: result.neighbours[slot]!.map((neighbour) => ({
            montage: Math.floor(neighbour.slot / cells),
            cell: neighbour.slot % cells,
            similarity: neighbour.similarity,
            sameSource: neighbour.sameSource,
          })),
        };
      }),
      locationAccuracy: result.locationAccuracy,
      clusterAccuracy: result.clusterAccuracy,
    };
  }

  /** The latest progress of the training run, if any. */
  state(): RunEvent | null {
    return this.active?.last ?? null;
  }

  /** True while a run trains or is paused (the desktop shell asks before quitting). */
  hasActiveRun(): boolean {
    return this.active !== undefined;
  }

  /**
   * Checks run settings field by field and estimates the run: steps, memory, the engine, and
   * with `measure` the time per step from a few warm-up steps in a trainer process.
   */
  estimate(args: { folderIds?: number[]; preset: PresetName; overrides: Record<string, unknown>; measure: boolean }): Promise<PretrainEstimate> {
    return this.estimator.estimate(this.runs.filesOf(args.folderIds, false).length, args);
  }

  private mustBeFree(): void {
    if (this.closed) throw new ServiceError('UNAVAILABLE', 'The app is closing.');
    if (this.active) {
      throw new ServiceError(
        'CONFLICT',
        `Run ${this.active.runId} is already training: one training job runs at a time. Wait for it to finish, or pause or cancel it first.`,
      );
    }
    if (!this.options.trainerScript && !this.options.createTrainer) throw new ServiceError('UNAVAILABLE', 'This host cannot start training: the trainer process is not available.');
  }

  /** Starts the trainer process for a run (new, continued in place, or continued as a new run). */
  private launch(run: RunInfo, job: { config: PretrainConfig; files: { id: number; path: string }[]; monitor?: MonitorSet; resumeFrom?: string; cache?: boolean; threads?: ThreadSetting }): void {
    const script = this.options.trainerScript;
    const host = this.options.createTrainer ? this.options.createTrainer(script ?? '') : new TrainerHost(script!, { launcher: this.options.launcher });
    const active: ActiveRun = {
      runId: run.id,
      host,
      status: 'running',
      cancelRequested: false,
      ended: Promise.resolve(),
      files: job.files,
      inspections: new Map(),
      cache: job.cache ?? true,
    };
    this.active = active;
    this.slot.hold(run.id);
    claimRun(run.runDir);
    host.on('message', (message) => this.recording(active, () => this.onMessage(active, message)));
    active.ended = host.done.then((exit) =>
      this.recording(active, () => this.onExit(active, exit), () => {
        // The end could not be stored: the run is over all the same, and the next one may start.
        active.status = 'crashed';
        this.release(active);
      }),
    );
    this.runs.appendLog(run.runDir, `${run.name}: ${job.files.length} images, preset ${job.config.preset}, ${job.config.epochs} epochs, batch ${job.config.batch}, engine ${job.config.engine}.`);
    try {
      host.start({
        config: job.config,
        files: job.files.map((file) => file.path),
        runDir: run.runDir,
        resumeFrom: job.resumeFrom,
        engine: jobEngine(this.context.db, job.config.engine),
        threads: job.threads ?? jobThreads(this.context.db),
        cacheDir: active.cache ? path.join(this.context.dataDir, 'cache', 'train') : undefined,
        monitor: job.monitor,
        stepDelayMs: this.options.stepDelayMs,
      });
    } catch (error) {
      this.release(active);
      this.repo.setStatus(run.id, 'crashed', `Could not start the trainer: ${(error as Error).message}`);
      throw new ServiceError('INTERNAL', `Could not start the trainer: ${(error as Error).message}`);
    }
    this.emit(active, { phase: 'preparing', step: run.lastStep, totalSteps: run.totalSteps ?? 0, epoch: 0, epochs: job.config.epochs });
    // The run is also a task: the status bar shows its progress and ETA and can cancel it.
    this.context.tasks.start({ kind: 'pretrain', title: `Pretraining ${run.name}`, unit: 'steps' }, async (task) => {
      active.task = task;
      task.signal.addEventListener('abort', () => {
        if (this.active === active) this.cancel(active.runId);
      });
      await active.ended;
      if (active.status === 'crashed' || (active.status === 'interrupted' && !active.quitting)) {
        const exit = await active.host.done;
        const error = new Error(this.repo.get(active.runId)?.error ?? `the run ended as ${active.status}`);
        throw exit.kind === 'crashed' ? withCrashDetails(error, exit) : error;
      }
    });
  }

  pause(runId: number): RunInfo {
    const active = this.mustBeActive(runId);
    if (active.status === 'running') {
      active.host.pause();
      active.task?.paused?.(true);
      active.status = 'paused';
      this.repo.setStatus(runId, 'paused');
      this.emit(active, {});
    }
    return this.runs.mustGet(runId);
  }

  resume(runId: number): RunInfo {
    const active = this.mustBeActive(runId);
    if (active.status === 'paused') {
      active.host.resume();
      active.task?.paused?.(false);
      active.status = 'running';
      this.repo.setStatus(runId, 'running');
      this.emit(active, {});
    }
    return this.runs.mustGet(runId);
  }

  cancel(runId: number): RunInfo {
    const active = this.mustBeActive(runId);
    active.cancelRequested = true;
    // A paused trainer must run again to reach the step boundary where it stops.
    if (active.status === 'paused') active.host.resume();
    active.host.stop();
    return this.runs.mustGet(runId);
  }

  /**
   * The app is quitting with a run in progress and the user chose to stop it: the trainer
   * writes a checkpoint and exits; the run ends as interrupted (one click resumes it). Killed
   * after `timeoutMs` if it has not stopped by then.
   */
  async stopForQuit(timeoutMs = 60_000, note = 'The app was quit while this run was training; it stopped at a checkpoint: resume it from there.'): Promise<void> {
    const active = this.active;
    if (!active) return;
    active.quitting = note;
    if (active.status === 'paused') active.host.resume();
    active.host.stop();
    const timer = setTimeout(() => void active.host.kill(), timeoutMs);
    await active.ended;
    clearTimeout(timer);
  }

  /**
   * The core is closing: the running job is marked interrupted (resumable from its last
   * checkpoint), asked to stop cleanly (it checkpoints at the next step) and killed if it has
   * not exited within `graceMs`. Nothing is written to the database after this.
   */
  close(graceMs = 10_000): void {
    this.closed = true;
    const active = this.active;
    if (!active) return;
    this.release(active);
    this.repo.setStatus(active.runId, 'interrupted', 'The app closed while this run was training; resume it from its last checkpoint.');
    if (active.status === 'paused') active.host.resume();
    void active.host.kill(graceMs);
  }

  /**
   * Runs one step of recording a trainer message in the database. A failure there (a full disk,
   * a damaged database) must not escape into the process's event loop: it is logged, the run is
   * told why, and the trainer is stopped cleanly (it checkpoints) since its metrics cannot be kept.
   */
  private recording(active: ActiveRun, record: () => void, onFailure?: () => void): void {
    try {
      record();
    } catch (error) {
      onFailure?.();
      const translated = this.context.storage?.translate(error) ?? error;
      const message = `Could not record the run's progress: ${(translated as Error).message}`;
      appLog('error', 'pretraining', message, error);
      if (this.active === active && !active.cancelRequested) {
        active.cancelRequested = true;
        if (active.status === 'paused') active.host.resume();
        active.host.stop();
      }
      this.emit(active, { message, level: 'error' });
    }
  }

  private onMessage(active: ActiveRun, message: FromTrainer): void {
    if (this.closed) return;
    const { runId } = active;
    const runDir = this.repo.get(runId)?.runDir;
    switch (message.type) {
      case 'finished':
        active.training = message.training;
        break;
      case 'ready':
        active.pid = message.pid;
        this.repo.setEngine(runId, message.engine.chosen);
        if (runDir) this.runs.appendLog(runDir, `Trainer process ${message.pid} on engine ${message.engine.chosen}${message.engine.fallbackReason ? ` (${message.engine.fallbackReason})` : ''}.`);
        this.emit(active, { engine: message.engine, trainerPid: message.pid });
        break;
      case 'progress': {
        const p = message.progress;
        if (p.phase === 'training' && p.steps && p.steps.length > 0) this.repo.addMetrics(runId, p.steps);
        if (p.phase === 'training' && active.last?.totalSteps !== p.total) this.repo.setPlan(runId, { totalSteps: p.total });
        if (p.phase === 'training') active.task?.progress(p.done, p.total, p.losses ? `loss ${p.losses.total.toFixed(4)}, epoch ${Math.min(p.epoch + 1, p.epochs)} of ${p.epochs}` : undefined);
        else active.task?.progress(0, undefined, `preparing images: ${p.done} / ${p.total}`);
        this.emit(active, {
          phase: p.phase,
          step: p.phase === 'training' ? p.done : (active.last?.step ?? 0),
          totalSteps: p.phase === 'training' ? p.total : p.epochs * p.stepsPerEpoch,
          epoch: p.epoch,
          epochs: p.epochs,
          losses: p.losses,
          lr: p.lr,
          imagesPerSecond: p.imagesPerSecond,
          etaSeconds: p.etaSeconds,
          elapsedSeconds: p.elapsedSeconds,
          locationAccuracy: p.locationAccuracy,
          clusterAccuracy: p.clusterAccuracy,
          ...(p.phase === 'preparing' ? { message: `Preparing images: ${p.done} / ${p.total}`, level: 'info' as const } : {}),
        });
        break;
      }
      case 'checkpoint': {
        const c = message.checkpoint;
        this.repo.addCheckpoint(runId, { step: c.globalStep, epoch: c.epoch, kind: c.kind, file: c.file });
        // The trainer keeps only the newest few: forget the rows of files it removed.
        for (const known of this.repo.checkpoints(runId)) if (!fs.existsSync(known.file)) this.repo.removeCheckpoint(runId, known.file);
        const info: CheckpointInfo | undefined = this.repo.checkpoints(runId).find((known) => known.file === c.file);
        if (info) this.emit(active, { checkpoint: info });
        break;
      }
      case 'knn': {
        const metric = { epoch: message.epoch, step: message.step, knnAccuracy: message.accuracy };
        this.repo.addEpochMetric(runId, metric);
        this.emit(active, { knn: metric });
        break;
      }
      case 'inspection': {
        const waiter = active.inspections.get(message.id);
        if (!waiter) break;
        active.inspections.delete(message.id);
        if (message.result) waiter.resolve(message.result);
        else waiter.reject(new ServiceError('CONFLICT', `Could not inspect the montages: ${message.error ?? 'no answer'}.`));
        break;
      }
      case 'log':
        if (runDir) this.runs.appendLog(runDir, message.message, message.level);
        this.emit(active, { message: message.message, level: message.level });
        break;
      case 'failed':
        if (runDir) this.runs.appendLog(runDir, message.error.message, 'error');
        break;
      default:
        break;
    }
  }

  private onExit(active: ActiveRun, exit: TrainerExit): void {
    for (const waiter of active.inspections.values()) waiter.reject(new ServiceError('CONFLICT', 'The run stopped before its montages could be shown.'));
    active.inspections.clear();
    if (this.closed) return;
    let status: RunStatus;
    let error: string | null = null;
    if (exit.kind === 'failed') {
      status = 'crashed';
      error = exit.message;
    } else if (exit.kind === 'crashed') {
      // Killed from outside (a signal): the work up to the last checkpoint is safe and resumable.
      status = exit.signal ? 'interrupted' : 'crashed';
      error = exit.message;
    } else if (exit.kind === 'finished') status = 'finished';
    else status = active.cancelRequested ? 'cancelled' : 'interrupted';
    if (active.quitting && status !== 'crashed') {
      status = 'interrupted';
      error = active.quitting;
    }
    active.status = status;
    this.repo.setStatus(active.runId, status, error);
    this.repo.setFinalLosses(active.runId);
    this.release(active);
    const runDir = this.repo.get(active.runId)?.runDir;
    if (runDir) this.runs.appendLog(runDir, `Run ended: ${status}${error ? ` (${error})` : ''}.`, status === 'crashed' ? 'error' : 'info');
    const replaced = this.backbone.current();
    const adopted = status === 'finished' ? this.backbone.adoptFinished(active.runId) : undefined;
    if (adopted && runDir) {
      const instead = replaced && replaced.runId !== active.runId ? ` instead of ${replaced.runName}, the sample run` : '';
      this.runs.appendLog(runDir, `Its checkpoint at step ${adopted.step} is now the backbone in use for clusters and fine-tuning${instead}.`);
    }
    this.emit(active, { phase: 'ended', training: active.training, message: `Run ended: ${status}${error ? ` (${error})` : ''}.`, level: status === 'crashed' ? 'error' : 'info' });
  }

  /**
   * The classes the kNN monitor uses: each image's reference class (its class subfolder where
   * the folder is laid out in classes, else its label; main/services/reference-classes.ts), so
   * a folder of class subfolders is enough and no label is needed.
   */
  private monitorClasses(files: { id: number }[]): Map<number, number> {
    const reference = referenceClasses(this.context.db, files.map((file) => file.id)).byImage;
    return new Map([...reference].map(([id, reference]) => [id, reference.index]));
  }

  /** The run is no longer the active one: the engine's slot is free again. */
  private release(active: ActiveRun): void {
    if (this.active === active) this.active = undefined;
    this.slot.release(active.runId);
    const runDir = this.repo.get(active.runId)?.runDir;
    if (runDir) releaseRun(runDir);
  }

  private emit(active: ActiveRun, update: Partial<RunEvent>): void {
    const previous = active.last ?? { runId: active.runId, status: active.status, phase: 'preparing', step: 0, totalSteps: 0, epoch: 0, epochs: 0 };
    const { message: _message, level: _level, knn: _knn, checkpoint: _checkpoint, engine: _engine, trainerPid: _trainerPid, ...kept } = previous;
    const event: RunEvent = { ...kept, ...update, runId: active.runId, status: active.status };
    active.last = event;
    this.context.emit?.('run', event);
  }

  private mustBeActive(runId: number): ActiveRun {
    this.runs.mustGet(runId);
    if (this.active?.runId !== runId) throw new ServiceError('CONFLICT', `Run ${runId} is not training now.`);
    return this.active;
  }

  handlers(): AreaHandlers<PretrainingCalls> {
    return {
      pretrainStart: (args) => this.start(args),
      pretrainPause: ({ runId }) => this.pause(runId),
      pretrainResume: ({ runId }) => this.resume(runId),
      pretrainCancel: ({ runId }) => this.cancel(runId),
      pretrainEstimate: (args) => this.estimate(args),
      pretrainContinue: (args) => this.continue(args),
      pretrainInspect: (args) => this.inspect(args),
      pretrainState: () => this.state(),
    };
  }
}

type PretrainingCalls =
  | 'pretrainStart'
  | 'pretrainPause'
  | 'pretrainResume'
  | 'pretrainCancel'
  | 'pretrainEstimate'
  | 'pretrainContinue'
  | 'pretrainInspect'
  | 'pretrainState';

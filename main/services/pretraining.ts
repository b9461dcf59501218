import fs from 'node:fs';
import path from 'node:path';
import type { EngineReport } from '../common/engine';
import {
  ConfigError,
  estimateTrainingMemoryMb,
  gpuBatchProblem,
  largestActivationBytes,
  resolvePretrainConfig,
  stepsPerEpochFor,
  validatePretrainConfig,
  type FieldError,
  type PretrainConfig,
  type PretrainOverrides,
  type PresetName,
} from '../common/pretrain-config';
import { ServiceError } from '../common/result';
import type {
  BackboneChoice,
  CheckpointInfo,
  MontageInspection,
  PretrainEstimate,
  RunDetails,
  RunEvent,
  RunInfo,
  RunStatus,
} from '../common/runs';
import { checkpointProblem } from '../engine/checkpoints';
import type { BatchInspection, MonitorSet } from '../engine/monitor';
import type { FromTrainer, MeasureSpeed, StartPretraining } from '../jobs/protocol';
import type { ProcessLauncher } from '../jobs/launcher';
import { TrainerHost, type TrainerExit } from '../jobs/trainer-host';
import { jobEngine, jobThreads } from './engine-setting';
import { monitorSet } from './monitor-set';
import { appLog, withCrashDetails } from '../log';
import { RunsRepository, runFileList, type RunFile } from '../store/runs-repository';
import { SettingsRepository } from '../store/settings-repository';
import { readRunImages, runImagesFileName, writeRunImages, type RunImage } from '../data/run-images';
import type { AreaHandlers, ServiceContext } from './app-services';
import { referenceClasses } from './reference-classes';
import type { ComputeHost } from './embeddings';
import type { TaskContext } from './tasks';

/** The part of a trainer host the service uses (tests may inject another). */
export interface TrainerHandle {
  readonly done: Promise<TrainerExit>;
  on(event: 'message', listener: (message: FromTrainer) => void): unknown;
  start(request: Omit<StartPretraining, 'type'>): void;
  measure?(request: Omit<MeasureSpeed, 'type'>): void;
  inspect?(request: { id: number; step?: number; count: number }): void;
  readonly pid?: number;
  pause(): void;
  resume(): void;
  stop(): void;
  kill(graceMs?: number): Promise<TrainerExit>;
}

export interface PretrainingOptions {
  /** The built trainer-process.js; required to start runs (the core passes the bundled one). */
  trainerScript?: string;
  /** Builds the trainer host (tests inject one); defaults to forking `trainerScript`. */
  createTrainer?: (script: string) => TrainerHandle;
  /** Slows each training step down by this many ms (demos and end-to-end tests; env JIGCLU_STEP_DELAY_MS). */
  stepDelayMs?: number;
  /** Largest kNN monitor subset (bank + held-out queries). */
  monitorLimit?: number;
  /** Builds the process host of a compute job (embedding, k-means, maps); tests inject one. */
  createComputeHost?: () => ComputeHost;
  /** Starts the trainer processes (Node's fork by default; the desktop app passes Electron's utilityProcess). */
  launcher?: ProcessLauncher;
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
  ended: Promise<void>;
  files: { id: number; path: string }[];
  inspections: Map<number, PendingInspection>;
  pid?: number;
  /** Stopped because the app is quitting: ends as interrupted (resumable), not cancelled. */
  quitting?: boolean;
  /** The run as a task of the status bar (progress, ETA, cancel). */
  task?: TaskContext;
}

/**
 * Pretraining runs: starts one at a time in the trainer process, records its metrics and
 * checkpoints in SQLite as they come, and keeps the run history (rename, note, delete).
 */
/**
 * On the webgpu engine: the run's largest buffer against the adapter's limit (WebGPU does not
 * tell a GPU's total memory), and a batch error when it does not fit.
 */
function gpuFit(config: PretrainConfig | undefined, engine: EngineReport, errors: FieldError[]): Pick<PretrainEstimate, 'gpuBuffer'> {
  const adapter = engine.chosen === 'webgpu' ? engine.candidates.find((c) => c.name === 'webgpu')?.adapter : undefined;
  if (!config || !adapter) return {};
  const limit = Math.min(adapter.limits.maxBufferSize, adapter.limits.maxStorageBufferBindingSize);
  const problem = gpuBatchProblem(config, adapter.limits);
  if (problem) errors.push({ field: 'batch', message: problem });
  return { gpuBuffer: { largestMb: Math.ceil(largestActivationBytes(config) / 2 ** 20), limitMb: Math.floor(limit / 2 ** 20) } };
}

export class PretrainingService {
  readonly repo: RunsRepository;
  private active?: ActiveRun;
  private closed = false;
  private inspectionId = 0;
  /** Measured seconds per step, by engine and model shape, for this session. */
  private readonly measurements = new Map<string, Promise<{ secondsPerStep: number; warmupSeconds?: number }>>();

  constructor(
    private readonly context: ServiceContext,
    private readonly options: PretrainingOptions = {},
  ) {
    this.repo = new RunsRepository(context.db);
    // A run still 'running' or 'paused' in the database belongs to an app that died (a
    // read-only data folder shows it as it was left).
    if (!context.readOnly) this.repo.markInterrupted();
  }

  /** Where run `id` keeps its checkpoints: its own folder under <dataDir>/runs. */
  runsDir(): string {
    return path.join(this.context.dataDir, 'runs');
  }

  list(): RunInfo[] {
    return this.repo.list();
  }

  get(runId: number, maxPoints = 2000): RunDetails {
    const run = this.mustGet(runId);
    return {
      ...run,
      metrics: this.repo.metrics(runId, maxPoints),
      metricCount: this.repo.metricCount(runId),
      checkpoints: this.repo.checkpoints(runId),
      epochMetrics: this.repo.epochMetrics(runId),
    };
  }

  /** Resolves once the running job (if any) has ended and been recorded. */
  async settled(): Promise<void> {
    await this.active?.ended;
  }

  start(args: { folderIds?: number[]; preset: PresetName; overrides: PretrainOverrides }): RunInfo {
    this.mustBeFree();
    const rows = this.filesOf(args.folderIds);
    let config;
    try {
      config = resolvePretrainConfig(args.preset, args.overrides, rows.length);
    } catch (error) {
      if (error instanceof ConfigError) throw new ServiceError('INVALID_ARGUMENT', `Invalid run settings: ${error.message}`);
      throw error;
    }
    const { folders, files, filesHash } = runFileList(rows);
    const monitor = monitorSet(files, this.monitorClasses(files), config.seed, this.options.monitorLimit);
    const run = this.createRun({
      name: `Run ${this.repo.nextRunNumber()} (${config.preset})`,
      config,
      imageCount: rows.length,
      filesHash,
      folders,
      files,
      monitor: monitor ? { classes: monitor.classes, bank: monitor.query.filter((q) => !q).length, queries: monitor.query.filter(Boolean).length } : null,
    });
    this.launch(run, { config, files, monitor });
    return this.repo.get(run.id)!;
  }

  /**
   * Continues a run that is not training. From its newest checkpoint the same run goes on (its
   * metrics after that checkpoint are dropped, as those steps are trained again); from an older
   * checkpoint a new run starts, with its own folder, that remembers where it came from.
   * `epochs` sets the length of the schedule (more than before extends a finished run).
   */
  continue(args: { runId: number; step?: number; epochs?: number }): RunInfo {
    this.mustBeFree();
    const run = this.mustGet(args.runId);
    const checkpoints = this.usableCheckpoints(run);
    if (checkpoints.length === 0) {
      throw new ServiceError('NOT_FOUND', `${run.name} has no checkpoint to continue from: it stopped before its first one. Start a new run instead.`);
    }
    const newest = checkpoints.at(-1)!;
    const from = args.step === undefined ? newest : checkpoints.find((checkpoint) => checkpoint.step === args.step);
    if (!from) throw new ServiceError('NOT_FOUND', `${run.name} has no checkpoint at step ${args.step}; it has ${checkpoints.map((c) => c.step).join(', ')}.`);
    const list = this.readFileList(run);
    const config: PretrainConfig = { ...run.config, epochs: args.epochs ?? run.config.epochs };
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
      this.appendLog(run.runDir, `Continuing from the checkpoint at step ${from.step} (epoch ${from.epoch}).`);
      this.launch(this.repo.get(run.id)!, { config, files: list.files, monitor, resumeFrom: from.file });
      return this.repo.get(run.id)!;
    }
    const child = this.createRun({
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
    this.appendLog(child.runDir, `Continuing ${run.name} from its checkpoint at step ${from.step} (epoch ${from.epoch}).`);
    this.launch(child, { config, files: list.files, monitor, resumeFrom: from.file });
    return this.repo.get(child.id)!;
  }

  /**
   * A run's checkpoints that can be resumed from, oldest first. One cut off by a full disk or a
   * crash is set aside (renamed .damaged), forgotten, and said in the run's log: continuing then
   * starts from the newest whole one.
   */
  private usableCheckpoints(run: RunInfo): CheckpointInfo[] {
    const usable: CheckpointInfo[] = [];
    for (const checkpoint of this.repo.checkpoints(run.id)) {
      if (!fs.existsSync(checkpoint.file)) continue;
      const problem = checkpointProblem(checkpoint.file);
      if (!problem) {
        usable.push(checkpoint);
        continue;
      }
      let setAside = '';
      try {
        fs.renameSync(checkpoint.file, `${checkpoint.file}.damaged`);
        setAside = ` It was renamed ${path.basename(checkpoint.file)}.damaged.`;
      } catch {
        // A read-only folder: it is skipped all the same.
      }
      if (!this.context.readOnly) this.repo.removeCheckpoint(run.id, checkpoint.file);
      this.appendLog(run.runDir, `Skipped the damaged checkpoint at step ${checkpoint.step} (${problem}).${setAside}`, 'warn');
    }
    return usable;
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

  /** The last `lines` lines of a run's log. */
  log(runId: number, lines: number): { lines: string[] } {
    const run = this.mustGet(runId);
    const file = path.join(run.runDir, 'train.log');
    if (!fs.existsSync(file)) return { lines: [] };
    const all = fs.readFileSync(file, 'utf8').split('\n').filter((line) => line.length > 0);
    return { lines: all.slice(-lines) };
  }

  /** Chooses one of a run's checkpoints as the backbone for clusters and fine-tuning. */
  useCheckpoint(runId: number, step: number): BackboneChoice {
    const run = this.mustGet(runId);
    const checkpoint = this.repo.checkpoints(runId).find((c) => c.step === step && fs.existsSync(c.file));
    if (!checkpoint) throw new ServiceError('NOT_FOUND', `${run.name} has no checkpoint at step ${step}.`);
    this.repo.chooseBackbone({ runId, step, file: checkpoint.file });
    return this.repo.backbone()!;
  }

  backbone(): BackboneChoice | null {
    const choice = this.repo.backbone();
    return choice && fs.existsSync(choice.file) ? choice : null;
  }

  /** Remembers the run the guided first run trained on the sample images. */
  markSampleRun(runId: number): void {
    new SettingsRepository(this.context.db).setMany({ [sampleRunKey]: runId });
  }

  /** The run the guided first run trained on the sample images, if any. */
  sampleRunId(): number | undefined {
    const value = new SettingsRepository(this.context.db).get(sampleRunKey);
    return typeof value === 'number' ? value : undefined;
  }

  /**
   * A run that finished: its newest checkpoint becomes the backbone in use when none is, or
   * when the one in use is the sample run's (a newcomer's own run must not go on being
   * clustered and fine-tuned on the sample backbone). Otherwise its page offers it. Returns
   * the new choice, if it made one.
   */
  private adoptFinished(runId: number): BackboneChoice | undefined {
    if (!adoptsFinishedRun(this.backbone()?.runId, this.sampleRunId(), runId)) return undefined;
    const newest = this.repo
      .checkpoints(runId)
      .filter((checkpoint) => fs.existsSync(checkpoint.file))
      .sort((a, b) => b.step - a.step)[0];
    if (!newest) return undefined;
    this.repo.chooseBackbone({ runId, step: newest.step, file: newest.file });
    return this.repo.backbone() ?? undefined;
  }

  /** True while a run trains or is paused (the desktop shell asks before quitting). */
  hasActiveRun(): boolean {
    return this.active !== undefined;
  }

  /**
   * Checks run settings field by field and estimates the run: steps, memory, the engine, and
   * with `measure` the time per step from a few warm-up steps in a trainer process.
   */
  async estimate(args: { folderIds?: number[]; preset: PresetName; overrides: Record<string, unknown>; measure: boolean }): Promise<PretrainEstimate> {
    const rows = this.filesOf(args.folderIds, false);
    const overrides = Object.fromEntries(Object.entries(args.overrides).filter(([, value]) => value !== null && value !== '')) as PretrainOverrides;
    const { config, errors } = validatePretrainConfig(args.preset, overrides, rows.length);
    // No images: one error that says what to do (not a batch size to lower).
    if (rows.length === 0) {
      const message = args.folderIds ? 'the chosen folders have no images; import some first.' : 'the library has no images; add a folder first.';
      errors.splice(0, errors.length, ...errors.filter((error) => error.field !== 'folders'), { field: 'folders', message });
    }
    const engine = await this.engineFor(config?.engine ?? 'auto');
    const stepsPerEpoch = config ? stepsPerEpochFor(rows.length, config.batch) : 0;
    const estimate: PretrainEstimate = {
      imageCount: rows.length,
      config: config ?? null,
      errors,
      stepsPerEpoch,
      totalSteps: config ? stepsPerEpoch * config.epochs : 0,
      memoryMb: config ? estimateTrainingMemoryMb(config) : null,
      ...gpuFit(config, engine, errors),
      engine,
      timing: null,
      timingNote: args.measure ? null : 'Measure the speed to estimate the time per epoch.',
    };
    if (!args.measure) return estimate;
    if (!config || errors.length > 0) {
      estimate.timingNote = 'Fix the settings first: the speed is measured with valid settings only.';
      return estimate;
    }
    const seconds = await this.measure(config, engine);
    if (typeof seconds === 'string') {
      estimate.timingNote = seconds;
      return estimate;
    }
    estimate.timing = {
      secondsPerStep: seconds.secondsPerStep,
      secondsPerEpoch: seconds.secondsPerStep * stepsPerEpoch,
      totalSeconds: seconds.secondsPerStep * estimate.totalSteps,
      source: seconds.source,
      note: seconds.note,
    };
    return estimate;
  }

  private async measure(config: PretrainConfig, engine: EngineReport): Promise<{ secondsPerStep: number; source: 'measured' | 'active-run'; note: string } | string> {
    const shapeKey = JSON.stringify([engine.chosen, config.arch, config.width, config.grid, config.crop, config.batch, config.projectionDim, config.convGrad]);
    const active = this.active;
    if (active) {
      const activeConfig = this.repo.get(active.runId)?.config;
      const rate = active.last?.imagesPerSecond;
      if (activeConfig && rate && JSON.stringify([engine.chosen, activeConfig.arch, activeConfig.width, activeConfig.grid, activeConfig.crop, activeConfig.batch, activeConfig.projectionDim, activeConfig.convGrad]) === shapeKey) {
        return { secondsPerStep: config.batch / rate, source: 'active-run', note: `from the run training now (${rate.toFixed(1)} images/s)` };
      }
      return 'A run is training: the speed is measured while no run trains (one training job at a time), so this estimate has no time.';
    }
    let pending = this.measurements.get(shapeKey);
    if (!pending) {
      pending = this.measureInProcess(config, engine).catch((error: Error) => {
        this.measurements.delete(shapeKey);
        throw error;
      });
      this.measurements.set(shapeKey, pending);
    }
    try {
      const { secondsPerStep, warmupSeconds } = await pending;
      const warmup = warmupSeconds !== undefined && engine.chosen === 'webgpu' ? ` after a first step of ${warmupSeconds.toFixed(1)} s (shader compilation, once per run)` : '';
      return { secondsPerStep, source: 'measured', note: `measured: 3 warm-up steps on ${engine.chosen} took ${(secondsPerStep * 1000).toFixed(0)} ms each${warmup}` };
    } catch (error) {
      return `Could not measure the speed: ${(error as Error).message}`;
    }
  }

  private measureInProcess(config: PretrainConfig, engine: EngineReport): Promise<{ secondsPerStep: number; warmupSeconds?: number }> {
    const script = this.options.trainerScript;
    if (!script && !this.options.createTrainer) return Promise.reject(new Error('the trainer process is not available on this host'));
    const host = this.options.createTrainer ? this.options.createTrainer(script ?? '') : new TrainerHost(script!, { launcher: this.options.launcher });
    if (!host.measure) return Promise.reject(new Error('this trainer cannot measure'));
    return new Promise<{ secondsPerStep: number; warmupSeconds?: number }>((resolve, reject) => {
      let answered = false;
      const timer = setTimeout(() => void host.kill(), 180_000);
      host.on('message', (message) => {
        if (message.type === 'measured') {
          answered = true;
          resolve({ secondsPerStep: message.secondsPerStep, warmupSeconds: message.warmupSeconds });
        } else if (message.type === 'failed') {
          answered = true;
          reject(new Error(message.error.message));
        }
      });
      void host.done.then((exit) => {
        clearTimeout(timer);
        if (!answered) reject(new Error(exit.kind === 'crashed' ? exit.message : 'the measuring process ended without an answer'));
      });
      host.measure!({ config, engine: engine.chosen, threads: jobThreads(this.context.db), steps: 3 });
    });
  }

  private async engineFor(requested: PretrainConfig['engine']): Promise<EngineReport> {
    return this.context.probeEngines(jobEngine(this.context.db, requested), jobThreads(this.context.db));
  }

  /** The library rows a run would train on (refusing unknown folders; empty allowed when `required` is false). */
  private filesOf(folderIds: number[] | undefined, required = true): RunFile[] {
    if (folderIds) {
      const unknown = this.repo.unknownFolders(folderIds);
      if (unknown.length > 0) throw new ServiceError('NOT_FOUND', `No library folder with id ${unknown.join(', ')}.`);
    }
    const rows = this.repo.files(folderIds);
    if (required && rows.length === 0) {
      throw new ServiceError('INVALID_ARGUMENT', folderIds ? 'The chosen folders have no images: import some first.' : 'The library has no images: add a folder first.');
    }
    return rows;
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

  private createRun(spec: {
    name: string;
    config: PretrainConfig;
    imageCount: number;
    filesHash: string;
    folders?: string[];
    files: RunImage[];
    monitor: RunInfo['monitor'];
    parent?: { runId: number; step: number };
  }): RunInfo {
    const runsDir = this.runsDir();
    const run = this.repo.create({
      name: spec.name,
      config: spec.config,
      engine: spec.config.engine,
      imageCount: spec.imageCount,
      filesHash: spec.filesHash,
      parent: spec.parent,
      monitor: spec.monitor,
      // A folder left by an older database is never reused: two runs never share one.
      folderFor: (id) => (fs.existsSync(path.join(runsDir, String(id))) ? path.join(runsDir, `${id}-${Date.now()}`) : path.join(runsDir, String(id))),
    });
    // The same list `jigclu pretrain --resume` reads: the folders and every file (size, time, library id).
    writeRunImages(run.runDir, { folders: spec.folders, files: spec.files });
    return run;
  }

  /** The images a run trains on, from its folder (files.json). */
  readFileList(run: RunInfo): { folders?: string[]; files: { id: number; path: string }[] } {
    let images: ReturnType<typeof readRunImages>;
    try {
      images = readRunImages(run.runDir);
    } catch (error) {
      throw new ServiceError('NOT_FOUND', `${run.name} cannot read its file list: ${(error as Error).message} Start a new run instead.`);
    }
    if (!images) throw new ServiceError('NOT_FOUND', `${run.name} has lost its file list (${path.join(run.runDir, runImagesFileName)}); start a new run instead.`);
    return { folders: images.folders, files: images.files.map((file) => ({ id: file.id ?? 0, path: file.path })) };
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

  private appendLog(runDir: string, line: string, level: 'info' | 'warn' | 'error' = 'info'): void {
    try {
      fs.appendFileSync(path.join(runDir, 'train.log'), `${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${line.replace(/\n/g, ' ')}\n`);
    } catch {
      // The log is a convenience: a full disk must not stop training.
    }
  }

  /** Starts the trainer process for a run (new, continued in place, or continued as a new run). */
  private launch(run: RunInfo, job: { config: PretrainConfig; files: { id: number; path: string }[]; monitor?: MonitorSet; resumeFrom?: string }): void {
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
    };
    this.active = active;
    host.on('message', (message) => this.recording(active, () => this.onMessage(active, message)));
    active.ended = host.done.then((exit) =>
      this.recording(active, () => this.onExit(active, exit), () => {
        // The end could not be stored: the run is over all the same, and the next one may start.
        active.status = 'crashed';
        if (this.active === active) this.active = undefined;
      }),
    );
    this.appendLog(run.runDir, `${run.name}: ${job.files.length} images, preset ${job.config.preset}, ${job.config.epochs} epochs, batch ${job.config.batch}, engine ${job.config.engine}.`);
    try {
      host.start({
        config: job.config,
        files: job.files.map((file) => file.path),
        runDir: run.runDir,
        resumeFrom: job.resumeFrom,
        engine: jobEngine(this.context.db, job.config.engine),
        threads: jobThreads(this.context.db),
        cacheDir: path.join(this.context.dataDir, 'cache', 'train'),
        monitor: job.monitor,
        stepDelayMs: this.options.stepDelayMs,
      });
    } catch (error) {
      this.active = undefined;
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
    return this.mustGet(runId);
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
    return this.mustGet(runId);
  }

  cancel(runId: number): RunInfo {
    const active = this.mustBeActive(runId);
    active.cancelRequested = true;
    // A paused trainer must run again to reach the step boundary where it stops.
    if (active.status === 'paused') active.host.resume();
    active.host.stop();
    return this.mustGet(runId);
  }

  rename(runId: number, name: string): RunInfo {
    this.mustGet(runId);
    this.repo.rename(runId, name);
    return this.mustGet(runId);
  }

  note(runId: number, note: string): RunInfo {
    this.mustGet(runId);
    this.repo.setNote(runId, note);
    return this.mustGet(runId);
  }

  delete(runId: number): { deleted: true } {
    const run = this.mustGet(runId);
    if (this.active?.runId === runId) throw new ServiceError('CONFLICT', `Run ${runId} is training: cancel it before deleting it.`);
    // Only ever remove a folder inside our runs folder.
    const runsDir = path.resolve(this.runsDir());
    const runDir = path.resolve(run.runDir);
    if (path.dirname(runDir) === runsDir) fs.rmSync(runDir, { recursive: true, force: true });
    this.repo.delete(runId);
    return { deleted: true };
  }

  /**
   * The app is quitting with a run in progress and the user chose to stop it: the trainer
   * writes a checkpoint and exits; the run ends as interrupted (one click resumes it). Killed
   * after `timeoutMs` if it has not stopped by then.
   */
  async stopForQuit(timeoutMs = 60_000): Promise<void> {
    const active = this.active;
    if (!active) return;
    active.quitting = true;
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
    this.active = undefined;
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
      case 'ready':
        active.pid = message.pid;
        this.repo.setEngine(runId, message.engine.chosen);
        if (runDir) this.appendLog(runDir, `Trainer process ${message.pid} on engine ${message.engine.chosen}${message.engine.fallbackReason ? ` (${message.engine.fallbackReason})` : ''}.`);
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
        if (runDir) this.appendLog(runDir, message.message, message.level);
        this.emit(active, { message: message.message, level: message.level });
        break;
      case 'failed':
        if (runDir) this.appendLog(runDir, message.error.message, 'error');
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
      error = 'The app was quit while this run was training; it stopped at a checkpoint: resume it from there.';
    }
    active.status = status;
    this.repo.setStatus(active.runId, status, error);
    this.repo.setFinalLosses(active.runId);
    if (this.active === active) this.active = undefined;
    const runDir = this.repo.get(active.runId)?.runDir;
    if (runDir) this.appendLog(runDir, `Run ended: ${status}${error ? ` (${error})` : ''}.`, status === 'crashed' ? 'error' : 'info');
    const replaced = this.backbone();
    const adopted = status === 'finished' ? this.adoptFinished(active.runId) : undefined;
    if (adopted && runDir) {
      const instead = replaced && replaced.runId !== active.runId ? ` instead of ${replaced.runName}, the sample run` : '';
      this.appendLog(runDir, `Its checkpoint at step ${adopted.step} is now the backbone in use for clusters and fine-tuning${instead}.`);
    }
    this.emit(active, { phase: 'ended', message: `Run ended: ${status}${error ? ` (${error})` : ''}.`, level: status === 'crashed' ? 'error' : 'info' });
  }

  private emit(active: ActiveRun, update: Partial<RunEvent>): void {
    const previous = active.last ?? { runId: active.runId, status: active.status, phase: 'preparing', step: 0, totalSteps: 0, epoch: 0, epochs: 0 };
    const { message: _message, level: _level, knn: _knn, checkpoint: _checkpoint, ...kept } = previous;
    const event: RunEvent = { ...kept, ...update, runId: active.runId, status: active.status };
    active.last = event;
    this.context.emit?.('run', event);
  }

  private mustGet(runId: number): RunInfo {
    const run = this.repo.get(runId);
    if (!run) throw new ServiceError('NOT_FOUND', `No run with id ${runId}.`);
    return run;
  }

  private mustBeActive(runId: number): ActiveRun {
    this.mustGet(runId);
    if (this.active?.runId !== runId) throw new ServiceError('CONFLICT', `Run ${runId} is not training now.`);
    return this.active;
  }
}

/**
 * Whether a run that just finished becomes the backbone in use by itself: when none is in use,
 * or when the one in use is the sample run's and this run is another. A run of your own that is
 * in use is never replaced behind your back: the finished run's page offers itself instead.
 */
export function adoptsFinishedRun(inUseRunId: number | undefined, sampleRunId: number | undefined, finishedRunId: number): boolean {
  if (inUseRunId === undefined) return true;
  return inUseRunId === sampleRunId && finishedRunId !== sampleRunId;
}

/** The settings-table key remembering the first run's sample run (not a user setting). */
const sampleRunKey = 'firstRun.sampleRunId';

const services = new WeakMap<ServiceContext, PretrainingService>();

/** The pretraining service of a context (one per core). */
export function pretrainingService(context: ServiceContext): PretrainingService {
  let service = services.get(context);
  if (!service) {
    service = new PretrainingService(context, context.pretraining);
    services.set(context, service);
  }
  return service;
}

type PretrainingCalls =
  | 'pretrainStart'
  | 'pretrainPause'
  | 'pretrainResume'
  | 'pretrainCancel'
  | 'pretrainEstimate'
  | 'pretrainContinue'
  | 'pretrainInspect'
  | 'pretrainState'
  | 'runLog'
  | 'runUseCheckpoint'
  | 'backboneGet'
  | 'runsList'
  | 'runGet'
  | 'runRename'
  | 'runNote'
  | 'runDelete';

export function pretrainingHandlers(context: ServiceContext): AreaHandlers<PretrainingCalls> {
  const service = pretrainingService(context);
  return {
    pretrainStart: (args) => service.start(args),
    pretrainPause: ({ runId }) => service.pause(runId),
    pretrainResume: ({ runId }) => service.resume(runId),
    pretrainCancel: ({ runId }) => service.cancel(runId),
    pretrainEstimate: (args) => service.estimate(args),
    pretrainContinue: (args) => service.continue(args),
    pretrainInspect: (args) => service.inspect(args),
    pretrainState: () => service.state(),
    runLog: ({ runId, lines }) => service.log(runId, lines),
    runUseCheckpoint: ({ runId, step }) => service.useCheckpoint(runId, step),
    backboneGet: () => service.backbone(),
    runsList: () => service.list(),
    runGet: ({ runId, maxPoints }) => service.get(runId, maxPoints),
    runRename: ({ runId, name }) => service.rename(runId, name),
    runNote: ({ runId, note }) => service.note(runId, note),
    runDelete: ({ runId }) => service.delete(runId),
  };
}

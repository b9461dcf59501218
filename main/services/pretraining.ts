import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, resolvePretrainConfig, type PretrainOverrides, type PresetName } from '../common/pretrain-config';
import { ServiceError } from '../common/result';
import type { RunDetails, RunEvent, RunInfo, RunStatus } from '../common/runs';
import type { FromTrainer, StartPretraining } from '../jobs/protocol';
import { TrainerHost, type TrainerExit } from '../jobs/trainer-host';
import { joinFolderPath } from '../store/library-repository';
import { RunsRepository } from '../store/runs-repository';
import type { AreaHandlers, ServiceContext } from './app-services';

/** The part of a trainer host the service uses (tests may inject another). */
export interface TrainerHandle {
  readonly done: Promise<TrainerExit>;
  on(event: 'message', listener: (message: FromTrainer) => void): unknown;
  start(request: Omit<StartPretraining, 'type'>): void;
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
}

/** The one job that is training now. */
interface ActiveRun {
  runId: number;
  host: TrainerHandle;
  status: RunStatus;
  cancelRequested: boolean;
  last?: RunEvent;
  ended: Promise<void>;
}

/**
 * Pretraining runs: starts one at a time in the trainer process, records its metrics and
 * checkpoints in SQLite as they come, and keeps the run history (rename, note, delete).
 */
export class PretrainingService {
  readonly repo: RunsRepository;
  private active?: ActiveRun;
  private closed = false;

  constructor(
    private readonly context: ServiceContext,
    private readonly options: PretrainingOptions = {},
  ) {
    this.repo = new RunsRepository(context.db);
    // A run still 'running' or 'paused' in the database belongs to an app that died.
    this.repo.markInterrupted();
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
    return { ...run, metrics: this.repo.metrics(runId, maxPoints), metricCount: this.repo.metricCount(runId), checkpoints: this.repo.checkpoints(runId) };
  }

  /** Resolves once the running job (if any) has ended and been recorded. */
  async settled(): Promise<void> {
    await this.active?.ended;
  }

  start(args: { folderIds?: number[]; preset: PresetName; overrides: PretrainOverrides }): RunInfo {
    if (this.closed) throw new ServiceError('UNAVAILABLE', 'The app is closing.');
    if (this.active) {
      throw new ServiceError(
        'CONFLICT',
        `Run ${this.active.runId} is already training: one training job runs at a time. Wait for it to finish, or pause or cancel it first.`,
      );
    }
    const script = this.options.trainerScript;
    if (!script && !this.options.createTrainer) throw new ServiceError('UNAVAILABLE', 'This host cannot start training: the trainer process is not available.');
    if (args.folderIds) {
      const unknown = this.repo.unknownFolders(args.folderIds);
      if (unknown.length > 0) throw new ServiceError('NOT_FOUND', `No library folder with id ${unknown.join(', ')}.`);
    }
    const rows = this.repo.files(args.folderIds);
    if (rows.length === 0) {
      throw new ServiceError('INVALID_ARGUMENT', args.folderIds ? 'The chosen folders have no images: import some first.' : 'The library has no images: add a folder first.');
    }
    let config;
    try {
      config = resolvePretrainConfig(args.preset, args.overrides, rows.length);
    } catch (error) {
      if (error instanceof ConfigError) throw new ServiceError('INVALID_ARGUMENT', `Invalid run settings: ${error.message}`);
      throw error;
    }
    const files = rows.map((row) => joinFolderPath(row.folder_path, row.rel_path));
    const filesHash = crypto.createHash('sha256');
    for (const row of rows) filesHash.update(`${row.folder_path}\0${row.rel_path}\0${row.content_hash}\n`);

    const runsDir = this.runsDir();
    const run = this.repo.create({
      name: `Run ${this.repo.nextRunNumber()} (${config.preset})`,
      config,
      engine: config.engine,
      imageCount: rows.length,
      filesHash: filesHash.digest('hex'),
      // A folder left by an older database is never reused: two runs never share one.
      folderFor: (id) => (fs.existsSync(path.join(runsDir, String(id))) ? path.join(runsDir, `${id}-${Date.now()}`) : path.join(runsDir, String(id))),
    });
    fs.mkdirSync(run.runDir, { recursive: true });

    const host = this.options.createTrainer ? this.options.createTrainer(script ?? '') : new TrainerHost(script!);
    const active: ActiveRun = { runId: run.id, host, status: 'running', cancelRequested: false, ended: Promise.resolve() };
    this.active = active;
    host.on('message', (message) => this.onMessage(active, message));
    active.ended = host.done.then((exit) => this.onExit(active, exit));
    try {
      host.start({ config, files, runDir: run.runDir, engine: config.engine, cacheDir: path.join(this.context.dataDir, 'cache', 'train') });
    } catch (error) {
      this.active = undefined;
      this.repo.setStatus(run.id, 'crashed', `Could not start the trainer: ${(error as Error).message}`);
      throw new ServiceError('INTERNAL', `Could not start the trainer: ${(error as Error).message}`);
    }
    this.emit(active, { phase: 'preparing', step: 0, totalSteps: 0, epoch: 0, epochs: config.epochs });
    return this.repo.get(run.id)!;
  }

  pause(runId: number): RunInfo {
    const active = this.mustBeActive(runId);
    if (active.status === 'running') {
      active.host.pause();
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

  private onMessage(active: ActiveRun, message: FromTrainer): void {
    if (this.closed) return;
    const { runId } = active;
    switch (message.type) {
      case 'ready':
        this.repo.setEngine(runId, message.engine.chosen);
        break;
      case 'progress': {
        const p = message.progress;
        if (p.phase === 'training' && p.losses) {
          this.repo.addMetric(runId, {
            step: p.done,
            epoch: p.epoch,
            total: p.losses.total,
            cluster: p.losses.cluster,
            location: p.losses.location,
            lr: p.lr ?? 0,
            imagesPerSecond: p.imagesPerSecond ?? null,
          });
        }
        this.emit(active, {
          phase: p.phase,
          step: p.phase === 'training' ? p.done : 0,
          totalSteps: p.phase === 'training' ? p.total : p.epochs * p.stepsPerEpoch,
          epoch: p.epoch,
          epochs: p.epochs,
          losses: p.losses,
          lr: p.lr,
          imagesPerSecond: p.imagesPerSecond,
          etaSeconds: p.etaSeconds,
        });
        break;
      }
      case 'checkpoint': {
        const c = message.checkpoint;
        this.repo.addCheckpoint(runId, { step: c.globalStep, epoch: c.epoch, kind: c.kind, file: c.file });
        // The trainer keeps only the newest few: forget the rows of files it removed.
        for (const known of this.repo.checkpoints(runId)) if (!fs.existsSync(known.file)) this.repo.removeCheckpoint(runId, known.file);
        break;
      }
      case 'log':
        this.emit(active, { message: message.message });
        break;
      default:
        break;
    }
  }

  private onExit(active: ActiveRun, exit: TrainerExit): void {
    if (this.closed) return;
    let status: RunStatus;
    let error: string | null = null;
    if (exit.kind === 'failed' || exit.kind === 'crashed') {
      status = 'crashed';
      error = exit.message;
    } else if (exit.kind === 'finished') status = 'finished';
    else status = active.cancelRequested ? 'cancelled' : 'interrupted';
    active.status = status;
    this.repo.setStatus(active.runId, status, error);
    this.repo.setFinalLosses(active.runId);
    if (this.active === active) this.active = undefined;
    this.emit(active, { phase: 'ended', ...(error ? { message: error } : {}) });
  }

  private emit(active: ActiveRun, update: Partial<RunEvent>): void {
    const previous = active.last ?? { runId: active.runId, status: active.status, phase: 'preparing', step: 0, totalSteps: 0, epoch: 0, epochs: 0 };
    const { message: _message, ...kept } = previous;
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
    runsList: () => service.list(),
    runGet: ({ runId, maxPoints }) => service.get(runId, maxPoints),
    runRename: ({ runId, name }) => service.rename(runId, name),
    runNote: ({ runId, note }) => service.note(runId, note),
    runDelete: ({ runId }) => service.delete(runId),
  };
}

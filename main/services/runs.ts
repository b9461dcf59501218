import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { PretrainConfig } from '../common/pretrain-config';
import { ServiceError } from '../common/result';
import type { CheckpointInfo, RunDetails, RunInfo } from '../common/runs';
import { readRunImages, runImagesFileName, writeRunImages, type RunImage } from '../data/run-images';
import { isInside } from '../data/scan';
import { checkpointProblem, wholeCheckpoints } from '../engine/weights/checkpoints';
import type { TrainerSlot } from '../jobs/trainer-slot';
import { joinFolderPath } from '../store/library-repository';
import { RunsRepository, type RunFile } from '../store/runs-repository';
import type { AreaHandlers, ServiceContext } from './context';
import { trainedElsewhere } from './run-owner';

/**
 * The run history: every pretraining run with its curves, checkpoints, folder, file list and
 * log; renaming, notes and deleting. PretrainingService trains runs and records them through
 * this service; the scale-out and the command line read runs' folders and file lists here.
 */
export class RunsService {
  readonly repo: RunsRepository;

  /** @param slot says which run trains now (it cannot be deleted). */
  constructor(
    private readonly context: ServiceContext,
    private readonly slot: TrainerSlot,
  ) {
    this.repo = new RunsRepository(context.db);
    // A run still 'running' or 'paused' in the database belongs to an app that died, unless
    // another live process trains it (`jigclu pretrain` beside the app). A read-only data
    // folder shows it as it was left.
    if (!context.readOnly) this.repo.markInterrupted((run) => trainedElsewhere(run.runDir));
  }

  /** Where run `id` keeps its checkpoints: its own folder under <dataDir>/runs. */
  runsDir(): string {
    return path.join(this.context.dataDir, 'runs');
  }

  /** The folder of a new run: runs/<id>, or runs/<id>-<time> when an older database left one by that name (two runs never share one). */
  newRunFolder(id: number): string {
    const runsDir = this.runsDir();
    return fs.existsSync(path.join(runsDir, String(id))) ? path.join(runsDir, `${id}-${Date.now()}`) : path.join(runsDir, String(id));
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

  /**
   * A run's checkpoints that can be resumed from, oldest first. One cut off by a full disk or a
   * crash is set aside (renamed .damaged), forgotten, and said in the run's log: continuing then
   * starts from the newest whole one.
   */
  usableCheckpoints(run: RunInfo): CheckpointInfo[] {
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

  /** The last `lines` lines of a run's log. */
  log(runId: number, lines: number): { lines: string[] } {
    const run = this.mustGet(runId);
    const file = path.join(run.runDir, 'train.log');
    if (!fs.existsSync(file)) return { lines: [] };
    const all = fs.readFileSync(file, 'utf8').split('\n').filter((line) => line.length > 0);
    return { lines: all.slice(-lines) };
  }

  /** The library rows a run would train on (refusing unknown folders; empty allowed when `required` is false). */
  filesOf(folderIds: number[] | undefined, required = true, under?: string[]): RunFile[] {
    if (folderIds) {
      const unknown = this.repo.unknownFolders(folderIds);
      if (unknown.length > 0) throw new ServiceError('NOT_FOUND', `No library folder with id ${unknown.join(', ')}.`);
    }
    const all = this.repo.files(folderIds);
    const rows = under ? all.filter((row) => under.some((folder) => isInside(folder, joinFolderPath(row.folder_path, row.rel_path)))) : all;
    if (required && rows.length === 0) {
      throw new ServiceError('INVALID_ARGUMENT', folderIds ? 'The chosen folders have no images: import some first.' : 'The library has no images: add a folder first.');
    }
    return rows;
  }

  createRun(spec: {
    name: string;
    config: PretrainConfig;
    imageCount: number;
    filesHash: string;
    folders?: string[];
    files: RunImage[];
    monitor: RunInfo['monitor'];
    parent?: { runId: number; step: number };
    runDir?: string;
  }): RunInfo {
    const chosen = spec.runDir && path.resolve(spec.runDir);
    if (chosen && this.findByFolder(chosen)) throw new ServiceError('CONFLICT', `${chosen} is the folder of a run already: continue that run (--resume), or choose another folder.`);
    const run = this.repo.create({
      name: spec.name,
      config: spec.config,
      engine: spec.config.engine,
      imageCount: spec.imageCount,
      filesHash: spec.filesHash,
      parent: spec.parent,
      monitor: spec.monitor,
      // A folder left by an older database is never reused: two runs never share one.
      folderFor: (id) => chosen || this.newRunFolder(id),
    });
    // The same list `jigclu pretrain --resume` reads: the folders and every file (size, time, library id).
    writeRunImages(run.runDir, { folders: spec.folders, files: spec.files });
    return run;
  }

  /** The run whose folder is `runDir`, if the database has one. */
  findByFolder(runDir: string): RunInfo | undefined {
    const wanted = path.resolve(runDir);
    return this.repo.list().find((run) => path.resolve(run.runDir) === wanted);
  }

  /**
   * Records a run folder trained outside the database (by `jigclu pretrain` before its runs were
   * recorded) as a run with its checkpoints, so it can be continued here and shows in the app.
   */
  adoptFolder(runDir: string, spec: { config: PretrainConfig; folders?: string[]; files: RunImage[]; checkpoints: { file: string; step: number; epoch: number }[] }): RunInfo {
    const hash = crypto.createHash('sha256').update(JSON.stringify(spec.files)).digest('hex');
    const run = this.createRun({ name: path.basename(runDir), config: spec.config, imageCount: spec.files.length, filesHash: hash, folders: spec.folders, files: spec.files, monitor: null, runDir });
    for (const checkpoint of spec.checkpoints) this.repo.addCheckpoint(run.id, { ...checkpoint, kind: 'step' });
    this.repo.setStatus(run.id, 'interrupted', 'Trained from the command line before its runs were recorded; continue it from its last checkpoint.');
    return this.repo.get(run.id)!;
  }

  /**
   * The run holding a checkpoint file the command line was given, recorded now when the
   * database has none: the recorded run of its folder (the checkpoint added to it), the run
   * folder `jigclu pretrain` trained before runs were recorded (adopted, as --resume does), or
   * else a run of its own in the runs folder that names the file where it is (never copied or
   * moved). What is computed from it (embeddings, clusterings, classifiers) is then listed in
   * the app under that run.
   */
  holderOf(file: string, spec: { config: PretrainConfig; step: number; epoch: number }): { run: RunInfo; step: number } {
    const wanted = path.resolve(file);
    for (const run of this.repo.list()) {
      const known = this.repo.checkpoints(run.id).find((checkpoint) => path.resolve(checkpoint.file) === wanted);
      if (known) return { run, step: known.step };
    }
    const checkpoint = { file: wanted, step: spec.step, epoch: spec.epoch, kind: 'step' as const };
    const runDir = path.dirname(path.dirname(wanted));
    const inRunFolder = path.basename(path.dirname(wanted)) === 'checkpoints';
    const recorded = inRunFolder ? this.findByFolder(runDir) : undefined;
    if (recorded) {
      this.repo.addCheckpoint(recorded.id, checkpoint);
      return { run: recorded, step: spec.step };
    }
    let list: ReturnType<typeof readRunImages>;
    try {
      list = inRunFolder ? readRunImages(runDir) : undefined;
    } catch {
      list = undefined;
    }
    if (list) {
      const run = this.adoptFolder(runDir, { config: spec.config, folders: list.folders, files: list.files, checkpoints: [...wholeCheckpoints(runDir).filter((other) => path.resolve(other.file) !== wanted), checkpoint] });
      return { run, step: spec.step };
    }
    const run = this.createRun({
      name: `${path.basename(wanted)} (given to the command line)`,
      config: spec.config,
      imageCount: 0,
      filesHash: crypto.createHash('sha256').update('[]').digest('hex'),
      files: [],
      monitor: null,
    });
    this.repo.addCheckpoint(run.id, checkpoint);
    this.repo.setStatus(run.id, 'finished', null);
    this.appendLog(run.runDir, `Recorded the checkpoint ${wanted} (step ${spec.step}), given to the command line; it stays where it is.`);
    return { run: this.mustGet(run.id), step: spec.step };
  }

  /**
   * A run that stands for an architecture untrained (the command line's --random-init without a
   * checkpoint): recorded once per config, with no checkpoint, so classifiers trained on its
   * random init are listed in the app under it.
   */
  architectureRun(config: PretrainConfig): RunInfo {
    const name = `Random init (${config.preset}, ${config.arch} x${config.width}, seed ${config.seed})`;
    const same = this.repo.list().find((run) => run.name === name && JSON.stringify(run.config) === JSON.stringify(config));
    if (same) return same;
    const run = this.createRun({ name, config, imageCount: 0, filesHash: crypto.createHash('sha256').update('[]').digest('hex'), files: [], monitor: null });
    this.repo.setStatus(run.id, 'finished', null);
    this.appendLog(run.runDir, `Recorded for a baseline on the random init of ${config.arch} x${config.width} (seed ${config.seed}), asked for on the command line; it has no checkpoint.`);
    return this.mustGet(run.id);
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

  appendLog(runDir: string, line: string, level: 'info' | 'warn' | 'error' = 'info'): void {
    try {
      fs.appendFileSync(path.join(runDir, 'train.log'), `${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${line.replace(/\n/g, ' ')}\n`);
    } catch {
      // The log is a convenience: a full disk must not stop training.
    }
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
    if (this.slot.activeRun === runId) throw new ServiceError('CONFLICT', `Run ${runId} is training: cancel it before deleting it.`);
    // Only ever remove a folder inside our runs folder.
    const runsDir = path.resolve(this.runsDir());
    const runDir = path.resolve(run.runDir);
    if (path.dirname(runDir) === runsDir) fs.rmSync(runDir, { recursive: true, force: true });
    this.repo.delete(runId);
    return { deleted: true };
  }

  mustGet(runId: number): RunInfo {
    const run = this.repo.get(runId);
    if (!run) throw new ServiceError('NOT_FOUND', `No run with id ${runId}.`);
    return run;
  }

  handlers(): AreaHandlers<'runsList' | 'runGet' | 'runRename' | 'runNote' | 'runDelete' | 'runLog'> {
    return {
      runsList: () => this.list(),
      runGet: ({ runId, maxPoints }) => this.get(runId, maxPoints),
      runRename: ({ runId, name }) => this.rename(runId, name),
      runNote: ({ runId, note }) => this.note(runId, note),
      runDelete: ({ runId }) => this.delete(runId),
      runLog: ({ runId, lines }) => this.log(runId, lines),
    };
  }
}

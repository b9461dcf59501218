import crypto from 'node:crypto';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ConfigError, parseStoredPretrainConfig, presets, resolvePretrainConfig, stepsPerEpochFor, type PresetName } from '../common/pretrain-config';
import { ServiceError } from '../common/result';
import type { RunMetric } from '../common/runs';
import type { JobDescription, JobExportResult, JobImportResult, ManifestImage, WeightsImportResult } from '../common/scaleout';
import type { TaskInfo } from '../common/tasks';
import { readRunImages, runImagesFileName, writeRunImages } from '../data/run-images';
import { checkpointProblem, wholeCheckpoints } from '../engine/weights/checkpoints';
import { foreignLayout } from '../engine/weights/foreign-weights';
import { readSafetensorsHeader } from '../engine/weights/safetensors';
import type { ScaleoutExportJob, ScaleoutExportResult } from '../engine/compute/scaleout-job';
import type { ImportWeightsJob, ImportWeightsResult } from '../engine/compute/weights-import';
import type { ComputeJobClient } from '../jobs/compute-client';
import { RunsRepository, runFileList } from '../store/runs-repository';
import type { AreaHandlers, ServiceContext } from './context';
import { safeFileName, type ExportsService } from './exports';
import type { RunsService } from './runs';
import type { TaskContext } from './tasks';

/**
 * Scaling out (issue 21): a run's checkpoint exported as a PyTorch DDP job for torchrun, the
 * job's output imported back as a new run that remembers its parent run and step and its
 * engine ("torch DDP x 8"), and weights trained elsewhere imported as a run. The heavy parts
 * (hashing every image, the golden batches, building the model) run as compute jobs in a
 * trainer process, so the main process never loads tfjs.
 */

/** The DDP trainer: beside the sources and the built code (scaleout/), or in the packaged app's resources. */
export function scaleoutTrainerScript(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.join(here, '..', '..', 'scaleout', 'jigclu_ddp.py')];
  const resourcesPath = (process as { resourcesPath?: string }).resourcesPath;
  if (resourcesPath) candidates.unshift(path.join(resourcesPath, 'scaleout', 'jigclu_ddp.py'));
  return candidates.find((file) => fs.existsSync(file)) ?? candidates.at(-1)!;
}

export type ExportArgs = { runId?: number; runFolder?: string; step?: number; destination: string };

/** A run to export: its checkpoints and images in the app's order. */
interface ExportSource {
  name: string;
  runDir: string;
  filesHash: string;
  checkpoints: { file: string; step: number; epoch: number }[];
  images: ManifestImage[];
  roots: Record<string, string>;
}

/** What the parent run keeps about a job it exported (runs/<id>/jobs/<job id>.json). */
interface ExportRecord {
  jobId: string;
  path: string;
  step: number;
  manifestSha256: string;
  exportedAt: string;
  importedAs?: number;
}

/** trainer.json of a job's output folder. */
interface TrainerStatus {
  jobId: string;
  engine: string;
  worldSize: number;
  status: 'running' | 'finished';
  epochs: number;
}

const pythonCandidates = (): string[] => [process.env.JIGCLU_PYTHON, '/usr/bin/python3', 'python3'].filter((p): p is string => Boolean(p));

function readJson<T>(file: string, what: string): T {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ServiceError('INVALID_ARGUMENT', `${file} ${code === 'ENOENT' ? 'is missing' : 'cannot be read'}: ${what}.`);
  }
}

export class ScaleoutService {
  private readonly runs: RunsRepository;

  /**
   * @param jobs reads, hashes and converts in a trainer process.
   * @param history the runs' folders and file lists.
   * @param exports where an export may be written (never inside a library folder).
   */
  constructor(
    private readonly context: ServiceContext,
    private readonly jobs: ComputeJobClient,
    private readonly history: RunsService,
    private readonly exports: ExportsService,
    private readonly trainerScript: string = scaleoutTrainerScript(),
  ) {
    this.runs = new RunsRepository(context.db);
  }

  /** Starts `exportJob` as a task (progress, ETA, cancel); the job folder is known at once. */
  startExport(args: ExportArgs): { task: TaskInfo; path: string } {
    const plan = this.planExport(args);
    const task = this.context.tasks.start({ kind: 'export', title: `Exporting ${plan.job.parent.runName} as a DDP job`, unit: 'images', total: plan.job.images.length }, async (context) => {
      const result = await this.runExport(plan, context);
      context.progress(result.imageCount, result.imageCount, `Wrote ${result.path}. Inside it run: ${result.command}`);
    });
    return { task, path: plan.job.dir };
  }

  /** Exports a run's checkpoint (its newest by default) as a job folder under `destination`. */
  async exportJob(args: ExportArgs, task?: TaskContext): Promise<JobExportResult> {
    return this.runExport(this.planExport(args), task);
  }

  private planExport(args: ExportArgs): { job: ScaleoutExportJob; runDir: string } {
    // A relative folder would resolve against the core's working folder, which the answer would then show.
    const runFolder = args.runFolder === undefined ? undefined : absolutePath(args.runFolder, 'the run folder');
    const known = args.runId !== undefined ? this.runs.get(args.runId) : this.runs.list().find((run) => path.resolve(run.runDir) === runFolder);
    if (args.runId !== undefined && !known) throw new ServiceError('NOT_FOUND', `No run with id ${args.runId}.`);
    if (!fs.existsSync(this.trainerScript)) throw new ServiceError('UNAVAILABLE', `The DDP trainer ${this.trainerScript} is missing from this installation.`);
    const source = known ? this.appRun(known.id) : this.folderRun(runFolder!);
    const from = args.step === undefined ? source.checkpoints.at(-1) : source.checkpoints.find((checkpoint) => checkpoint.step === args.step);
    if (!from) {
      throw new ServiceError('NOT_FOUND', source.checkpoints.length === 0 ? `${source.name} has no checkpoint to export yet.` : `${source.name} has no checkpoint at step ${args.step}; it has ${source.checkpoints.map((c) => c.step).join(', ')}.`);
    }
    const dir = this.exports.newFolder(this.exports.destination(args.destination), `${safeFileName(source.name)}-step-${from.step}-ddp-job`);
    return {
      runDir: source.runDir,
      job: {
        kind: 'scaleout-export',
        checkpoint: from.file,
        images: source.images,
        roots: source.roots,
        dir,
        trainerScript: this.trainerScript,
        parent: { runId: known?.id ?? null, runName: source.name, runDir: source.runDir, step: from.step, epoch: from.epoch, filesHash: source.filesHash },
        appVersion: this.context.version,
      },
    };
  }

  /** A run of the database: its checkpoints on record, its images with the library's hashes and sizes. */
  private appRun(runId: number): ExportSource {
    const run = this.runs.get(runId)!;
    const list = this.history.readFileList(run);
    const rows = this.runs.trainingImages(list.files.map((file) => file.id));
    const gone = list.files.filter((file) => !rows.has(file.id));
    if (gone.length > 0) {
      throw new ServiceError('CONFLICT', `${gone.length} images of ${run.name} are no longer in the library (${gone.slice(0, 3).map((f) => f.path).join(', ')}${gone.length > 3 ? ', …' : ''}): the batch order counts every image, so the run cannot be exported. Add their folder again.`);
    }
    const roots = new Map<string, string>();
    const images = list.files.map((file): ManifestImage => {
      const row = rows.get(file.id)!;
      if (!roots.has(row.folder_path)) roots.set(row.folder_path, `r${roots.size}`);
      return { root: roots.get(row.folder_path)!, rel: row.rel_path, path: file.path, sha256: row.content_hash, bytes: row.size, width: row.width, height: row.height };
    });
    return {
      name: run.name,
      runDir: run.runDir,
      filesHash: run.filesHash,
      checkpoints: this.runs.checkpoints(run.id).filter((checkpoint) => fs.existsSync(checkpoint.file)),
      images,
      roots: Object.fromEntries([...roots].map(([folder, alias]) => [alias, folder])),
    };
  }

  /** A run folder the command line trained: its checkpoints and files.json; the export reads each image. */
  private folderRun(runDir: string): ExportSource {
    const name = path.basename(runDir);
    let list;
    try {
      list = readRunImages(runDir);
    } catch (error) {
      throw new ServiceError('INVALID_ARGUMENT', (error as Error).message);
    }
    if (!list) throw new ServiceError('NOT_FOUND', `${runDir} is not a run folder with a file list (${runImagesFileName}): give a run id of the app, or a folder \`jigclu pretrain\` trained.`);
    const checkpoints = wholeCheckpoints(runDir);
    // Each image's root is the folder it was listed from (the deepest that holds it), else its own folder.
    const folders = [...(list.folders ?? [])].sort((a, b) => b.length - a.length);
    const roots = new Map<string, string>();
    const images = list.files.map((file): ManifestImage => {
      const folder = folders.find((candidate) => file.path.startsWith(candidate + path.sep)) ?? path.dirname(file.path);
      if (!roots.has(folder)) roots.set(folder, `r${roots.size}`);
      return { root: roots.get(folder)!, rel: path.relative(folder, file.path).split(path.sep).join('/'), path: file.path, sha256: '', bytes: 0, width: 0, height: 0 };
    });
    const filesHash = crypto.createHash('sha256').update(fs.readFileSync(path.join(runDir, runImagesFileName))).digest('hex');
    return { name, runDir, filesHash, checkpoints, images, roots: Object.fromEntries([...roots].map(([folder, alias]) => [alias, folder])) };
  }

  private async runExport(plan: { job: ScaleoutExportJob; runDir: string }, task?: TaskContext): Promise<JobExportResult> {
    let result: ScaleoutExportResult;
    try {
      // Reading and hashing, and a forward pass of a few montages: cpu, so a GPU run is not disturbed.
      result = await this.jobs.runComputeJob(plan.job, { progress: (done, total) => task?.progress(done, total), signal: task?.signal, engine: 'cpu' });
    } catch (error) {
      // The folder is new and ours: leave nothing half-written.
      fs.rmSync(plan.job.dir, { recursive: true, force: true });
      throw error;
    }
    const record: ExportRecord = { jobId: result.jobId, path: plan.job.dir, step: plan.job.parent.step, manifestSha256: result.manifestSha256, exportedAt: new Date().toISOString() };
    fs.mkdirSync(path.join(plan.runDir, 'jobs'), { recursive: true });
    fs.writeFileSync(path.join(plan.runDir, 'jobs', `${result.jobId}.json`), JSON.stringify(record, null, 2));
    return {
      jobId: result.jobId,
      path: plan.job.dir,
      files: result.files,
      imageCount: result.imageCount,
      stepsPerEpoch: result.stepsPerEpoch,
      startStep: result.start.globalStep,
      command: `python3 -m torch.distributed.run --nproc_per_node N jigclu_ddp.py --epochs ${result.epochs} --out out`,
    };
  }

  /**
   * Brings a job's output folder (the trainer's --out) back as a new run: checks that the job
   * was exported from this app's run (its id, and the run's file list unchanged), that every
   * checkpoint belongs to the job, then copies the checkpoints and metrics.
   */
  importJob(args: { path: string }): JobImportResult {
    let dir = absolutePath(args.path, 'the job folder');
    if (!fs.existsSync(path.join(dir, 'trainer.json')) && fs.existsSync(path.join(dir, 'out', 'trainer.json'))) dir = path.join(dir, 'out');
    const trainer = readJson<TrainerStatus>(path.join(dir, 'trainer.json'), 'give the folder the trainer wrote (its --out)');
    const job = readJson<JobDescription>(path.join(dir, 'job.json'), 'the trainer copies job.json into its --out folder; give that folder');
    if (job.format !== 'jigclu-job-v1' || trainer.jobId !== job.jobId) {
      throw new ServiceError('INVALID_ARGUMENT', `${dir}: its trainer.json belongs to job ${trainer.jobId}, its job.json to ${job.jobId}; give the folder of one job.`);
    }
    const manifest = path.join(dir, job.manifest.file);
    if (!fs.existsSync(manifest) || crypto.createHash('sha256').update(fs.readFileSync(manifest)).digest('hex') !== job.manifest.sha256) {
      throw new ServiceError('INVALID_ARGUMENT', `${manifest} is missing or is not the job's file list (its sha256 differs from job.json's).`);
    }
    // The parent: a run of the database, or a run folder the command line trained.
    const parent = job.parent.runId === null ? undefined : this.runs.get(job.parent.runId);
    if (job.parent.runId !== null && !parent) throw new ServiceError('NOT_FOUND', `Job ${job.jobId} was exported from ${job.parent.runName}, which is not in this app's data folder (${this.context.dataDir}): import it where it was exported.`);
    const parentDir = parent?.runDir ?? job.parent.runDir;
    const recordFile = path.join(parentDir, 'jobs', `${job.jobId}.json`);
    if (!fs.existsSync(recordFile)) throw new ServiceError('NOT_FOUND', `${job.parent.runName} never exported job ${job.jobId} (no ${recordFile}): import it on the machine and data folder that exported it.`);
    const record = readJson<ExportRecord>(recordFile, 'the record of the export');
    if (record.manifestSha256 !== job.manifest.sha256 || (parent && parent.filesHash !== job.parent.filesHash)) {
      throw new ServiceError('CONFLICT', `The file list of job ${job.jobId} is not the one ${job.parent.runName} exported: the job's output cannot be matched to the run.`);
    }
    if (record.importedAs !== undefined && this.runs.get(record.importedAs)) {
      throw new ServiceError('CONFLICT', `Job ${job.jobId} is already imported as ${this.runs.get(record.importedAs)!.name}; delete that run to import the job again.`);
    }
    const checkpoints = this.jobCheckpoints(dir, job.jobId);
    const metrics = this.jobMetrics(path.join(dir, 'metrics.jsonl'), job.start.globalStep);
    const newest = checkpoints.at(-1)!;
    const config = newest.config;
    const run = this.runs.create({
      name: `Run ${this.runs.nextRunNumber()} (${trainer.engine}, from ${job.parent.runName} at step ${job.start.globalStep})`,
      config,
      engine: trainer.engine,
      imageCount: job.imageCount,
      filesHash: job.parent.filesHash,
      ...(parent ? { parent: { runId: parent.id, step: job.start.globalStep }, monitor: parent.monitor } : {}),
      folderFor: (id) => this.history.newRunFolder(id),
    });
    fs.mkdirSync(path.join(run.runDir, 'checkpoints'), { recursive: true });
    fs.copyFileSync(path.join(parentDir, runImagesFileName), path.join(run.runDir, runImagesFileName));
    for (const checkpoint of checkpoints) {
      const file = path.join(run.runDir, 'checkpoints', path.basename(checkpoint.file));
      fs.copyFileSync(checkpoint.file, file);
      this.runs.addCheckpoint(run.id, { step: checkpoint.step, epoch: checkpoint.epoch, kind: checkpoint.kind, file });
    }
    // The curves start with the parent's, up to the step the job started from.
    const inherited = parent ? this.runs.metrics(parent.id, Number.MAX_SAFE_INTEGER).filter((metric) => metric.step <= job.start.globalStep) : [];
    this.runs.addMetrics(run.id, [...inherited, ...metrics]);
    for (const epoch of parent ? this.runs.epochMetrics(parent.id) : []) if (epoch.step <= job.start.globalStep) this.runs.addEpochMetric(run.id, epoch);
    this.runs.setPlan(run.id, { totalSteps: job.stepsPerEpoch * config.epochs });
    this.runs.setFinalLosses(run.id);
    this.runs.setStatus(run.id, trainer.status === 'finished' ? 'finished' : 'interrupted', trainer.status === 'finished' ? null : 'The DDP job had not finished when it was imported; continue it here or run the job again and import it anew.');
    fs.writeFileSync(path.join(run.runDir, 'import.json'), JSON.stringify({ jobId: job.jobId, from: dir, engine: trainer.engine, importedAt: new Date().toISOString() }, null, 2));
    fs.appendFileSync(
      path.join(run.runDir, 'train.log'),
      `${new Date().toISOString()} INFO  Imported job ${job.jobId} (${trainer.engine}) from ${dir}: ${checkpoints.length} checkpoints, ${metrics.length} steps after step ${job.start.globalStep} of ${job.parent.runName} (${parentDir}).\n`,
    );
    fs.writeFileSync(recordFile, JSON.stringify({ ...record, importedAs: run.id }, null, 2));
    return { run: this.runs.get(run.id)!, checkpoints: checkpoints.length, metrics: metrics.length, engine: trainer.engine };
  }

  /** The job's checkpoints, oldest first; each must be ours and belong to the job. */
  private jobCheckpoints(dir: string, jobId: string) {
    const folder = path.join(dir, 'checkpoints');
    const names = fs.existsSync(folder) ? fs.readdirSync(folder).filter((name) => /^step-\d+\.safetensors$/.test(name)).sort() : [];
    if (names.length === 0) throw new ServiceError('NOT_FOUND', `${dir} has no checkpoint (checkpoints/step-*.safetensors): the job wrote none yet.`);
    return names.map((name) => {
      const file = path.join(folder, name);
      const problem = checkpointProblem(file);
      if (problem) throw new ServiceError('INVALID_ARGUMENT', `${file} cannot be imported: ${problem}. Run the job again with the same --out (it resumes) or delete that file.`);
      const { metadata } = readSafetensorsHeader(file);
      if (metadata.format !== 'jigclu-checkpoint-v1' || metadata.jobId !== jobId) throw new ServiceError('INVALID_ARGUMENT', `${file} is not a checkpoint of job ${jobId}.`);
      const position = JSON.parse(metadata.position ?? '{}') as { epoch: number; globalStep: number };
      const kind = (['step', 'epoch', 'final', 'stop'] as const).find((k) => k === metadata.kind) ?? 'step';
      return { file, step: position.globalStep, epoch: position.epoch, kind, config: parseStoredPretrainConfig(JSON.parse(metadata.config ?? '{}')) };
    });
  }

  /** metrics.jsonl: the steps after `after`, each checked to be a step's numbers. */
  private jobMetrics(file: string, after: number): RunMetric[] {
    if (!fs.existsSync(file)) return [];
    const metrics: RunMetric[] = [];
    fs.readFileSync(file, 'utf8')
      .split('\n')
      .forEach((line, index) => {
        if (line.trim() === '') return;
        const metric = JSON.parse(line) as RunMetric;
        if (![metric.step, metric.epoch, metric.total, metric.cluster, metric.location, metric.lr].every((v) => typeof v === 'number')) {
          throw new ServiceError('INVALID_ARGUMENT', `${file} line ${index + 1} is not a step's metrics.`);
        }
        if (metric.step > after) metrics.push({ ...metric, imagesPerSecond: metric.imagesPerSecond ?? null, locationAccuracy: metric.locationAccuracy ?? null, clusterAccuracy: metric.clusterAccuracy ?? null });
      });
    return metrics;
  }

  /**
   * Weights trained elsewhere (a torchvision ResNet state dict, the reference's JigClu
   * checkpoint, or ours) as a new run at step 0 on library folders: its checkpoint is a
   * backbone for clusters and fine-tuning, and continuing the run pretrains from it.
   */
  async importWeights(args: { path: string; folderIds?: number[]; preset?: PresetName }): Promise<WeightsImportResult> {
    const given = absolutePath(args.path, 'the weights file');
    if (!fs.existsSync(given) || !fs.statSync(given).isFile()) throw new ServiceError('NOT_FOUND', `${args.path} is not a file.`);
    const converted = /\.safetensors$/i.test(given) ? undefined : await this.convertPickle(given);
    const file = converted ?? given;
    try {
      let layout;
      try {
        layout = foreignLayout(readSafetensorsHeader(file).tensors, given);
      } catch (error) {
        throw new ServiceError('INVALID_ARGUMENT', (error as Error).message);
      }
      if (args.folderIds) {
        const unknown = this.runs.unknownFolders(args.folderIds);
        if (unknown.length > 0) throw new ServiceError('NOT_FOUND', `No library folder with id ${unknown.join(', ')}.`);
      }
      const rows = this.runs.files(args.folderIds);
      if (rows.length === 0) throw new ServiceError('INVALID_ARGUMENT', 'The library has no images to train on: add a folder first (the imported run continues training on it).');
      const preset = args.preset ?? (layout.arch === 'resnet50' ? 'paper' : 'resnet18');
      let config;
      try {
        config = resolvePretrainConfig(preset, { arch: layout.arch, width: layout.width, ...(layout.grid ? { grid: layout.grid } : {}), ...(layout.projectionDim ? { projectionDim: layout.projectionDim } : {}), batch: Math.min(presets[preset].batch, rows.length) }, rows.length);
      } catch (error) {
        if (error instanceof ConfigError) throw new ServiceError('INVALID_ARGUMENT', `${given} cannot be trained here: ${error.message}`);
        throw error;
      }
      const { folders, files, filesHash } = runFileList(rows);
      const run = this.runs.create({
        name: `Run ${this.runs.nextRunNumber()} (weights from ${path.basename(given)})`,
        config,
        engine: `imported (${layout.source})`,
        imageCount: rows.length,
        filesHash,
        folderFor: (id) => this.history.newRunFolder(id),
      });
      const checkpoint = path.join(run.runDir, 'checkpoints', 'step-00000000.safetensors');
      fs.mkdirSync(path.dirname(checkpoint), { recursive: true });
      writeRunImages(run.runDir, { folders, files });
      const job: ImportWeightsJob = { kind: 'import-weights', file, config, out: checkpoint, imageCount: rows.length };
      let result: ImportWeightsResult;
      try {
        result = await this.jobs.runComputeJob(job, { engine: 'cpu' });
      } catch (error) {
        this.runs.delete(run.id);
        fs.rmSync(run.runDir, { recursive: true, force: true });
        throw new ServiceError('INVALID_ARGUMENT', (error as Error).message);
      }
      this.runs.addCheckpoint(run.id, { step: 0, epoch: 0, kind: 'final', file: checkpoint });
      this.runs.setPlan(run.id, { totalSteps: stepsPerEpochFor(rows.length, config.batch) * config.epochs });
      this.runs.setStatus(run.id, 'finished');
      fs.appendFileSync(path.join(run.runDir, 'train.log'), `${new Date().toISOString()} INFO  Imported ${result.source} weights from ${given} (${config.arch}, width ${config.width}; heads ${result.heads}).\n`);
      return { run: this.runs.get(run.id)!, source: result.source, heads: result.heads };
    } finally {
      if (converted) fs.rmSync(path.dirname(converted), { recursive: true, force: true });
    }
  }

  /** A .pth / .pth.tar converted to safetensors by the DDP trainer's `convert`, with a Python that has torch. */
  private async convertPickle(file: string): Promise<string> {
    const temporary = fs.mkdtempSync(path.join(this.context.dataDir, 'import-'));
    const out = path.join(temporary, 'weights.safetensors');
    const failures: string[] = [];
    for (const python of pythonCandidates()) {
      try {
        await promisify(execFile)(python, [this.trainerScript, 'convert', file, out], { timeout: 600_000, maxBuffer: 16 << 20 });
        return out;
      } catch (error) {
        const e = error as NodeJS.ErrnoException & { stderr?: string };
        failures.push(`${python}: ${e.code === 'ENOENT' ? 'not found' : (e.stderr ?? e.message).trim().split('\n').pop()}`);
      }
    }
    fs.rmSync(temporary, { recursive: true, force: true });
    throw new ServiceError(
      'UNAVAILABLE',
      `${path.basename(file)} is a PyTorch pickle, which only Python's torch can read, and no Python with torch could convert it here (${failures.join('; ')}). ` +
        `Where torch is installed, run \`python3 jigclu_ddp.py convert ${path.basename(file)} weights.safetensors\` (the script is ${this.trainerScript}) and import the .safetensors file.`,
    );
  }

  /** The calls of the contract this service serves. */
  handlers(): AreaHandlers<'jobExport' | 'jobImport' | 'weightsImport'> {
    return {
      jobExport: (args) => this.startExport(args),
      jobImport: (args) => this.importJob(args),
      weightsImport: (args) => this.importWeights(args),
    };
  }
}

/**
 * A path the user gave, refused unless absolute: a relative one would be resolved against the
 * core's working folder, which the user never chose (and which an answer would then reveal).
 */
function absolutePath(given: string, what: string): string {
  if (!path.isAbsolute(given)) {
    throw new ServiceError('INVALID_ARGUMENT', `Give ${what} with its full path, from the top of its disk (${process.platform === 'win32' ? 'a drive letter' : '/'} first), not "${given}".`);
  }
  return path.normalize(given);
}

import fs from 'node:fs';
import path from 'node:path';
import type { EmbeddingSource } from '../common/embeddings';
import type { ClassFoldersSummary, ExportFile } from '../common/finetune';
import { ServiceError } from '../common/result';
import { fileSha256 } from '../data/files';
import type { TaskInfo } from '../common/tasks';
import type { ExportBackboneJob } from '../engine/compute/export-jobs';
import type { ComputeJobClient } from '../jobs/compute-client';
import { ClassifiersRepository, type ClassifierRow } from '../store/classifiers-repository';
import { RunsRepository } from '../store/runs-repository';
import type { AreaHandlers, ServiceContext } from './context';
import { TaskCancelled, type TaskContext } from './tasks';

/**
 * Exports: labels and predictions as CSV or JSON (a file handed to the renderer), the library
 * copied into one folder per class, a saved classifier, and a backbone as safetensors (with
 * torchvision's names) or TF.js weights. Exports only ever read the library's files: every
 * destination must lie outside every library folder (and not contain one), files are copied
 * (never moved) and nothing already at the destination is overwritten.
 */

export interface LabelsExportArgs {
  format: 'csv' | 'json';
  include: 'labels' | 'predictions' | 'both';
  classifierId?: number | undefined;
}

export interface ClassFoldersArgs {
  destination: string;
  include: 'labels' | 'both';
  minConfidence: number;
  classifierId?: number | undefined;
}

/** One row of a labels export. */
export interface LabelsExportRow {
  path: string;
  label: string;
  source: 'hand' | 'folder' | 'prediction';
  confidence: number | null;
}

/** One file of a class-folder copy. */
interface CopyItem {
  source: string;
  folder: string;
  fileName: string;
  contentHash: string;
}

/** What a class-folder copy will do, planned (and checked) before its task starts. */
export interface ClassFoldersPlan {
  destination: string;
  items: CopyItem[];
  perClass: { name: string; folder: string; images: number }[];
}

const windowsReserved = /^(con|prn|aux|nul|conin\$|conout\$|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$/i;

/**
 * A name that is a valid file or folder name on Windows, macOS and Linux: characters that are
 * illegal anywhere (< > : " / \ | ? * and control characters) become _, trailing dots and
 * spaces go, reserved device names (CON, NUL, COM1, ...) get a leading _, and it is at most
 * 120 characters. Never empty, never . or ..
 */
export function safeFileName(name: string, fallback = '_'): string {
  let safe = name
    .normalize('NFC')
    // eslint-disable-next-line no-control-regex
    .replace(/[<>:"/\\|?*\u0000-\u001f\u007f]/g, '_')
    .trim()
    .replace(/[. ]+$/, '');
  if (safe.length > 120) safe = safe.slice(0, 120).replace(/[. ]+$/, '');
  if (safe === '' || /^\.+$/.test(safe)) safe = fallback;
  if (windowsReserved.test(safe)) safe = `_${safe}`;
  return safe;
}

/** A safe file name that keeps the extension: "photo:1.jpg" -> "photo_1.jpg". */
function safeBaseName(fileName: string): { stem: string; ext: string } {
  const ext = path.extname(fileName);
  const safeExt = ext === '' ? '' : `.${safeFileName(ext.slice(1), '')}`.replace(/\.$/, '');
  return { stem: safeFileName(path.basename(fileName, ext), 'image'), ext: safeExt };
}

/** Comparing names as Windows and macOS do (case-insensitive), so two never clash there. */
function nameKey(name: string): string {
  return name.normalize('NFC').toLowerCase();
}

/** RFC 4180: a field with a comma, quote, CR or LF is quoted, with quotes doubled. */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/** The real path of `target`: its nearest existing ancestor resolved through symlinks, plus the rest. */
function realPathOf(target: string): string {
  const absolute = path.resolve(target);
  let existing = absolute;
  const rest: string[] = [];
  while (!fs.existsSync(existing)) {
    const parent = path.dirname(existing);
    if (parent === existing) break;
    rest.unshift(path.basename(existing));
    existing = parent;
  }
  try {
    return path.join(fs.realpathSync.native(existing), ...rest);
  } catch {
    return absolute;
  }
}

/** Whether `inner` is `outer` or inside it (case-insensitive on Windows and macOS). */
function isWithin(inner: string, outer: string): boolean {
  const fold = process.platform === 'win32' || process.platform === 'darwin' ? (p: string) => p.toLowerCase() : (p: string) => p;
  const relative = path.relative(fold(outer), fold(inner));
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}

/** Today's date as YYYY-MM-DD (local time), for export file names. */
function today(): string {
  const now = new Date();
  return `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, '0')}-${String(now.getDate()).padStart(2, '0')}`;
}

export class ExportsService {
  private readonly repo: ClassifiersRepository;
  private readonly runs: RunsRepository;

  /** @param jobs writes backbones in a trainer process (the main process never loads tfjs). */
  constructor(
    private readonly context: ServiceContext,
    private readonly jobs: ComputeJobClient,
  ) {
    this.repo = new ClassifiersRepository(context.db);
    this.runs = new RunsRepository(context.db);
  }

  private classifier(classifierId: number | undefined, why: string): ClassifierRow {
    const id = classifierId ?? this.repo.chosenId();
    if (id === undefined) throw new ServiceError('NOT_FOUND', `There is no classifier to ${why}: fine-tune from your labels first, or export the labels only.`);
    const row = this.repo.get(id);
    if (!row) throw new ServiceError('NOT_FOUND', `No classifier with id ${id}.`);
    return row;
  }

  /** The rows of a labels export (image id order). */
  labelRows(args: Omit<LabelsExportArgs, 'format'>): LabelsExportRow[] {
    const classifier = args.include === 'labels' ? undefined : this.classifier(args.classifierId, 'export predictions from');
    const predictions = classifier ? this.repo.predictionsOf(classifier.id) : new Map<number, never>();
    const names = new Map((classifier ? (JSON.parse(classifier.classes) as { id: number; name: string }[]) : []).map((c) => [c.id, c.name]));
    const rows: LabelsExportRow[] = [];
    for (const image of this.repo.labelledImages()) {
      const prediction = predictions.get(image.id);
      const predicted = (): LabelsExportRow | undefined =>
        prediction ? { path: image.path, label: names.get(prediction.class_id) ?? String(prediction.class_id), source: 'prediction', confidence: prediction.confidence } : undefined;
      const labelled: LabelsExportRow | undefined = image.label !== null && image.source !== null ? { path: image.path, label: image.label, source: image.source, confidence: null } : undefined;
      const row = args.include === 'labels' ? labelled : args.include === 'predictions' ? predicted() : (labelled ?? predicted());
      if (row) rows.push(row);
    }
    return rows;
  }

  /** Labels and/or predictions as CSV (RFC 4180, header path,label,source,confidence) or JSON. */
  labels(args: LabelsExportArgs): ExportFile {
    const rows = this.labelRows(args);
    const stem = `jigclu-${args.include === 'predictions' ? 'predictions' : 'labels'}-${today()}`;
    if (args.format === 'json') {
      return { fileName: `${stem}.json`, mimeType: 'application/json', content: `${JSON.stringify(rows, null, 2)}\n`, rows: rows.length };
    }
    const lines = ['path,label,source,confidence'];
    for (const row of rows) lines.push([row.path, row.label, row.source, row.confidence === null ? '' : String(row.confidence)].map(csvField).join(','));
    return { fileName: `${stem}.csv`, mimeType: 'text/csv', content: `${lines.join('\r\n')}\r\n`, rows: rows.length };
  }

  /**
   * Checks an export destination and returns its real path (created if missing): absolute, not
   * a file, not inside a library folder and not containing one.
   */
  destination(destination: string): string {
    const given = destination.trim();
    if (!path.isAbsolute(given)) throw new ServiceError('INVALID_ARGUMENT', `destination: "${given}" is not an absolute path; choose a folder with its full path (such as ${process.platform === 'win32' ? 'D:\\exports' : '/home/me/exports'}).`);
    const real = realPathOf(given);
    for (const folder of this.repo.libraryFolders()) {
      const library = realPathOf(folder);
      if (isWithin(real, library)) {
        throw new ServiceError('INVALID_ARGUMENT', `destination: ${given} is inside the library folder ${folder}, and exports never write into a library folder. Choose a folder outside it.`);
      }
      if (isWithin(library, real)) {
        throw new ServiceError('INVALID_ARGUMENT', `destination: ${given} contains the library folder ${folder}, and exports never write around a library folder. Choose a folder outside it, such as a new empty folder.`);
      }
    }
    if (fs.existsSync(real) && !fs.statSync(real).isDirectory()) throw new ServiceError('INVALID_ARGUMENT', `destination: ${given} is a file, not a folder. Choose a folder.`);
    try {
      fs.mkdirSync(real, { recursive: true });
    } catch (error) {
      throw new ServiceError('INVALID_ARGUMENT', `destination: cannot create ${given} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}). Choose a folder you can write to.`);
    }
    return real;
  }

  /** A new folder `<parent>/<name>` (name, name-2, name-3, ... whichever does not exist yet). */
  newFolder(parent: string, name: string): string {
    for (let attempt = 1; ; attempt += 1) {
      const candidate = path.join(parent, attempt === 1 ? name : `${name}-${attempt}`);
      try {
        fs.mkdirSync(candidate);
        return candidate;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new ServiceError('INVALID_ARGUMENT', `Cannot create ${candidate} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}). Choose a folder you can write to.`);
        }
      }
    }
  }

  /** What a class-folder copy will copy where; checks the destination (and creates it). */
  planClassFolders(args: ClassFoldersArgs): ClassFoldersPlan {
    const classifier = args.include === 'both' ? this.classifier(args.classifierId, 'sort the unlabelled images with') : undefined;
    const destination = this.destination(args.destination);
    const predictions = classifier ? this.repo.predictionsOf(classifier.id) : new Map<number, never>();
    const predictedNames = new Map((classifier ? (JSON.parse(classifier.classes) as { id: number; name: string }[]) : []).map((c) => [c.id, c.name]));
    const classNames = new Map<number, string>();
    const chosen: { path: string; classId: number; contentHash: string }[] = [];
    for (const image of this.repo.labelledImages()) {
      if (image.class_id !== null && image.label !== null) {
        classNames.set(image.class_id, image.label);
        chosen.push({ path: image.path, classId: image.class_id, contentHash: image.content_hash });
        continue;
      }
      const prediction = predictions.get(image.id);
      if (prediction && prediction.confidence >= args.minConfidence) {
        if (!classNames.has(prediction.class_id)) classNames.set(prediction.class_id, predictedNames.get(prediction.class_id) ?? String(prediction.class_id));
        chosen.push({ path: image.path, classId: prediction.class_id, contentHash: image.content_hash });
      }
    }
    // One folder per class, named safely; classes whose safe names clash (also by case) get a suffix.
    const folders = new Map<number, string>();
    const usedFolders = new Set<string>();
    for (const [classId, name] of [...classNames.entries()].sort((a, b) => (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : a[0] - b[0]))) {
      const base = safeFileName(name);
      let folder = base;
      for (let n = 2; usedFolders.has(nameKey(folder)); n += 1) folder = `${base} (${n})`;
      usedFolders.add(nameKey(folder));
      folders.set(classId, folder);
    }
    // File names: the image's own (made safe); two images of a class with the same name: the second gets its content hash.
    const usedFiles = new Set<string>();
    const items: CopyItem[] = chosen.map((image) => {
      const folder = folders.get(image.classId)!;
      const { stem, ext } = safeBaseName(path.basename(image.path));
      let fileName = `${stem}${ext}`;
      if (usedFiles.has(nameKey(`${folder}/${fileName}`))) fileName = `${stem}-${image.contentHash.slice(0, 8)}${ext}`;
      for (let n = 2; usedFiles.has(nameKey(`${folder}/${fileName}`)); n += 1) fileName = `${stem}-${image.contentHash.slice(0, 8)}-${n}${ext}`;
      usedFiles.add(nameKey(`${folder}/${fileName}`));
      return { source: image.path, folder, fileName, contentHash: image.contentHash };
    });
    const perClass = [...folders.entries()].map(([classId, folder]) => ({
      name: classNames.get(classId)!,
      folder,
      images: chosen.filter((image) => image.classId === classId).length,
    }));
    return { destination, items, perClass };
  }

  /**
   * Copies the planned files (never moving, never overwriting): a file already there with the
   * same content counts as unchanged; one there with other content makes the copy take a name
   * with a short suffix; unreadable sources are listed in `failed`.
   */
  async copyClassFolders(plan: ClassFoldersPlan, context?: Pick<TaskContext, 'signal' | 'progress'>): Promise<ClassFoldersSummary> {
    const summary: ClassFoldersSummary = { destination: plan.destination, copied: 0, unchanged: 0, failed: [], perClass: plan.perClass.map(({ name, folder, images }) => ({ name, folder, images })) };
    const counts = (): Record<string, number> => ({ copied: summary.copied, unchanged: summary.unchanged, failed: summary.failed.length });
    const total = plan.items.length;
    context?.progress(0, total, undefined, counts());
    for (const [index, item] of plan.items.entries()) {
      if (context?.signal.aborted) throw new TaskCancelled();
      try {
        await this.copyOne(plan.destination, item, summary);
      } catch (error) {
        summary.failed.push({ path: item.source, reason: (error as NodeJS.ErrnoException).code ?? (error as Error).message });
      }
      context?.progress(index + 1, total, `${item.folder}/${item.fileName}`, counts());
    }
    return summary;
  }

  private async copyOne(destination: string, item: CopyItem, summary: ClassFoldersSummary): Promise<void> {
    const folder = path.join(destination, item.folder);
    await fs.promises.mkdir(folder, { recursive: true });
    const { stem, ext } = { stem: path.basename(item.fileName, path.extname(item.fileName)), ext: path.extname(item.fileName) };
    let sourceHash: string | undefined;
    for (let attempt = 0; attempt < 1000; attempt += 1) {
      const name = attempt === 0 ? item.fileName : `${stem}-${item.contentHash.slice(0, 8)}${attempt === 1 ? '' : `-${attempt}`}${ext}`;
      const target = path.join(folder, name);
      try {
        await fs.promises.copyFile(item.source, target, fs.constants.COPYFILE_EXCL);
        summary.copied += 1;
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      // Something is there already: the same content is this image, copied before.
      sourceHash ??= await fileSha256(item.source);
      const [sourceSize, targetStat] = [(await fs.promises.stat(item.source)).size, await fs.promises.stat(target)];
      if (targetStat.isFile() && targetStat.size === sourceSize && (await fileSha256(target)) === sourceHash) {
        summary.unchanged += 1;
        return;
      }
    }
    throw new Error('too many files with this name at the destination');
  }

  /** A class-folder copy as a task (files copied, unchanged, failed as counts; a summary as its last message). */
  startClassFolders(args: ClassFoldersArgs): { task: TaskInfo } {
    const plan = this.planClassFolders(args);
    if (plan.items.length === 0) {
      throw new ServiceError('INVALID_ARGUMENT', args.include === 'labels' ? 'No image has a label yet: label some images first (or include predictions).' : 'No image has a label or a prediction at this confidence: label some images, or lower the minimum confidence.');
    }
    const title = `Copying ${plan.items.length.toLocaleString('en-US')} images into ${plan.perClass.length} class folders`;
    const task = this.context.tasks.start({ kind: 'export', title, unit: 'files', total: plan.items.length }, async (context) => {
      const summary = await this.copyClassFolders(plan, context);
      context.progress(plan.items.length, plan.items.length, describeSummary(summary), {
        copied: summary.copied,
        unchanged: summary.unchanged,
        failed: summary.failed.length,
      });
    });
    return { task };
  }

  /** Plans and copies at once (tests, the CLI). */
  async classFolders(args: ClassFoldersArgs): Promise<ClassFoldersSummary> {
    return this.copyClassFolders(this.planClassFolders(args));
  }

  /** Copies a classifier's saved model (model.json, weights, labels.json) into a new folder under the destination. */
  classifierFiles(args: { classifierId: number; destination: string }): { path: string; files: string[] } {
    const row = this.repo.get(args.classifierId);
    if (!row) throw new ServiceError('NOT_FOUND', `No classifier with id ${args.classifierId}.`);
    const files = row.model_dir && fs.existsSync(row.model_dir) ? fs.readdirSync(row.model_dir).filter((name) => fs.statSync(path.join(row.model_dir!, name)).isFile()) : [];
    if (!files.includes('model.json')) {
      throw new ServiceError('NOT_FOUND', `Classifier ${row.id} has no saved model: it was trained before export was possible (or its files were removed). Retrain it (Fine-tune again) and export the new one.`);
    }
    const destination = this.destination(args.destination);
    const folder = this.newFolder(destination, `${safeFileName(`${row.run_name} ${row.mode}`)}-classifier-${row.id}`);
    for (const name of files) fs.copyFileSync(path.join(row.model_dir!, name), path.join(folder, name), fs.constants.COPYFILE_EXCL);
    return { path: folder, files: files.sort() };
  }

  /** Writes a backbone (a checkpoint's, or random init) into a new folder under the destination, in a trainer process. */
  async backbone(args: { source: EmbeddingSource; destination: string; format: 'safetensors' | 'tfjs' }): Promise<{ path: string; files: string[] }> {
    const run = this.runs.get(args.source.runId);
    if (!run) throw new ServiceError('NOT_FOUND', `No run with id ${args.source.runId}.`);
    let checkpoint: string | undefined;
    if (args.source.kind === 'checkpoint') {
      const step = args.source.step;
      const found = this.runs.checkpoints(run.id).find((c) => c.step === step);
      if (!found || !fs.existsSync(found.file)) throw new ServiceError('NOT_FOUND', `${run.name} has no checkpoint at step ${step}; pick one of its checkpoints on the Runs page.`);
      checkpoint = found.file;
    }
    const destination = this.destination(args.destination);
    const step = args.source.kind === 'checkpoint' ? args.source.step : 0;
    const name = `${safeFileName(run.name)}-${args.source.kind === 'checkpoint' ? `step-${step}` : 'random-init'}-backbone-${args.format}`;
    const folder = this.newFolder(destination, name);
    const job: ExportBackboneJob = {
      kind: 'export-backbone',
      checkpoint,
      config: run.config,
      format: args.format,
      dir: folder,
      step,
      metadata: { run: run.name, source: args.source.kind === 'checkpoint' ? `${run.name} at step ${step}` : `Random init (${run.name}'s architecture)` },
    };
    try {
      // The weights only need reshuffling: cpu, so a run training on the GPU is not disturbed.
      const result = await this.jobs.runComputeJob(job, { engine: 'cpu' });
      return { path: folder, files: result.files };
    } catch (error) {
      // Leave nothing half-written behind: the folder is new and ours.
      fs.rmSync(folder, { recursive: true, force: true });
      throw error;
    }
  }

  /** The calls of the contract this service serves. */
  handlers(): AreaHandlers<ExportCalls> {
    return {
      labelsExport: (args) => this.labels(args),
      classFoldersExport: (args) => this.startClassFolders(args),
      classifierExport: (args) => this.classifierFiles(args),
      backboneExport: (args) => this.backbone(args),
    };
  }
}

/** The final message of a class-folder copy. */
export function describeSummary(summary: ClassFoldersSummary): string {
  const parts = [`Copied ${summary.copied.toLocaleString('en-US')} images into ${summary.perClass.length} class folders at ${summary.destination}`];
  if (summary.unchanged > 0) parts.push(`${summary.unchanged.toLocaleString('en-US')} already there unchanged`);
  // A class name that is no safe file name ("cats/dogs") gets another folder name: say which.
  const renamed = summary.perClass.filter((entry) => entry.folder !== entry.name);
  if (renamed.length > 0) {
    parts.push(`folder names made safe: ${renamed.map((entry) => `"${entry.name}" → ${entry.folder}`).join(', ')}`);
  }
  if (summary.failed.length > 0) {
    const first = summary.failed[0]!;
    parts.push(`${summary.failed.length.toLocaleString('en-US')} could not be copied (${first.path}: ${first.reason}${summary.failed.length > 1 ? ', …' : ''})`);
  }
  return `${parts.join('; ')}.`;
}

type ExportCalls = 'labelsExport' | 'classFoldersExport' | 'classifierExport' | 'backboneExport';

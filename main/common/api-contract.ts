import { z } from 'zod';
import type { EngineReport } from './engine';
import type { FirstRunInfo, FirstRunState } from './first-run';
import {
  galleryQuerySchema,
  importOptionsSchema,
  problemsQuerySchema,
  type ClassInfo,
  type FolderInfo,
  type GalleryItem,
  type GalleryPage,
  type ImageDetails,
  type LibraryChangedEvent,
  type ProblemsPage,
} from './library';
import {
  clusterComputeSchema,
  clusterImagesSchema,
  embeddingsComputeSchema,
  nearDuplicatesSchema,
  projectionSchema,
  similarImagesSchema,
  type ClusterImagesPage,
  type ClusteringInfo,
  type EmbeddingSetInfo,
  type EmbeddingsComputeResult,
  type ImageDistance,
  type NearDuplicatePair,
  type Projection,
} from './embeddings';
import {
  backboneExportSchema,
  classFoldersExportSchema,
  classifierExportSchema,
  classifierIdSchema,
  confusionImagesSchema,
  labelsExportSchema,
  finetuneStartSchema,
  predictionsPageSchema,
  type ClassifierDetails,
  type ClassifierInfo,
  type ExportFile,
  type FinetuneRound,
  type PredictionsPage,
} from './finetune';
import {
  classCreateSchema,
  classDeletePreviewSchema,
  classDeleteSchema,
  classMergeSchema,
  classUpdateSchema,
  labelPreviewSchema,
  labelSetSchema,
  type ClassDeletePreview,
  type LabelPreview,
  type LabelSetResult,
  type LabelStepResult,
} from './labels';
import type { Result } from './result';
import {
  pretrainContinueSchema,
  pretrainEstimateSchema,
  pretrainInspectSchema,
  pretrainStartSchema,
  type BackboneChoice,
  type MontageInspection,
  type PretrainEstimate,
  type RunDetails,
  type RunEvent,
  type RunInfo,
} from './runs';
import { jobExportSchema, jobImportSchema, weightsImportSchema, type JobImportResult, type WeightsImportResult } from './scaleout';
import { settingsPatchSchema, type Settings } from './settings';
import type { TaskInfo } from './tasks';

/**
 * The one API contract between the renderer and the core. Every call (name, argument schema,
 * result type) and every event (name, payload type) is declared here once; the Electron IPC
 * router, the preload, the browser-mode HTTP/WebSocket host and the renderer client are all
 * built from these two maps, so nothing is declared twice.
 */

/** A phantom marker carrying a TypeScript type with no runtime cost. */
export interface TypeMarker<T> {
  readonly __type?: T;
}

/** Declares the TypeScript type of a call result or event payload. */
export function returns<T>(): TypeMarker<T> {
  return {};
}

/** One call: its runtime argument schema, its result type, and what it does. */
export interface CallSpec<A extends z.ZodType, R> {
  args: A;
  result: TypeMarker<R>;
  summary: string;
}

/** One event the core pushes to the renderer. */
export interface EventSpec<P> {
  payload: TypeMarker<P>;
  summary: string;
}

/** Declares a call. */
export function defineCall<A extends z.ZodType, R>(spec: CallSpec<A, R>): CallSpec<A, R> {
  return spec;
}

/** Declares an event. */
export function defineEvent<P>(summary: string): EventSpec<P> {
  return { payload: returns<P>(), summary };
}

/** Where the core is running, as the renderer sees it. */
export type HostMode = 'electron' | 'browser' | 'cli';

/** What the About panel and `jigclu info` show. */
export interface AppInfo {
  name: string;
  version: string;
  mode: HostMode;
  /** The folder holding the database, thumbnails and checkpoints. */
  dataDir: string;
  databasePath: string;
  /** The data folder cannot be written: what it holds is shown, changes are refused (READ_ONLY). */
  readOnly: boolean;
  /** The database schema version after migrations. */
  schemaVersion: number;
  platform: string;
  arch: string;
  versions: { node: string; electron?: string; chrome?: string; sqlite: string };
  engine: EngineReport;
}

/** One file of the log folder. */
export interface LogFileInfo {
  name: string;
  path: string;
  size: number;
  /** ISO time of its last change. */
  modifiedAt: string;
}

/** The log folder (<dataDir>/logs): its files, newest first, and the last lines of the current log. */
export interface LogsInfo {
  dir: string;
  /** The current log, jigclu.log. */
  file: string;
  files: LogFileInfo[];
  tail: string[];
}

/** A heartbeat from the core; the status bar uses it to show the connection is alive. */
export interface PingEvent {
  seq: number;
  /** ISO time the core sent it. */
  sentAt: string;
}

/** A menu command from the desktop app's menu bar. */
export interface MenuEvent {
  command: 'about' | 'settings';
}

const noArgs = z.object({}).strict();
const runId = z.number().int().positive();
const folderId = z.number().int().positive();
/** A folder path typed or picked by the user (absolute; `~` is not expanded). */
const folderPath = z
  .string()
  .min(1)
  .max(4096)
  .refine((value) => !value.includes('\0'), 'a path cannot contain a NUL character');

/** Every call the renderer can make. */
export const calls = {
  appInfo: defineCall({
    args: noArgs,
    result: returns<AppInfo>(),
    summary: 'App version, data folder, schema version and which tfjs engine is available.',
  }),
  logsInfo: defineCall({
    args: z.object({ lines: z.number().int().min(1).max(2000).default(200) }).strict(),
    result: returns<LogsInfo>(),
    summary: 'The log folder, its files with sizes (logs and crash reports) and the last lines of the current log.',
  }),
  settingsGet: defineCall({
    args: noArgs,
    result: returns<Settings>(),
    summary: 'All user settings, with defaults filled in.',
  }),
  settingsSet: defineCall({
    args: z.object({ patch: settingsPatchSchema }).strict(),
    result: returns<Settings>(),
    summary: 'Changes some settings and returns all of them.',
  }),
  tasksList: defineCall({
    args: noArgs,
    result: returns<TaskInfo[]>(),
    summary: 'Running and recently ended long tasks (import, training, ...), newest first.',
  }),
  taskCancel: defineCall({
    args: z.object({ id: z.string().min(1).max(100) }).strict(),
    result: returns<TaskInfo>(),
    summary: 'Asks a running task to stop; it ends as cancelled.',
  }),
  libraryFolders: defineCall({
    args: noArgs,
    result: returns<FolderInfo[]>(),
    summary: 'Registered image folders with their counts (images, rejected, labelled) and scan state.',
  }),
  libraryPickFolder: defineCall({
    args: noArgs,
    result: returns<{ path: string | null }>(),
    summary: 'Opens the native folder dialog (desktop app only); null when the user cancels.',
  }),
  libraryAddFolder: defineCall({
    args: z.object({ path: folderPath, options: importOptionsSchema.optional() }).strict(),
    result: returns<{ folder: FolderInfo; task: TaskInfo }>(),
    summary: 'Registers a folder of images and starts importing it in the background.',
  }),
  libraryRescan: defineCall({
    args: z.object({ folderId }).strict(),
    result: returns<TaskInfo>(),
    summary: 'Looks for new, changed, moved and deleted files in a folder (unchanged files are not decoded again).',
  }),
  libraryRemoveFolder: defineCall({
    args: z.object({ folderId, confirmed: z.boolean().default(false) }).strict(),
    result: returns<{ removedImages: number }>(),
    summary:
      "Forgets a folder: our records and cached thumbnails only, never the user's files. Needs confirmed=true when it has labels.",
  }),
  libraryUseFolderLabels: defineCall({
    args: z.object({ folderId }).strict(),
    result: returns<{ classes: number; labelled: number }>(),
    summary: 'Imports the class-folder names of a folder as labels of its images (and of images added later).',
  }),
  libraryClasses: defineCall({
    args: noArgs,
    result: returns<ClassInfo[]>(),
    summary: 'Every label class with its number key and its number of images, keyed classes by key, then the others in creation order.',
  }),
  libraryPage: defineCall({
    args: galleryQuerySchema,
    result: returns<GalleryPage>(),
    summary: 'One page of the gallery for a filter (folder, label, duplicates, rejected), with the total.',
  }),
  libraryImage: defineCall({
    args: z.object({ id: z.number().int().positive() }).strict(),
    result: returns<ImageDetails>(),
    summary: 'Everything known about one image: path, size, dimensions, format, hash, labels, duplicates.',
  }),
  libraryProblems: defineCall({
    args: problemsQuerySchema,
    result: returns<ProblemsPage>(),
    summary: 'Files that were not imported, each with the reason, a page at a time.',
  }),
  pretrainStart: defineCall({
    args: pretrainStartSchema,
    result: returns<RunInfo>(),
    summary: 'Starts a pretraining run on some library folders (all by default) from a preset and overrides; one at a time.',
  }),
  pretrainPause: defineCall({
    args: z.object({ runId }).strict(),
    result: returns<RunInfo>(),
    summary: 'Pauses the running run between two steps.',
  }),
  pretrainResume: defineCall({
    args: z.object({ runId }).strict(),
    result: returns<RunInfo>(),
    summary: 'Resumes a paused run.',
  }),
  pretrainCancel: defineCall({
    args: z.object({ runId }).strict(),
    result: returns<RunInfo>(),
    summary: 'Stops the running run: it writes a checkpoint, then ends as cancelled.',
  }),
  pretrainEstimate: defineCall({
    args: pretrainEstimateSchema,
    result: returns<PretrainEstimate>(),
    summary: 'Checks run settings field by field and estimates steps, memory and (with measure) time per epoch from a short warm-up.',
  }),
  pretrainContinue: defineCall({
    args: pretrainContinueSchema,
    result: returns<RunInfo>(),
    summary: 'Continues a run that is not training: in place from its newest checkpoint, or as a new run from an older one; epochs extends it.',
  }),
  pretrainInspect: defineCall({
    args: pretrainInspectSchema,
    result: returns<MontageInspection>(),
    summary: 'The montages of one training batch of the running or paused run, with true and predicted locations and cluster neighbours.',
  }),
  pretrainState: defineCall({
    args: noArgs,
    result: returns<RunEvent | null>(),
    summary: 'The latest progress of the run that is training, or null when none is.',
  }),
  runLog: defineCall({
    args: z.object({ runId, lines: z.number().int().min(1).max(10_000).default(500) }).strict(),
    result: returns<{ lines: string[] }>(),
    summary: "The last lines of a run's log.",
  }),
  runUseCheckpoint: defineCall({
    args: z.object({ runId, step: z.number().int().min(0) }).strict(),
    result: returns<BackboneChoice>(),
    summary: 'Chooses a checkpoint as the backbone for clusters and fine-tuning.',
  }),
  backboneGet: defineCall({
    args: noArgs,
    result: returns<BackboneChoice | null>(),
    summary: 'The checkpoint chosen for clusters and fine-tuning, if any.',
  }),
  runsList: defineCall({
    args: noArgs,
    result: returns<RunInfo[]>(),
    summary: 'Every pretraining run, newest first.',
  }),
  runGet: defineCall({
    args: z.object({ runId, maxPoints: z.number().int().min(10).max(10_000).default(2000) }).strict(),
    result: returns<RunDetails>(),
    summary: 'One run with its metric curves (downsampled to at most maxPoints points) and checkpoints.',
  }),
  runRename: defineCall({
    args: z.object({ runId, name: z.string().trim().min(1).max(200) }).strict(),
    result: returns<RunInfo>(),
    summary: 'Renames a run.',
  }),
  runNote: defineCall({
    args: z.object({ runId, note: z.string().max(10_000) }).strict(),
    result: returns<RunInfo>(),
    summary: "Sets a run's note.",
  }),
  runDelete: defineCall({
    args: z.object({ runId, confirm: z.literal(true) }).strict(),
    result: returns<{ deleted: true }>(),
    summary: 'Deletes a run that is not running, with its metrics and its checkpoint folder. Needs confirm=true.',
  }),
  embeddingsCompute: defineCall({
    args: embeddingsComputeSchema,
    result: returns<EmbeddingsComputeResult>(),
    summary: "Embeds the library's images (some folders, or all) with a checkpoint's backbone or a random-init one, as a task; only images without an embedding are computed.",
  }),
  embeddingSets: defineCall({
    args: noArgs,
    result: returns<EmbeddingSetInfo[]>(),
    summary: 'Every embedding set (one per backbone) with how many images it holds.',
  }),
  clusterCompute: defineCall({
    args: clusterComputeSchema,
    result: returns<ClusteringInfo>(),
    summary: "k-means (k-means++ seeding, cosine or Euclidean, seeded) on a set's embeddings, with purity, NMI and ARI against the labels.",
  }),
  clusteringGet: defineCall({
    args: z.object({ clusteringId: z.number().int().positive() }).strict(),
    result: returns<ClusteringInfo>(),
    summary: 'A stored clustering with its clusters and outliers.',
  }),
  clusteringLatest: defineCall({
    args: z.object({ setId: z.number().int().positive() }).strict(),
    result: returns<ClusteringInfo | null>(),
    summary: 'The newest clustering of an embedding set, if any.',
  }),
  clusterImages: defineCall({
    args: clusterImagesSchema,
    result: returns<ClusterImagesPage>(),
    summary: 'One page of the images of a cluster, nearest its centre first.',
  }),
  projectionGet: defineCall({
    args: projectionSchema,
    result: returns<Projection>(),
    summary: "A 2-D map of a set's images: PCA at once, UMAP as a task the first time.",
  }),
  similarImages: defineCall({
    args: similarImagesSchema,
    result: returns<ImageDistance[]>(),
    summary: 'The nearest images to one image in embedding space, with distances.',
  }),
  nearDuplicates: defineCall({
    args: nearDuplicatesSchema,
    result: returns<NearDuplicatePair[]>(),
    summary: 'Pairs of images closer than a threshold in embedding space.',
  }),
  classCreate: defineCall({
    args: classCreateSchema,
    result: returns<ClassInfo>(),
    summary: 'Creates a label class (name trimmed, 1-100 characters, unique ignoring case; colour #rrggbb or automatic).',
  }),
  classUpdate: defineCall({
    args: classUpdateSchema,
    result: returns<ClassInfo>(),
    summary: 'Renames, recolours (color null = automatic palette) and/or re-keys a class (key 1-9, swapped with the class that had it; null = none); its labels stay.',
  }),
  classMerge: defineCall({
    args: classMergeSchema,
    result: returns<{ moved: number }>(),
    summary:
      'Moves every label of one class to another in one transaction, then deletes the first; clears the label undo/redo history.',
  }),
  classDeletePreview: defineCall({
    args: classDeletePreviewSchema,
    result: returns<ClassDeletePreview>(),
    summary: 'How many labels (hand and folder) deleting a class would remove.',
  }),
  classDelete: defineCall({
    args: classDeleteSchema,
    result: returns<{ removedLabels: number }>(),
    summary: 'Deletes a class with all its labels (needs confirm=true); clears the label undo/redo history.',
  }),
  labelPreview: defineCall({
    args: labelPreviewSchema,
    result: returns<LabelPreview>(),
    summary:
      'What labelSet would change for these images and class: how many have no hand label, already have the class, or have another class by hand (per class).',
  }),
  labelSet: defineCall({
    args: labelSetSchema,
    result: returns<LabelSetResult>(),
    summary:
      'Sets (or with classId null removes) the hand label of many images in one transaction (keepHand: only images without a hand label); folder labels are never touched. Undoable.',
  }),
  labelUndo: defineCall({
    args: noArgs,
    result: returns<LabelStepResult>(),
    summary: 'Undoes the last labelSet of this session (restores the previous hand labels of its images).',
  }),
  labelRedo: defineCall({
    args: noArgs,
    result: returns<LabelStepResult>(),
    summary: 'Redoes the last undone labelSet; a new labelSet clears what can be redone.',
  }),
  libraryItems: defineCall({
    args: z.object({ ids: z.array(z.number().int().positive()).max(100_000) }).strict(),
    result: returns<GalleryItem[]>(),
    summary: 'Gallery tiles of some images in the order given (a selection shown as a grid).',
  }),
  finetuneStart: defineCall({
    args: finetuneStartSchema,
    result: returns<{ task: TaskInfo }>(),
    summary:
      'Trains a linear probe and/or a fine-tune from the current labels (at least 2 classes) on the chosen backbone, as one task, and predicts every image of the scope.',
  }),
  classifiersList: defineCall({
    args: noArgs,
    result: returns<ClassifierInfo[]>(),
    summary: 'Every classifier trained from the labels, newest first, with its validation accuracy and whether it is the chosen one.',
  }),
  classifierGet: defineCall({
    args: classifierIdSchema,
    result: returns<ClassifierDetails>(),
    summary: 'One classifier with its training history, validation confusion matrix and per-class accuracy.',
  }),
  classifierChoose: defineCall({
    args: classifierIdSchema,
    result: returns<ClassifierInfo>(),
    summary: 'Makes a classifier the chosen one (whose predictions are shown by default).',
  }),
  predictionsPage: defineCall({
    args: predictionsPageSchema,
    result: returns<PredictionsPage>(),
    summary: "One page of a classifier's predictions (the chosen one by default), filtered and ordered by confidence; least confident unlabelled first is the review queue.",
  }),
  confusionImages: defineCall({
    args: confusionImagesSchema,
    result: returns<number[]>(),
    summary: 'The validation images of one cell of a classifier\'s confusion matrix (true class, predicted class).',
  }),
  finetuneRounds: defineCall({
    args: noArgs,
    result: returns<FinetuneRound[]>(),
    summary: 'Every fine-tune round, oldest first, with its label count and the validation accuracy of each of its classifiers.',
  }),
  labelsExport: defineCall({
    args: labelsExportSchema,
    result: returns<ExportFile>(),
    summary: 'Labels and/or predictions as CSV or JSON (path, label, source, confidence), handed back as a file to save.',
  }),
  classFoldersExport: defineCall({
    args: classFoldersExportSchema,
    result: returns<{ task: TaskInfo }>(),
    summary: 'Copies (never moves) the library into one folder per class at a destination outside every library folder, as a task with progress and a summary.',
  }),
  classifierExport: defineCall({
    args: classifierExportSchema,
    result: returns<{ path: string; files: string[] }>(),
    summary: 'Writes a classifier as a TF.js layers model (model.json + weights) with labels.json into a new folder under the destination.',
  }),
  backboneExport: defineCall({
    args: backboneExportSchema,
    result: returns<{ path: string; files: string[] }>(),
    summary: 'Writes a backbone as safetensors with torchvision ResNet names (or as TF.js weights) into a new folder under the destination.',
  }),
  jobExport: defineCall({
    args: jobExportSchema,
    result: returns<{ task: TaskInfo; path: string }>(),
    summary: "Starts exporting a run's checkpoint as a PyTorch DDP job folder for torchrun (job.json, manifest, init weights, trainer, run.sh, golden batches) under the destination.",
  }),
  jobImport: defineCall({
    args: jobImportSchema,
    result: returns<JobImportResult>(),
    summary: "Imports a DDP job's output folder as a new run that remembers its parent run and step and the engine, with its checkpoints and curves.",
  }),
  weightsImport: defineCall({
    args: weightsImportSchema,
    result: returns<WeightsImportResult>(),
    summary: 'Imports a torchvision ResNet state dict or a reference JigClu checkpoint (safetensors; .pth with Python torch) as a run at step 0 on library folders.',
  }),
  firstRunInfo: defineCall({
    args: noArgs,
    result: returns<FirstRunInfo>(),
    summary: 'Whether this is a fresh install (no folder, no run), where the bundled sample set is, and the latest first run of this session.',
  }),
  firstRunStart: defineCall({
    args: noArgs,
    result: returns<{ task: TaskInfo; state: FirstRunState }>(),
    summary:
      'The guided first run, as one task: imports the sample set, labels 4 images per class, pretrains cpu-small briefly, chooses its last checkpoint, embeds, clusters (k = 4) and fine-tunes.',
  }),
} as const;

/** Every event the core pushes to the renderer. */
export const events = {
  ping: defineEvent<PingEvent>('Heartbeat every few seconds while the core is running.'),
  menu: defineEvent<MenuEvent>('A command chosen in the desktop menu bar.'),
  task: defineEvent<TaskInfo>('Progress of a long task: counts, rate, ETA; always a final update when it ends.'),
  library: defineEvent<LibraryChangedEvent>('Folders, counts or thumbnails changed; views refresh what they show.'),
  run: defineEvent<RunEvent>('Progress of the pretraining run: step, epoch, losses, learning rate, images/s, ETA; a final update when it ends.'),
} as const;

export type Calls = typeof calls;
export type Events = typeof events;
export type CallName = keyof Calls;
export type EventName = keyof Events;

/** The argument type of a call, as the caller writes it (before defaults are applied). */
export type CallArgs<K extends CallName> = z.input<Calls[K]['args']>;
/** The argument type of a call after validation (defaults applied). */
export type ParsedCallArgs<K extends CallName> = z.output<Calls[K]['args']>;
/** The result type of a call. */
export type CallResult<K extends CallName> =
  Calls[K]['result'] extends TypeMarker<infer R> ? R : never;
/** The payload type of an event. */
export type EventPayload<K extends EventName> =
  Events[K]['payload'] extends TypeMarker<infer P> ? P : never;

export const callNames = Object.keys(calls) as CallName[];
export const eventNames = Object.keys(events) as EventName[];

/** True when `name` is a call of the contract (own property; never a prototype key). */
export function isCallName(name: unknown): name is CallName {
  return typeof name === 'string' && Object.hasOwn(calls, name);
}

/** True when `name` is an event of the contract. */
export function isEventName(name: unknown): name is EventName {
  return typeof name === 'string' && Object.hasOwn(events, name);
}

/** The name of the preload method that subscribes to an event: ping -> onPing. */
export type EventMethodName<K extends EventName> = `on${Capitalize<K>}`;

/** Returns the preload method name for an event. */
export function eventMethodName<K extends EventName>(name: K): EventMethodName<K> {
  return `on${name.charAt(0).toUpperCase()}${name.slice(1)}` as EventMethodName<K>;
}

/**
 * What the preload exposes on `window.jigclu`: one method per call and one subscribe method
 * per event (returning an unsubscribe function). No generic send, no getters.
 */
export type PreloadApi = {
  [K in CallName]: (args: CallArgs<K>) => Promise<Result<CallResult<K>>>;
} & {
  [K in EventName as EventMethodName<K>]: (listener: (payload: EventPayload<K>) => void) => () => void;
};

/**
 * What the preload exposes on `window.jigcluFiles` besides the API: the path of a file or folder
 * the user dropped on the window (Electron's webUtils.getPathForFile; a page cannot read it, and
 * the path then goes through the validated calls like a typed one).
 */
export interface PreloadFiles {
  /** `file`: a File of a drop or a file input (typed loosely: main/common has no DOM types). */
  pathOf(file: object): string;
}

/** IPC channel for calls; the name travels as the first argument and is checked by the router. */
export const ipcCallChannel = 'jigclu:call';
/** IPC channel for events pushed from the main process. */
export const ipcEventChannel = 'jigclu:event';

/** HTTP route prefix of calls in browser mode: POST /api/call/<name> with `{ args }`. */
export const httpCallPrefix = '/api/call/';
/** WebSocket path of the event stream in browser mode. */
export const httpEventsPath = '/api/events';
/** Header carrying the per-launch token in browser mode. */
export const tokenHeader = 'x-jigclu-token';
/** Query parameter carrying the per-launch token in the URL the host prints. */
export const tokenQuery = 'token';

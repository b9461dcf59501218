import type { EventName, EventPayload, HostMode } from '../common/api-contract';
import type { PretrainOverrides } from '../common/pretrain-config';
import type { ImageDecoder } from '../data/decode';
import type { EngineProbe } from '../engine/backend/engine-probe';
import type { ComputeHost } from '../jobs/compute-client';
import type { ProcessLauncher } from '../jobs/launcher';
import type { TrainerHandle } from '../jobs/trainer-host';
import type { Database } from '../store/db';
import type { Handlers } from './dispatch';
import type { StorageGuard } from './storage-guard';
import type { TaskRegistry } from './tasks';

/**
 * What every service may use from the host that runs it, and the options of the areas. This
 * module imports no area: services receive their neighbours as constructor arguments from
 * createServices (app-services.ts), never by looking them up.
 */

/** What the services need from the host that runs them. */
export interface ServiceContext {
  db: Database;
  dataDir: string;
  databasePath: string;
  /** The data folder cannot be written: the database is open read-only and writes are refused. */
  readOnly?: boolean;
  /** Storage problems (full disk, damaged database) seen by the services outside calls (training messages). */
  storage?: StorageGuard;
  mode: HostMode;
  version: string;
  /** Reports the engines; called once per requested engine and cached. */
  probeEngines: EngineProbe;
  /** Extra versions the host knows (Electron, Chrome). */
  versions?: { electron?: string; chrome?: string };
  /** Long work with progress and cancel. */
  tasks: TaskRegistry;
  /** Pushes an event to every connected view (the core's event hub). */
  emit?: <K extends EventName>(name: K, payload: EventPayload<K>) => void;
}

/** The calls one area of the app implements; `createServices` joins the areas. */
export type AreaHandlers<K extends keyof Handlers> = Pick<Handlers, K>;

export interface LibraryOptions {
  /** The decoder imports use (tests inject a counting one). */
  decoder?: ImageDecoder;
  /** Files read and decoded at once during an import. */
  concurrency?: number;
  /** Outcomes stored per transaction during an import. */
  batchSize?: number;
  /** Thumbnails made at once. */
  thumbnailConcurrency?: number;
  /** Start making thumbnails after each import (default true). */
  autoThumbnails?: boolean;
}

export interface PretrainingOptions {
  /** The built trainer-process.js; required to start runs and compute jobs (the core passes the bundled one). */
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

/**
 * What the first run trains: short enough for a CPU. Measured in browser mode on wasm (2 cores):
 * 30 epochs of cpu-small on the 96 sample images take about 60 s, the whole first run about 2 min 15 s.
 */
export interface FirstRunPlan {
  /** Where the sample set is; found next to the app when left out. */
  sampleDir?: string;
  /** Overrides of the cpu-small preset. */
  pretrain: PretrainOverrides;
  /** Epochs of each classifier (undefined: the service's defaults). */
  finetuneEpochs?: number;
  labelsPerClass: number;
  k: number;
  /** How often waiting steps poll, in ms. */
  pollMs: number;
}

/** The options of the areas, given to createServices. */
export interface ServiceOptions {
  /** Options of the image library (tests inject a decoder, smaller batches). */
  library?: LibraryOptions;
  /** Options of pretraining runs and compute jobs (the trainer script; tests inject their own hosts). */
  pretraining?: PretrainingOptions;
  /** What the first run does (tests shorten it). */
  firstRun?: FirstRunPlan;
}

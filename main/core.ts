import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HostMode } from './common/api-contract';
import { createForkedEngineProbe, type EngineProbe } from './engine/backend/engine-probe';
import type { ProcessLauncher } from './jobs/launcher';
import { createServices, type Services } from './services/app-services';
import type { FirstRunPlan, LibraryOptions, PretrainingOptions, ServiceContext } from './services/context';
import { guardHandlers, StorageGuard } from './services/storage-guard';
import type { Handlers } from './services/dispatch';
import { EventHub, startPing } from './services/event-hub';
import type { MediaSource } from './services/library';
import { TaskRegistry } from './services/tasks';
import { openDatabase, type Database } from './store/db';
import { appLogger, Logger, logsDir, setAppLogger } from './log';
import { databasePath } from './paths';
import { appVersion } from './version';

export interface CoreOptions {
  dataDir: string;
  mode: HostMode;
  /** better_sqlite3.node built for the running ABI (Electron); Node uses its own. */
  nativeBinding?: string;
  /** Engine probe; defaults to forking the built probe-process.js beside this bundle. */
  probeEngines?: EngineProbe;
  /** Heartbeat period of the `ping` event. */
  pingIntervalMs?: number;
  versions?: { electron?: string; chrome?: string };
  /** Options of the image library (tests inject a decoder). */
  library?: LibraryOptions;
  /** Pretraining runs; the trainer script defaults to the built trainer-process.js beside this bundle. */
  pretraining?: PretrainingOptions;
  /** Starts helper processes (trainer, engine probe): Node's fork by default, Electron's utilityProcess in the desktop app. */
  launcher?: ProcessLauncher;
  /** What the welcome screen's first run does (tests shorten it). */
  firstRun?: FirstRunPlan;
}

/** The running core: its call handlers, its event hub and how to stop it. */
export interface Core {
  /** Every call of the contract, guarded against storage problems. */
  handlers: Handlers;
  /** The services themselves (the CLI's commands use them beside the calls). */
  services: Services;
  hub: EventHub;
  tasks: TaskRegistry;
  db: Database;
  dataDir: string;
  /** Thumbnails and images of the library by id, for browser mode's routes and Electron's protocol. */
  media: MediaSource;
  /** True while a pretraining run trains or is paused (quitting should ask first). */
  hasActiveRun(): boolean;
  /** Stops the training run with a checkpoint and waits for it (it stays resumable as interrupted). */
  stopTraining(timeoutMs?: number): Promise<void>;
  /** Stops any training job (a clean stop with a checkpoint when it can), then closes. */
  close(): void;
}

/**
 * JIGCLU_STEP_DELAY_MS slows every training step down (demos, and the end-to-end tests that
 * must pause a run on 24 images before it finishes). Unset in normal use.
 */
function stepDelayFromEnv(): number | undefined {
  const value = Number(process.env.JIGCLU_STEP_DELAY_MS);
  return Number.isFinite(value) && value > 0 ? Math.min(value, 60_000) : undefined;
}

/** The probe script shipped beside the built entry points (out/main/engine-probe.js). */
export function bundledProbeScript(): string {
  return path.join(path.dirname(fileURLToPath(import.meta.url)), 'engine-probe.js');
}

/** The trainer script shipped beside the built entry points (out/main/trainer-process.js). */
export function bundledTrainerScript(): string {
  return path.join(path.dirname(fileURLToPath(import.meta.url)), 'trainer-process.js');
}

/** True when this process may create and change files in `target` (false on a read-only disk too, even for root). */
function isWritable(target: string): boolean {
  try {
    fs.accessSync(target, fs.constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Opens the data folder and database and builds the services every transport serves. A data
 * folder that cannot be written opens read-only: calls that read work, the others are refused
 * with READ_ONLY.
 */
export function startCore(options: CoreOptions): Core {
  try {
    fs.mkdirSync(options.dataDir, { recursive: true });
  } catch (cause) {
    throw new Error(`Cannot create the data folder ${options.dataDir} (${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}): choose another with --data-dir.`, { cause });
  }
  const logger = new Logger(logsDir(options.dataDir));
  setAppLogger(logger);
  logger.info('core', `JigClu Studio ${appVersion} starting (${options.mode}, ${process.platform} ${process.arch}, node ${process.versions.node}); data folder ${options.dataDir}`);
  const dbFile = databasePath(options.dataDir);
  const readOnly = !isWritable(options.dataDir) || (fs.existsSync(dbFile) && !isWritable(dbFile));
  if (readOnly) logger.warn('core', `the data folder ${options.dataDir} is read-only: reading only`);
  let db: Database;
  try {
    db = openDatabase(dbFile, { ...(options.nativeBinding ? { nativeBinding: options.nativeBinding } : {}), readOnly });
  } catch (error) {
    logger.error('core', `could not open the database ${dbFile}`, error);
    throw error;
  }
  const guard = new StorageGuard(db, options.dataDir, dbFile);
  const hub = new EventHub();
  const stopPing = startPing(hub, options.pingIntervalMs ?? 5000);
  const tasks = new TaskRegistry((info) => hub.emit('task', info));
  const context: ServiceContext = {
    db,
    dataDir: options.dataDir,
    databasePath: dbFile,
    readOnly,
    storage: guard,
    mode: options.mode,
    version: appVersion,
    probeEngines: options.probeEngines ?? createForkedEngineProbe(bundledProbeScript(), undefined, options.launcher),
    versions: options.versions,
    tasks,
    emit: (name, payload) => hub.emit(name, payload),
  };
  const services = createServices(context, {
    library: options.library,
    pretraining: { trainerScript: bundledTrainerScript(), stepDelayMs: stepDelayFromEnv(), launcher: options.launcher, ...options.pretraining },
    firstRun: options.firstRun,
  });
  const handlers = guardHandlers(services.handlers, guard);
  return {
    handlers,
    services,
    hub,
    tasks,
    db,
    dataDir: options.dataDir,
    media: services.library.media,
    hasActiveRun: () => services.pretraining.hasActiveRun(),
    stopTraining: (timeoutMs) => services.pretraining.stopForQuit(timeoutMs),
    close() {
      logger.info('core', 'shutting down');
      stopPing();
      services.pretraining.close();
      void tasks.cancelAll();
      db.close();
      if (appLogger() === logger) setAppLogger(undefined);
    },
  };
}

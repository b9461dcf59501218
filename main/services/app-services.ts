import os from 'node:os';
import type { AppInfo, EventName, EventPayload, HostMode } from '../common/api-contract';
import type { EngineReport } from '../common/engine';
import { ServiceError } from '../common/result';
import { logsDir, readLogsInfo } from '../log';
import { settingsSchema, type Settings, type SettingsPatch } from '../common/settings';
import { schemaVersion, type Database } from '../store/db';
import { SettingsRepository } from '../store/settings-repository';
import type { EngineProbe } from '../engine/engine-probe';
import type { Handlers } from './dispatch';
import { embeddingHandlers } from './embeddings';
import { finetuneHandlers } from './finetune';
import { firstRunHandlers } from './first-run';
import { labelsHandlers } from './labels';
import { libraryHandlers, type LibraryOptions } from './library';
import { pretrainingHandlers, type PretrainingOptions } from './pretraining';
import { scaleoutHandlers } from './scaleout';
import type { StorageGuard } from './storage-guard';
import type { TaskRegistry } from './tasks';

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
  /** Options of the image library (tests inject a decoder, smaller batches). */
  library?: LibraryOptions;
  /** Options of pretraining runs (the trainer script; tests inject their own). */
  pretraining?: PretrainingOptions;
}

/** The calls one area of the app implements; `createServices` joins the areas. */
export type AreaHandlers<K extends keyof Handlers> = Pick<Handlers, K>;

/** Builds the handlers of every call in the contract over one database. */
export function createServices(context: ServiceContext): Handlers {
  return {
    ...appHandlers(context),
    ...taskHandlers(context),
    ...libraryHandlers(context),
    ...labelsHandlers(context),
    ...pretrainingHandlers(context),
    ...embeddingHandlers(context),
    ...finetuneHandlers(context),
    ...firstRunHandlers(context),
    ...scaleoutHandlers(context),
  };
}

function taskHandlers(context: ServiceContext): AreaHandlers<'tasksList' | 'taskCancel'> {
  return {
    tasksList: () => context.tasks.list(),
    taskCancel: ({ id }) => context.tasks.cancel(id),
  };
}

function appHandlers(context: ServiceContext): AreaHandlers<'appInfo' | 'logsInfo' | 'settingsGet' | 'settingsSet'> {
  const settings = new SettingsRepository(context.db);
  const engineReports = new Map<string, Promise<EngineReport>>();

  function readSettings(): Settings {
    // Stored values that no longer validate (an older app wrote them) fall back to defaults
    // one key at a time, so one bad value never hides the others.
    const stored = settings.all();
    const merged: Record<string, unknown> = {};
    for (const key of Object.keys(settingsSchema.shape)) {
      const single = settingsSchema.shape[key as keyof Settings].safeParse(stored[key]);
      if (single.success) merged[key] = single.data;
    }
    return settingsSchema.parse(merged);
  }

  function engineReport({ engine, threads }: Settings): Promise<EngineReport> {
    const key = `${engine}/${threads}`;
    let report = engineReports.get(key);
    if (!report) {
      report = context.probeEngines(engine, threads).catch((error: unknown) => {
        engineReports.delete(key);
        throw new ServiceError('UNAVAILABLE', `Could not probe the tfjs engines: ${(error as Error).message}`);
      });
      engineReports.set(key, report);
    }
    return report;
  }

  return {
    async appInfo(): Promise<AppInfo> {
      const sqlite = (context.db.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v;
      return {
        name: 'JigClu Studio',
        version: context.version,
        mode: context.mode,
        dataDir: context.dataDir,
        databasePath: context.databasePath,
        readOnly: context.readOnly ?? false,
        schemaVersion: schemaVersion(context.db),
        platform: os.platform(),
        arch: os.arch(),
        versions: { node: process.versions.node, sqlite, ...context.versions },
        engine: await engineReport(readSettings()),
      };
    },
    logsInfo: ({ lines }) => readLogsInfo(logsDir(context.dataDir), lines),
    settingsGet: () => readSettings(),
    settingsSet({ patch }: { patch: SettingsPatch }) {
      settings.setMany(patch);
      return readSettings();
    },
  };
}

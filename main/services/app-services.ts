import os from 'node:os';
import type { AppInfo } from '../common/api-contract';
import type { EngineReport } from '../common/engine';
import { ServiceError } from '../common/result';
import { logsDir, readLogsInfo } from '../log';
import { settingsSchema, type Settings, type SettingsPatch } from '../common/settings';
import { ComputeJobClient, type ComputeHost } from '../jobs/compute-client';
import { TrainerHost } from '../jobs/trainer-host';
import { TrainerSlot } from '../jobs/trainer-slot';
import { schemaVersion } from '../store/db';
import { SettingsRepository } from '../store/settings-repository';
import { BackboneService } from './backbone';
import type { AreaHandlers, PretrainingOptions, ServiceContext, ServiceOptions } from './context';
import type { Handlers } from './dispatch';
import { EmbeddingsService } from './embeddings';
import { jobEngine, jobThreads } from './engine-setting';
import { ExportsService } from './exports';
import { FinetuneService } from './finetune';
import { defaultFirstRunPlan, FirstRunService } from './first-run';
import { LabelsService } from './labels';
import { LibraryService } from './library';
import { PretrainingService } from './pretraining';
import { RunsService } from './runs';
import { ScaleoutService } from './scaleout';

/** The services of one core and the handlers of every call of the contract, built over them. */
export interface Services {
  handlers: Handlers;
  library: LibraryService;
  labels: LabelsService;
  runs: RunsService;
  pretraining: PretrainingService;
  backbone: BackboneService;
  embeddings: EmbeddingsService;
  finetune: FinetuneService;
  exports: ExportsService;
  scaleout: ScaleoutService;
  firstRun: FirstRunService;
  /** Runs compute jobs in trainer processes (also for commands that use the services directly). */
  jobs: ComputeJobClient;
  /** One job uses the engine at a time. */
  slot: TrainerSlot;
}

/** The process host of one compute job: the injected one, else a fresh trainer process. */
function computeHostFactory(options: PretrainingOptions): () => ComputeHost {
  return () => {
    if (options.createComputeHost) return options.createComputeHost();
    if (!options.trainerScript) throw new ServiceError('UNAVAILABLE', 'This host cannot run compute jobs: the trainer process is not available.');
    return new TrainerHost(options.trainerScript, { launcher: options.launcher });
  };
}

/**
 * The composition root: builds each service once, over one database, handing it the services
 * and helpers it needs as constructor arguments, and joins their handlers into one table.
 */
export function createServices(context: ServiceContext, options: ServiceOptions = {}): Services {
  const pretrainingOptions = options.pretraining ?? {};
  const slot = new TrainerSlot();
  const jobs = new ComputeJobClient(computeHostFactory(pretrainingOptions), (requested) => jobEngine(context.db, requested), () => jobThreads(context.db));
  const library = new LibraryService(context, options.library);
  const labels = new LabelsService(context);
  const runs = new RunsService(context, slot);
  const backbone = new BackboneService(runs.repo, new SettingsRepository(context.db));
  const pretraining = new PretrainingService(context, pretrainingOptions, slot, runs, backbone);
  const embeddings = new EmbeddingsService(context, jobs, slot);
  const finetune = new FinetuneService(context, jobs, slot, backbone);
  const exports = new ExportsService(context, jobs);
  const scaleout = new ScaleoutService(context, jobs, runs, exports);
  const areas = {
    ...appHandlers(context),
    ...taskHandlers(context),
    ...library.handlers(),
    ...labels.handlers(),
    ...runs.handlers(),
    ...pretraining.handlers(),
    ...backbone.handlers(),
    ...embeddings.handlers(),
    ...finetune.handlers(),
    ...exports.handlers(),
    ...scaleout.handlers(),
  };
  const firstRun = new FirstRunService(context, areas, backbone, options.firstRun ?? defaultFirstRunPlan);
  const handlers: Handlers = { ...areas, ...firstRun.handlers() };
  return { handlers, library, labels, runs, pretraining, backbone, embeddings, finetune, exports, scaleout, firstRun, jobs, slot };
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

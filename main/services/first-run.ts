import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  firstRunLabelsPerClass,
  firstRunStepTitles,
  firstRunSteps,
  type FirstRunInfo,
  type FirstRunResult,
  type FirstRunState,
  type FirstRunStep,
} from '../common/first-run';
import { maxPageSize } from '../common/library';
import type { PretrainOverrides } from '../common/pretrain-config';
import { ServiceError } from '../common/result';
import type { TaskInfo } from '../common/tasks';
import type { AreaHandlers, ServiceContext } from './app-services';
import { embeddingHandlers } from './embeddings';
import { finetuneHandlers } from './finetune';
import { labelsHandlers } from './labels';
import { libraryHandlers } from './library';
import { pretrainingHandlers, pretrainingService } from './pretraining';
import { TaskCancelled, throwIfCancelled, type TaskContext } from './tasks';

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

export const defaultFirstRunPlan: FirstRunPlan = {
  pretrain: { epochs: 30 },
  finetuneEpochs: 30,
  labelsPerClass: firstRunLabelsPerClass,
  k: 4,
  pollMs: 500,
};

/** Share of the task's progress (percent) each step takes, measured on a CPU. */
const stepWeights: Record<FirstRunStep, number> = {
  import: 4,
  labels: 1,
  pretrain: 48,
  checkpoint: 1,
  embed: 6,
  cluster: 2,
  finetune: 38,
};

/**
 * The bundled sample set: JIGCLU_SAMPLE_DIR, else `sample` in the packaged app's resources
 * (electron-builder's extraResources), else resources/sample of the source tree or the built
 * app (found from this file upwards: main/services or out/main).
 */
export function findSampleDir(env: NodeJS.ProcessEnv = process.env): string | null {
  const candidates: string[] = [];
  if (env.JIGCLU_SAMPLE_DIR) candidates.push(path.resolve(env.JIGCLU_SAMPLE_DIR));
  const resourcesPath = (process as { resourcesPath?: string }).resourcesPath;
  if (resourcesPath) candidates.push(path.join(resourcesPath, 'sample'));
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let up = 0; up < 5; up += 1) {
    candidates.push(path.join(dir, 'resources', 'sample'));
    dir = path.dirname(dir);
  }
  for (const candidate of candidates) {
    try {
      if (fs.statSync(candidate).isDirectory() && fs.readdirSync(candidate).some((name) => fs.statSync(path.join(candidate, name)).isDirectory())) {
        return candidate;
      }
    } catch {
      // Not there: try the next place.
    }
  }
  return null;
}

/** Waits for a task of another service; cancelling the first run cancels it. Throws unless it finished. */
async function waitTask(context: ServiceContext, task: TaskInfo, signal: AbortSignal, what: string): Promise<TaskInfo> {
  const onAbort = (): void => {
    try {
      context.tasks.cancel(task.id);
    } catch {
      // Already gone.
    }
  };
  signal.addEventListener('abort', onAbort);
  try {
    const ended = await context.tasks.settled(task.id);
    throwIfCancelled(signal);
    if (ended.status !== 'finished') throw new Error(`${what} ${ended.status}${ended.error ? `: ${ended.error}` : ''}.`);
    return ended;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
}

class FirstRunService {
  private state: FirstRunState | null = null;
  private readonly library;
  private readonly labels;
  private readonly pretraining;
  private readonly embeddings;
  private readonly finetune;

  constructor(
    private readonly context: ServiceContext,
    private readonly plan: FirstRunPlan,
  ) {
    // The areas keep one service per context: these are the same services the contract serves.
    this.library = libraryHandlers(context);
    this.labels = labelsHandlers(context);
    this.pretraining = pretrainingHandlers(context);
    this.embeddings = embeddingHandlers(context);
    this.finetune = finetuneHandlers(context);
  }

  info(): FirstRunInfo {
    const folders = this.context.db.prepare('SELECT count(*) FROM folders').pluck().get() as number;
    const runs = this.context.db.prepare('SELECT count(*) FROM runs').pluck().get() as number;
    return { fresh: folders === 0 && runs === 0, sampleDir: this.plan.sampleDir ?? findSampleDir(), run: this.state && { ...this.state } };
  }

  start(): { task: TaskInfo; state: FirstRunState } {
    if (this.state?.status === 'running') throw new ServiceError('CONFLICT', 'The sample run is already running: wait for it or cancel it.');
    const sampleDir = this.plan.sampleDir ?? findSampleDir();
    if (!sampleDir) throw new ServiceError('NOT_FOUND', 'This install has no sample images (resources/sample is missing): add a folder of your own instead.');
    const task = this.context.tasks.start({ kind: 'first-run', title: 'Trying JigClu on the sample images', unit: '%', total: 100 }, async (task) => {
      try {
        const result = await this.run(sampleDir, task);
        this.update({ status: 'finished', result, message: 'Done.', endedAt: new Date().toISOString() });
      } catch (error) {
        const cancelled = error instanceof TaskCancelled || task.signal.aborted;
        this.update({
          status: cancelled ? 'cancelled' : 'failed',
          error: cancelled ? undefined : ((error as Error).message ?? String(error)),
          message: cancelled ? 'Cancelled.' : 'Failed.',
          endedAt: new Date().toISOString(),
        });
        throw cancelled ? new TaskCancelled() : error;
      }
    });
    this.state = { taskId: task.id, status: 'running', step: 'import', stepIndex: 0, message: firstRunStepTitles.import, startedAt: task.startedAt };
    return { task, state: { ...this.state } };
  }

  private update(patch: Partial<FirstRunState>): void {
    if (this.state) this.state = { ...this.state, ...patch };
  }

  /** Enters a step: its progress starts after the steps before it. */
  private enter(task: TaskContext, step: FirstRunStep, detail?: string): (fraction: number, message?: string) => void {
    throwIfCancelled(task.signal);
    const index = firstRunSteps.indexOf(step);
    const before = firstRunSteps.slice(0, index).reduce((sum, name) => sum + stepWeights[name], 0);
    const prefix = `Step ${index + 1} of ${firstRunSteps.length}: ${firstRunStepTitles[step]}`;
    const report = (fraction: number, message?: string): void => {
      const text = message ? `${prefix} (${message})` : prefix;
      this.update({ step, stepIndex: index, message: text });
      task.progress(Math.round(before + stepWeights[step] * Math.min(1, Math.max(0, fraction))), 100, text);
    };
    report(0, detail);
    return report;
  }

  private async run(sampleDir: string, task: TaskContext): Promise<FirstRunResult> {
    const started = performance.now();
    const { signal } = task;

    // 1. Import (or reuse) the sample folder.
    let progress = this.enter(task, 'import');
    const resolved = path.resolve(sampleDir);
    let folder = (await this.library.libraryFolders({})).find((f) => path.resolve(f.path) === resolved);
    if (!folder) {
      const added = await this.library.libraryAddFolder({ path: resolved });
      await waitTask(this.context, added.task, signal, 'Importing the sample images');
      folder = (await this.library.libraryFolders({})).find((f) => f.id === added.folder.id)!;
    }
    progress(1, `${folder.images} images`);

    // 2. Hand-label the first few images of each class folder; the rest stay unlabelled.
    progress = this.enter(task, 'labels');
    const byClass = new Map<string, { id: number; relPath: string }[]>();
    for (let offset = 0; ; offset += maxPageSize) {
      const page = await this.library.libraryPage({ folderId: folder.id, show: 'images', offset, limit: maxPageSize });
      for (const item of page.items) {
        const name = item.relPath.split('/')[0]!;
        if (name === item.relPath) continue;
        byClass.set(name, [...(byClass.get(name) ?? []), { id: item.id, relPath: item.relPath }]);
      }
      if (offset + maxPageSize >= page.total) break;
    }
    const classNames = [...byClass.keys()].sort();
    if (classNames.length < 2) throw new Error(`The sample folder ${resolved} has fewer than 2 class folders.`);
    const existing = await this.library.libraryClasses({});
    let sampleImages = 0;
    for (const name of classNames) {
      const images = byClass.get(name)!.sort((a, b) => a.relPath.localeCompare(b.relPath));
      sampleImages += images.length;
      const classId = existing.find((c) => c.name.toLowerCase() === name.toLowerCase())?.id ?? (await this.labels.classCreate({ name })).id;
      await this.labels.labelSet({ imageIds: images.slice(0, this.plan.labelsPerClass).map((image) => image.id), classId });
    }
    progress(1, `${this.plan.labelsPerClass} of each of ${classNames.length} classes`);

    // 3. Pretrain a small backbone and wait for it.
    progress = this.enter(task, 'pretrain');
    const pretrainStarted = performance.now();
    const run = await this.pretraining.pretrainStart({ folderIds: [folder.id], preset: 'cpu-small', overrides: this.plan.pretrain });
    // A run of the user's own that finishes later replaces this backbone by itself.
    pretrainingService(this.context).markSampleRun(run.id);
    let details = await this.pretraining.runGet({ runId: run.id, maxPoints: 10 });
    const onAbort = (): void => {
      void Promise.resolve()
        .then(() => this.pretraining.pretrainCancel({ runId: run.id }))
        .catch(() => undefined);
    };
    signal.addEventListener('abort', onAbort);
    try {
      while (details.status === 'running' || details.status === 'paused') {
        await sleep(this.plan.pollMs, signal);
        const live = await this.pretraining.pretrainState({});
        if (live && live.runId === run.id && live.totalSteps > 0) {
          progress(live.step / live.totalSteps, `epoch ${Math.min(live.epoch + 1, live.epochs)} of ${live.epochs}, step ${live.step} of ${live.totalSteps}`);
        }
        details = await this.pretraining.runGet({ runId: run.id, maxPoints: 10 });
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
    throwIfCancelled(signal);
    if (details.status !== 'finished') throw new Error(`The pretraining run ended as ${details.status}${details.error ? `: ${details.error}` : ''}.`);
    const pretrainSeconds = (performance.now() - pretrainStarted) / 1000;

    // 4. Its last checkpoint becomes the backbone.
    progress = this.enter(task, 'checkpoint');
    const checkpoint = details.checkpoints.at(-1);
    if (!checkpoint) throw new Error('The pretraining run wrote no checkpoint.');
    await this.pretraining.runUseCheckpoint({ runId: run.id, step: checkpoint.step });
    progress(1);

    // 5. Embed every sample image.
    progress = this.enter(task, 'embed');
    const source = { kind: 'checkpoint' as const, runId: run.id, step: checkpoint.step };
    const computed = await this.embeddings.embeddingsCompute({ source, folderIds: [folder.id] });
    if (computed.task) await waitTask(this.context, computed.task, signal, 'Embedding the images');
    progress(1);

    // 6. Cluster into k groups, scored as the Clusters screen scores them: against the sample's
    // class folders (reference classes), over every image.
    progress = this.enter(task, 'cluster');
    const clustering = await this.embeddings.clusterCompute({ setId: computed.set.id, k: this.plan.k, metric: 'cosine', seed: 0, folderIds: [folder.id] });
    const scores = clustering.scores;
    progress(1, scores.nmi === null ? `NMI not shown: ${scores.labelled} images with a class` : `NMI ${scores.nmi.toFixed(2)}`);

    // 7. Fine-tune from the hand labels: a linear probe, then a fine-tune.
    progress = this.enter(task, 'finetune');
    const { task: finetuneTask } = await this.finetune.finetuneStart({ mode: 'both', folderIds: [folder.id], seed: 0, epochs: this.plan.finetuneEpochs, compareRandom: false });
    const relay = setInterval(() => {
      const current = this.context.tasks.list().find((t) => t.id === finetuneTask.id);
      if (current?.total) progress(current.done / current.total, current.message);
    }, this.plan.pollMs);
    try {
      await waitTask(this.context, finetuneTask, signal, 'Fine-tuning');
    } finally {
      clearInterval(relay);
    }
    const classifiers = (await this.finetune.classifiersList({})).filter((c) => c.source.kind === 'checkpoint' && c.source.runId === run.id);
    const newest = Math.max(...classifiers.map((c) => c.round));
    const accuracyOf = (mode: string): number | null => classifiers.find((c) => c.round === newest && c.mode === mode)?.valAccuracy ?? null;
    progress(1);

    return {
      folderId: folder.id,
      runId: run.id,
      step: checkpoint.step,
      engine: (await this.pretraining.runGet({ runId: run.id, maxPoints: 10 })).engine,
      images: sampleImages,
      classes: classNames,
      labelsPerClass: this.plan.labelsPerClass,
      setId: computed.set.id,
      clusteringId: clustering.id,
      k: clustering.k,
      nmi: scores.nmi,
      purity: scores.purity,
      scoredImages: scores.labelled,
      linearProbeAccuracy: accuracyOf('linear-probe'),
      fineTuneAccuracy: accuracyOf('fine-tune'),
      pretrainSeconds,
      seconds: (performance.now() - started) / 1000,
    };
  }
}

const services = new WeakMap<ServiceContext, FirstRunService>();

/** The first-run service of a context; `plan` is read once, when it is created (tests shorten it). */
export function firstRunService(context: ServiceContext, plan: FirstRunPlan = defaultFirstRunPlan): FirstRunService {
  let service = services.get(context);
  if (!service) {
    service = new FirstRunService(context, plan);
    services.set(context, service);
  }
  return service;
}

export function firstRunHandlers(context: ServiceContext, plan?: FirstRunPlan): AreaHandlers<'firstRunInfo' | 'firstRunStart'> {
  const service = firstRunService(context, plan);
  return {
    firstRunInfo: () => service.info(),
    firstRunStart: () => service.start(),
  };
}

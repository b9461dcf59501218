import fs from 'node:fs';
import type { EmbeddingSource } from '../common/embeddings';
import type { ClassifierDetails, ClassifierEpoch, ClassifierInfo, ClassifierMode, PredictionsPage } from '../common/finetune';
import { ServiceError } from '../common/result';
import type { TaskInfo } from '../common/tasks';
import type { ClassifyJob, ClassifyResult } from '../engine/compute-jobs';
import type { EpochRecord } from '../engine/finetune';
import { ClassifiersRepository, type ClassifierRow, type NewPrediction } from '../store/classifiers-repository';
import { EmbeddingsRepository } from '../store/embeddings-repository';
import { RunsRepository } from '../store/runs-repository';
import type { AreaHandlers, ServiceContext } from './app-services';
import { embeddingsService } from './embeddings';
import { pretrainingService } from './pretraining';

export interface FinetuneStartArgs {
  mode: ClassifierMode | 'both';
  source?: EmbeddingSource | undefined;
  folderIds?: number[] | undefined;
  seed: number;
  epochs?: number | undefined;
}

/**
 * One-click fine-tuning: trains classifiers from the current labels on a backbone (a linear
 * probe and/or a full fine-tune) in a trainer process, as one task, and stores each with its
 * validation scores and its prediction for every image of the scope. The better classifier of
 * the latest round (by validation accuracy) is chosen, unless the user picks another.
 */
export class FinetuneService {
  readonly repo: ClassifiersRepository;
  private readonly runs: RunsRepository;
  private readonly images: EmbeddingsRepository;
  /** The fine-tune task running now, if any (one at a time). */
  private active?: TaskInfo;

  constructor(private readonly context: ServiceContext) {
    this.repo = new ClassifiersRepository(context.db);
    this.runs = new RunsRepository(context.db);
    this.images = new EmbeddingsRepository(context.db);
  }

  /** The backbone to train on: the one given, else the checkpoint chosen with runUseCheckpoint. */
  private resolveSource(source: EmbeddingSource | undefined): { source: EmbeddingSource; checkpoint: string | null } {
    if (!source) {
      const backbone = pretrainingService(this.context).backbone();
      if (!backbone) {
        throw new ServiceError('INVALID_ARGUMENT', 'No backbone is chosen: choose a checkpoint of a pretraining run ("Use this checkpoint" on the Runs page), or name a source.');
      }
      return { source: { kind: 'checkpoint', runId: backbone.runId, step: backbone.step }, checkpoint: backbone.file };
    }
    const run = this.runs.get(source.runId);
    if (!run) throw new ServiceError('NOT_FOUND', `No run with id ${source.runId}.`);
    if (source.kind === 'random') return { source, checkpoint: null };
    const checkpoint = this.runs.checkpoints(run.id).find((c) => c.step === source.step);
    if (!checkpoint || !fs.existsSync(checkpoint.file)) {
      throw new ServiceError('NOT_FOUND', `${run.name} has no checkpoint at step ${source.step}; pick one of its checkpoints on the Runs page.`);
    }
    return { source, checkpoint: checkpoint.file };
  }

  /** Trains the classifier(s) as one task over every image of the scope with the current labels. */
  start(args: FinetuneStartArgs): { task: TaskInfo } {
    if (this.active?.status === 'running') throw new ServiceError('CONFLICT', 'A fine-tune is running already: wait for it to finish or cancel it.');
    if (pretrainingService(this.context).hasActiveRun()) {
      throw new ServiceError('CONFLICT', 'A pretraining run is training: one job uses the engine at a time. Fine-tune once it has finished, or cancel it first.');
    }
    if (args.folderIds) {
      const unknown = this.runs.unknownFolders(args.folderIds);
      if (unknown.length > 0) throw new ServiceError('NOT_FOUND', `No library folder with id ${unknown.join(', ')}.`);
    }
    const { source, checkpoint } = this.resolveSource(args.source);
    const run = this.runs.get(source.runId)!;
    const images = this.images.images(args.folderIds);
    if (images.length === 0) throw new ServiceError('INVALID_ARGUMENT', 'There are no images to classify: add a folder to the library first.');
    const names = new Map<number, string>();
    for (const image of images) if (image.class_id !== null) names.set(image.class_id, image.label ?? String(image.class_id));
    const classes = [...names.entries()].map(([id, name]) => ({ id, name })).sort((a, b) => a.name.localeCompare(b.name) || a.id - b.id);
    if (classes.length < 2) {
      const have = classes.length === 0 ? 'no image has a label' : `only class "${classes[0]!.name}" has labelled images`;
      throw new ServiceError('INVALID_ARGUMENT', `Fine-tuning needs labelled images of at least 2 classes, but ${have}: label a few images of each class first.`);
    }
    const indexOf = new Map(classes.map((c, index) => [c.id, index]));
    const labels = images.map((image) => (image.class_id === null ? -1 : indexOf.get(image.class_id)!));
    const modes: ClassifierMode[] = args.mode === 'both' ? ['linear-probe', 'fine-tune'] : [args.mode];
    const step = source.kind === 'checkpoint' ? source.step : 0;
    const labelled = labels.filter((label) => label >= 0).length;
    const title = `${modes.length === 2 ? 'Linear probe and fine-tune' : modes[0] === 'linear-probe' ? 'Linear probe' : 'Fine-tune'} on ${labelled.toLocaleString('en-US')} labels (${classes.length} classes)`;
    const task = this.context.tasks.start({ kind: 'finetune', title, unit: 'epochs' }, async (context) => {
      const ids: number[] = [];
      try {
        for (const [index, mode] of modes.entries()) {
          const job: ClassifyJob = {
            kind: 'classify',
            mode,
            checkpoint: checkpoint ?? undefined,
            config: run.config,
            files: images.map((image) => image.path),
            labels,
            classes: classes.length,
            size: run.config.grid * run.config.crop,
            seed: args.seed ?? 0,
            epochs: args.epochs,
          };
          const prefix = modes.length > 1 ? `${index + 1}/${modes.length} ` : '';
          const result = (await embeddingsService(this.context).runJob(
            job,
            { progress: (done, total) => context.progress(done, total, `${prefix}${mode === 'linear-probe' ? 'linear probe' : 'fine-tuning'}`) },
            context.signal,
            run.config.engine,
          )) as ClassifyResult;
          const split = new Map<number, NewPrediction['split']>();
          for (const file of result.train) split.set(file, 'train');
          for (const file of result.validation) split.set(file, 'validation');
          const predictions: NewPrediction[] = [];
          images.forEach((image, file) => {
            const predicted = result.predicted[file]!;
            if (predicted < 0) return;
            predictions.push({ imageId: image.id, classId: classes[predicted]!.id, confidence: result.confidence[file]!, split: split.get(file) ?? 'none', labelClassId: image.class_id });
          });
          const head = new Float32Array(result.head.weights.length + result.head.bias.length);
          head.set(result.head.weights);
          head.set(result.head.bias, result.head.weights.length);
          ids.push(
            this.repo.add(
              {
                runId: run.id,
                step,
                sourceKind: source.kind,
                mode,
                classes,
                valAccuracy: result.validation.length > 0 && Number.isFinite(result.valAccuracy) ? result.valAccuracy : null,
                bestEpoch: result.bestEpoch,
                history: result.history.map(epochOf),
                confusion: result.confusion,
                perClass: result.perClass.map((value) => (value !== null && Number.isFinite(value) ? value : null)),
                trainCount: result.train.length,
                validationCount: result.validation.length,
                head,
              },
              predictions,
            ),
          );
        }
      } catch (error) {
        if (context.signal.aborted) return;
        throw error;
      } finally {
        this.chooseBest(ids);
        this.context.emit?.('library', { what: 'labels' });
      }
    });
    this.active = task;
    return { task };
  }

  /** Chooses the classifier of a round with the best validation accuracy (the first on a tie). */
  private chooseBest(ids: number[]): void {
    const rows = ids.map((id) => this.repo.get(id)).filter((row): row is ClassifierRow => row !== undefined);
    const best = rows.reduce<ClassifierRow | undefined>((a, b) => (a === undefined || (b.val_accuracy ?? -1) > (a.val_accuracy ?? -1) ? b : a), undefined);
    if (best) this.repo.choose(best.id);
  }

  private info(row: ClassifierRow): ClassifierInfo {
    const source: EmbeddingSource = row.source_kind === 'checkpoint' ? { kind: 'checkpoint', runId: row.run_id, step: row.step } : { kind: 'random', runId: row.run_id };
    return {
      id: row.id,
      mode: row.mode,
      source,
      sourceLabel: row.source_kind === 'checkpoint' ? `${row.run_name} at step ${row.step}` : `Random init (${row.run_name}'s architecture)`,
      valAccuracy: row.val_accuracy,
      bestEpoch: row.best_epoch,
      trainCount: row.train_count,
      validationCount: row.validation_count,
      classes: JSON.parse(row.classes) as ClassifierInfo['classes'],
      createdAt: row.created_at,
      chosen: row.chosen === 1,
    };
  }

  private mustGet(classifierId: number): ClassifierRow {
    const row = this.repo.get(classifierId);
    if (!row) throw new ServiceError('NOT_FOUND', `No classifier with id ${classifierId}.`);
    return row;
  }

  list(): ClassifierInfo[] {
    return this.repo.list().map((row) => this.info(row));
  }

  get(classifierId: number): ClassifierDetails {
    const row = this.mustGet(classifierId);
    return {
      ...this.info(row),
      history: JSON.parse(row.history) as ClassifierEpoch[],
      confusion: JSON.parse(row.confusion) as number[][],
      perClass: JSON.parse(row.per_class) as (number | null)[],
    };
  }

  choose(classifierId: number): ClassifierInfo {
    this.mustGet(classifierId);
    this.repo.choose(classifierId);
    return this.info(this.mustGet(classifierId));
  }

  /** One page of a classifier's predictions (the chosen one by default), filtered and ordered by confidence. */
  predictions(args: {
    classifierId?: number | undefined;
    classId?: number | undefined;
    minConfidence?: number | undefined;
    maxConfidence?: number | undefined;
    unlabelledOnly: boolean;
    order: 'confidence-asc' | 'confidence-desc';
    offset: number;
    limit: number;
  }): PredictionsPage {
    const classifierId = args.classifierId ?? this.repo.chosenId();
    if (classifierId === undefined) throw new ServiceError('NOT_FOUND', 'There is no classifier yet: fine-tune from your labels first.');
    const row = this.mustGet(classifierId);
    const names = new Map(this.info(row).classes.map((c) => [c.id, c.name]));
    const page = this.repo.page(classifierId, args, args.order === 'confidence-asc' ? 'asc' : 'desc', args.offset, args.limit);
    return {
      total: page.total,
      items: page.rows.map((r) => ({ imageId: r.image_id, classId: r.class_id, className: names.get(r.class_id) ?? String(r.class_id), confidence: r.confidence, version: r.version, label: r.label })),
    };
  }

  /** The validation images of one cell of a classifier's confusion matrix. */
  confusionImages(args: { classifierId: number; trueClassId: number; predictedClassId: number }): number[] {
    this.mustGet(args.classifierId);
    return this.repo.confusionImages(args.classifierId, args.trueClassId, args.predictedClassId);
  }
}

function epochOf(record: EpochRecord): ClassifierEpoch {
  const finite = (value: number): number | null => (Number.isFinite(value) ? value : null);
  return { epoch: record.epoch, trainLoss: record.trainLoss, valAccuracy: finite(record.valAccuracy), valLoss: finite(record.valLoss), lr: record.lr };
}

const services = new WeakMap<ServiceContext, FinetuneService>();

export function finetuneService(context: ServiceContext): FinetuneService {
  let service = services.get(context);
  if (!service) {
    service = new FinetuneService(context);
    services.set(context, service);
  }
  return service;
}

type FinetuneCalls = 'finetuneStart' | 'classifiersList' | 'classifierGet' | 'classifierChoose' | 'predictionsPage' | 'confusionImages';

export function finetuneHandlers(context: ServiceContext): AreaHandlers<FinetuneCalls> {
  const service = finetuneService(context);
  return {
    finetuneStart: (args) => service.start(args),
    classifiersList: () => service.list(),
    classifierGet: ({ classifierId }) => service.get(classifierId),
    classifierChoose: ({ classifierId }) => service.choose(classifierId),
    predictionsPage: (args) => service.predictions(args),
    confusionImages: (args) => service.confusionImages(args),
  };
}

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { EmbeddingSource } from '../common/embeddings';
import { evalSizeFor } from '../common/pretrain-config';
import type { ClassifierDetails, ClassifierEpoch, ClassifierInfo, ClassifierMode, FinetuneRound, PredictionsPage } from '../common/finetune';
import { ServiceError } from '../common/result';
import type { TaskInfo } from '../common/tasks';
import type { ClassifyJob } from '../engine/compute/compute-jobs';
import type { EpochRecord } from '../engine/classify/finetune';
import { ClassifiersRepository, type ClassifierRow, type NewPrediction } from '../store/classifiers-repository';
import { EmbeddingsRepository } from '../store/embeddings-repository';
import { RunsRepository } from '../store/runs-repository';
import { placedEngine, type ComputeJobClient, type JobPlacement } from '../jobs/compute-client';
import type { TrainerSlot } from '../jobs/trainer-slot';
import type { BackboneService } from './backbone';
import type { AreaHandlers, ServiceContext } from './context';
import { imagesUnder } from './embeddings';

export interface FinetuneStartArgs {
  mode: ClassifierMode | 'both';
  source?: EmbeddingSource | undefined;
  folderIds?: number[] | undefined;
  seed: number;
  epochs?: number | undefined;
  /** Also train the same mode(s) on the random-init backbone of the same run (never chosen automatically). */
  compareRandom?: boolean | undefined;
}

/**
 * Choices of a fine-tune the contract does not carry, made by the host that asks for it (the
 * command line's few labels drawn from class folders, --size, learning rates, --engine).
 */
export interface FinetunePlacement extends JobPlacement {
  /** Train on these labels (image id to library class) instead of the library's; the other images of the scope are only predicted. */
  labels?: ReadonlyMap<number, { id: number; name: string }>;
  /** Only the chosen folders' images under these paths. */
  under?: string[];
  /** Input size (default: the size the app uses the backbone at). */
  size?: number;
  backboneLr?: number;
  headLr?: number;
}

/** The options of a predictions page (predictionsPageSchema, parsed). */
export interface PredictionsArgs {
  classifierId?: number | undefined;
  classId?: number | undefined;
  minConfidence?: number | undefined;
  maxConfidence?: number | undefined;
  unlabelledOnly: boolean;
  order: 'confidence-asc' | 'confidence-desc' | 'review';
  offset: number;
  limit: number;
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

  /**
   * @param jobs trains the classifiers in a trainer process.
   * @param slot refuses fine-tuning while a pretraining run holds the engine.
   * @param backbone the chosen backbone, trained on when no source is named.
   */
  constructor(
    private readonly context: ServiceContext,
    private readonly jobs: ComputeJobClient,
    private readonly slot: TrainerSlot,
    private readonly backbone: BackboneService,
  ) {
    this.repo = new ClassifiersRepository(context.db);
    this.runs = new RunsRepository(context.db);
    this.images = new EmbeddingsRepository(context.db);
  }

  /** The backbone to train on: the one given, else the checkpoint chosen with runUseCheckpoint. */
  private resolveSource(source: EmbeddingSource | undefined): { source: EmbeddingSource; checkpoint: string | null } {
    if (!source) {
      const backbone = this.backbone.current();
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
  start(args: FinetuneStartArgs, placement: FinetunePlacement = {}): { task: TaskInfo; round: number } {
    // The task's current state (start() hands back a snapshot that does not change).
    const active = this.active && this.context.tasks.list().find((task) => task.id === this.active!.id);
    if (active?.status === 'running') throw new ServiceError('CONFLICT', 'A fine-tune is running already: wait for it to finish or cancel it.');
    this.slot.refuseWhileTraining('Fine-tune');
    if (args.folderIds) {
      const unknown = this.runs.unknownFolders(args.folderIds);
      if (unknown.length > 0) throw new ServiceError('NOT_FOUND', `No library folder with id ${unknown.join(', ')}.`);
    }
    const { source, checkpoint } = this.resolveSource(args.source);
    const run = this.runs.get(source.runId)!;
    const images = imagesUnder(this.images.images(args.folderIds), placement.under);
    if (images.length === 0) throw new ServiceError('INVALID_ARGUMENT', 'There are no images to classify: add a folder to the library first.');
    const given = placement.labels;
    const classOf = (image: (typeof images)[number]): { id: number; name: string } | undefined =>
      given ? given.get(image.id) : image.class_id !== null ? { id: image.class_id, name: image.label ?? String(image.class_id) } : undefined;
    const names = new Map<number, string>();
    for (const image of images) {
      const known = classOf(image);
      if (known) names.set(known.id, known.name);
    }
    const classes = [...names.entries()].map(([id, name]) => ({ id, name })).sort((a, b) => a.name.localeCompare(b.name) || a.id - b.id);
    if (classes.length < 2) {
      const have = classes.length === 0 ? 'no image has a label' : `only class "${classes[0]!.name}" has labelled images`;
      throw new ServiceError('INVALID_ARGUMENT', `Fine-tuning needs labelled images of at least 2 classes, but ${have}: label a few images of each class first.`);
    }
    const indexOf = new Map(classes.map((c, index) => [c.id, index]));
    const labels = images.map((image) => {
      const known = classOf(image);
      return known ? indexOf.get(known.id)! : -1;
    });
    const modes: ClassifierMode[] = args.mode === 'both' ? ['linear-probe', 'fine-tune'] : [args.mode];
    const step = source.kind === 'checkpoint' ? source.step : 0;
    const labelled = labels.filter((label) => label >= 0).length;
    // The backbone's own classifiers, then (compareRandom) the same on the random-init backbone.
    const plan: { mode: ClassifierMode; sourceKind: 'checkpoint' | 'random'; checkpoint: string | null; own: boolean }[] = modes.map((mode) => ({
      mode,
      sourceKind: source.kind,
      checkpoint,
      own: true,
    }));
    if (args.compareRandom && source.kind === 'checkpoint') for (const mode of modes) plan.push({ mode, sourceKind: 'random', checkpoint: null, own: false });
    const round = this.repo.nextRound();
    const classifiersDir = path.join(this.context.dataDir, 'classifiers');
    const what = modes.length === 2 ? 'Linear probe and fine-tune' : modes[0] === 'linear-probe' ? 'Linear probe' : 'Fine-tune';
    const title = `${what} on ${labelled.toLocaleString('en-US')} labels (${classes.length} classes)${plan.length > modes.length ? ', compared with random init' : ''}`;
    const task = this.context.tasks.start({ kind: 'finetune', title, unit: 'epochs' }, async (context) => {
      const ids: number[] = [];
      try {
        for (const [index, { mode, sourceKind, checkpoint: checkpointFile, own }] of plan.entries()) {
          fs.mkdirSync(classifiersDir, { recursive: true });
          const saveTo = path.join(classifiersDir, `round-${round}-${mode}${own ? '' : '-random'}-${crypto.randomUUID().slice(0, 8)}`);
          const job: ClassifyJob = {
            kind: 'classify',
            mode,
            checkpoint: checkpointFile ?? undefined,
            config: run.config,
            files: images.map((image) => image.path),
            labels,
            classes: classes.length,
            size: placement.size ?? evalSizeFor(run.config),
            seed: args.seed ?? 0,
            epochs: args.epochs,
            saveTo,
            classNames: classes.map((c) => c.name),
            ...(placement.backboneLr !== undefined ? { backboneLr: placement.backboneLr } : {}),
            ...(placement.headLr !== undefined ? { headLr: placement.headLr } : {}),
          };
          const prefix = plan.length > 1 ? `${index + 1}/${plan.length} ` : '';
          const label = `${prefix}${mode === 'linear-probe' ? 'linear probe' : 'fine-tuning'}${own ? '' : ' (random init)'}`;
          const result = await this.jobs.runComputeJob(job, {
            progress: (done, total) => context.progress(done, total, label),
            signal: context.signal,
            engine: placedEngine(placement, run.config.engine),
            threads: placement.threads,
            onEngine: placement.onEngine,
          });
          const split = new Map<number, NewPrediction['split']>();
          for (const file of result.train) split.set(file, 'train');
          for (const file of result.validation) split.set(file, 'validation');
          // Out of fold (k-fold): the class a model that did not train on the image predicted.
          const outOfFold = new Map<number, number>();
          result.validation.forEach((file, k) => outOfFold.set(file, result.validationPredicted[k]!));
          const predictions: NewPrediction[] = [];
          images.forEach((image, file) => {
            const predicted = result.predicted[file]!;
            if (predicted < 0) return;
            const validationClass = outOfFold.get(file);
            predictions.push({
              imageId: image.id,
              classId: classes[predicted]!.id,
              confidence: result.confidence[file]!,
              split: split.get(file) ?? 'none',
              labelClassId: classOf(image)?.id ?? null,
              validationClassId: validationClass !== undefined && validationClass >= 0 && validationClass !== predicted ? classes[validationClass]!.id : null,
            });
          });
          const head = new Float32Array(result.head.weights.length + result.head.bias.length);
          head.set(result.head.weights);
          head.set(result.head.bias, result.head.weights.length);
          const saved = (result.saved?.length ?? 0) > 0 || fs.existsSync(path.join(saveTo, 'model.json'));
          const id = this.repo.add(
            {
              runId: run.id,
              step: own ? step : 0,
              sourceKind,
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
              round,
              labelCount: labels.filter((label) => label >= 0).length,
              modelDir: saved ? saveTo : null,
              folds: result.folds ?? null,
            },
            predictions,
          );
          if (own) ids.push(id);
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
    return { task, round };
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
      round: row.round,
      labelCount: row.label_count,
      folds: row.folds,
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

  /** The classifier given, else the chosen one; a clear error when there is none. */
  resolveClassifier(classifierId: number | undefined): ClassifierRow {
    const id = classifierId ?? this.repo.chosenId();
    if (id === undefined) throw new ServiceError('NOT_FOUND', 'There is no classifier yet: fine-tune from your labels first.');
    return this.mustGet(id);
  }

  /** Every fine-tune round, oldest first, with the validation accuracy of each of its classifiers. */
  rounds(): FinetuneRound[] {
    const byRound = new Map<number, ClassifierRow[]>();
    for (const row of this.repo.byRound()) byRound.set(row.round, [...(byRound.get(row.round) ?? []), row]);
    return [...byRound.entries()].map(([round, rows]) => {
      // A round on a checkpoint may also hold random-init comparisons; a round on random init has only its own.
      const hasCheckpoint = rows.some((row) => row.source_kind === 'checkpoint');
      const own = rows.filter((row) => !hasCheckpoint || row.source_kind === 'checkpoint');
      const random = hasCheckpoint ? rows.filter((row) => row.source_kind === 'random') : [];
      const accuracy = (list: ClassifierRow[], mode: ClassifierMode): number | null => list.find((row) => row.mode === mode)?.val_accuracy ?? null;
      return {
        round,
        createdAt: rows[0]!.created_at,
        labelCount: Math.max(...own.map((row) => row.label_count)),
        classCount: (JSON.parse(rows[0]!.classes) as unknown[]).length,
        linearProbe: accuracy(own, 'linear-probe'),
        fineTune: accuracy(own, 'fine-tune'),
        randomLinearProbe: accuracy(random, 'linear-probe'),
        randomFineTune: accuracy(random, 'fine-tune'),
      };
    });
  }

  /** One page of a classifier's predictions (the chosen one by default), filtered and ordered by confidence or as the review queue. */
  predictions(args: PredictionsArgs): PredictionsPage {
    const row = this.resolveClassifier(args.classifierId);
    const classifierId = row.id;
    const names = new Map(this.info(row).classes.map((c) => [c.id, c.name]));
    const page = args.order === 'review' ? this.reviewPage(row, args) : this.repo.page(classifierId, args, args.order === 'confidence-asc' ? 'asc' : 'desc', args.offset, args.limit);
    return {
      total: page.total,
      items: page.rows.map((r) => ({ imageId: r.image_id, classId: r.class_id, className: names.get(r.class_id) ?? String(r.class_id), confidence: r.confidence, version: r.version, label: r.label })),
    };
  }

  /**
   * The review queue: unlabelled predictions matching the filters, least confident first but
   * taking turns across groups (the clusters of the newest clustering of the classifier's
   * backbone, else the predicted classes): turn t takes the t-th least confident image of each
   * group, least confident first within the turn. Deterministic, so pages line up.
   */
  private reviewPage(row: ClassifierRow, args: PredictionsArgs): ReturnType<ClassifiersRepository['page']> {
    const facts = this.repo.matching(row.id, { ...args, unlabelledOnly: true });
    const clusters = this.repo.newestClusters({ kind: row.source_kind, runId: row.run_id, step: row.step });
    const order = interleave(facts, (fact) => (clusters ? (clusters.get(fact.image_id) ?? -1) : fact.class_id));
    const ids = order.slice(args.offset, args.offset + args.limit).map((fact) => fact.image_id);
    return { total: facts.length, rows: this.repo.rowsOf(row.id, ids) };
  }

  /** The validation images of one cell of a classifier's confusion matrix. */
  confusionImages(args: { classifierId: number; trueClassId: number; predictedClassId: number }): number[] {
    this.mustGet(args.classifierId);
    return this.repo.confusionImages(args.classifierId, args.trueClassId, args.predictedClassId);
  }

  /** The calls of the contract this service serves. */
  handlers(): AreaHandlers<FinetuneCalls> {
    return {
      finetuneStart: (args) => ({ task: this.start(args).task }),
      classifiersList: () => this.list(),
      classifierGet: ({ classifierId }) => this.get(classifierId),
      classifierChoose: ({ classifierId }) => this.choose(classifierId),
      predictionsPage: (args) => this.predictions(args),
      confusionImages: (args) => this.confusionImages(args),
      finetuneRounds: () => this.rounds(),
    };
  }
}

/**
 * Takes turns across groups: `items` least confident first; turn t holds the t-th item of each
 * group, sorted least confident first (ties by image id).
 */
export function interleave<T extends { confidence: number; image_id: number }>(items: T[], groupOf: (item: T) => number): T[] {
  const groups = new Map<number, T[]>();
  for (const item of items) {
    const key = groupOf(item);
    const list = groups.get(key);
    if (list) list.push(item);
    else groups.set(key, [item]);
  }
  const out: T[] = [];
  for (let turn = 0; out.length < items.length; turn += 1) {
    const batch: T[] = [];
    for (const list of groups.values()) if (turn < list.length) batch.push(list[turn]!);
    batch.sort((a, b) => a.confidence - b.confidence || a.image_id - b.image_id);
    out.push(...batch);
  }
  return out;
}

function epochOf(record: EpochRecord): ClassifierEpoch {
  const finite = (value: number): number | null => (Number.isFinite(value) ? value : null);
  return { epoch: record.epoch, trainLoss: record.trainLoss, valAccuracy: finite(record.valAccuracy), valLoss: finite(record.valLoss), lr: record.lr };
}

type FinetuneCalls =
  | 'finetuneStart'
  | 'classifiersList'
  | 'classifierGet'
  | 'classifierChoose'
  | 'predictionsPage'
  | 'confusionImages'
  | 'finetuneRounds';

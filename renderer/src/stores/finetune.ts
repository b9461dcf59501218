import { defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import type { CallArgs } from '../../../main/common/api-contract';
import type { EmbeddingSource } from '../../../main/common/embeddings';
import type {
  ClassFoldersSummary,
  ClassifierDetails,
  ClassifierInfo,
  ClassifierMode,
  ExportFile,
  FinetuneRound,
  PredictionItem,
} from '../../../main/common/finetune';
import type { ClassInfo, GalleryItem } from '../../../main/common/library';
import type { AppError } from '../../../main/common/result';
import type { BackboneChoice, CheckpointInfo, RunInfo } from '../../../main/common/runs';
import type { TaskInfo } from '../../../main/common/tasks';
import { api } from '../api';
import { useCall } from '../composables/use-call';
import { useTasksStore } from './tasks';
import { paletteCss } from '../map/palette';
import { parseSourceKey, sourceKey } from './clusters';

export type FinetuneMode = 'both' | ClassifierMode;
export type FinetuneTab = 'results' | 'predictions' | 'review' | 'export';
export type ExportInclude = 'labels' | 'predictions' | 'both';

/** Predictions per page of the gallery. */
export const predictionsPageSize = 60;
/** Items of the review queue read at a time. */
export const reviewPageSize = 50;
/** The queue is topped up when fewer than this many items are left after the current one. */
export const reviewRefillAt = 6;
/** Images of one confusion cell shown at most. */
export const confusionImagesMax = 200;

/** One entry of the backbone picker: a checkpoint of a run. */
export interface BackboneOption {
  key: string;
  source: EmbeddingSource;
  label: string;
  runId: number;
  inUse: boolean;
}

/** A review-queue item and what happened to it in this session. */
export interface ReviewItem extends PredictionItem {
  /** The class it was given here (accepted or corrected), if any. */
  labelledAs?: number;
}

/** Epochs typed under Advanced: '' (the defaults) or a whole number from 1 to 1000. */
export function parseEpochs(text: string | number | null | undefined): { epochs?: number; error?: string } {
  const value = String(text ?? '').trim();
  if (value === '') return {};
  const epochs = Number(value);
  if (!Number.isInteger(epochs) || epochs < 1 || epochs > 1000)
    return { error: 'Epochs is a whole number from 1 to 1000, or empty for the defaults.' };
  return { epochs };
}

/** A share (0..1) as a percentage with one decimal: 87.5%. */
export function formatPercent(value: number | null | undefined, digits = 1): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  return `${(value * 100).toFixed(digits)}%`;
}

/** A difference of two shares in percentage points, signed: +12.3 pts. */
export function formatPoints(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  const points = value * 100;
  return `${points >= 0 ? '+' : '−'}${Math.abs(points).toFixed(1)} pts`;
}

/** What a classifier is called on its card. */
export function modeName(mode: ClassifierMode): string {
  return mode === 'linear-probe' ? 'Linear probe' : 'Fine-tune';
}

/** True for a classifier trained on a random-init backbone (the comparison). */
export function isRandom(classifier: Pick<ClassifierInfo, 'source'>): boolean {
  return classifier.source.kind === 'random';
}

/**
 * The Fine-tune screen's state: the backbone and the labels it trains from, the settings and the
 * one "Fine-tune" task; the classifiers of each round side by side, the details (history,
 * per-class accuracy, confusion matrix) of the one looked at, the images of a confusion cell;
 * the prediction gallery; the review queue (accept, correct, skip, undo); the rounds; exports.
 * Every call is wrapped: failures land in an error ref next to the control that caused them.
 */
export const useFinetuneStore = defineStore('finetune', () => {
  // --- What there is.
  const backbone = ref<BackboneChoice | null>(null);
  const runs = ref<RunInfo[]>([]);
  const checkpoints = shallowRef(new Map<number, CheckpointInfo[]>());
  const classes = ref<ClassInfo[]>([]);
  const loaded = ref(false);
  const loading = ref(false);
  const loadError = ref<AppError>();
  const tab = ref<FinetuneTab>('results');

  // --- Settings and the training task.
  /** The backbone picked here; undefined means the chosen one (backboneGet). */
  const sourceKeyPicked = ref<string>();
  const mode = ref<FinetuneMode>('both');
  const compareRandom = ref(false);
  const epochsText = ref('');
  /** Fine-tuning and export tasks live in the tasks store; this store follows their events. */
  const tasks = useTasksStore();
  const taskId = ref<string>();
  const startBusy = ref(false);
  const startError = ref<AppError>();
  /** The arguments of the last finetuneStart, for Retrain. */
  const lastArgs = ref<CallArgs<'finetuneStart'>>();

  // --- Classifiers.
  const classifiers = ref<ClassifierInfo[]>([]);
  const classifiersError = ref<AppError>();
  const detailsById = shallowRef(new Map<number, ClassifierDetails>());
  const detailsError = ref<AppError>();
  /** The classifier looked at; the chosen one when unset. */
  const selectedId = ref<number>();
  const chooseBusy = ref<number>();
  const chooseError = ref<{ classifierId: number; error: AppError }>();

  // --- A confusion cell and its images.
  const cell = ref<{ classifierId: number; trueClassId: number; predictedClassId: number }>();
  const cellImages = ref<GalleryItem[]>([]);
  const cellTotal = ref(0);
  const cellLoading = ref(false);
  const cellError = ref<AppError>();

  // --- Prediction gallery.
  const predictionClassId = ref<number>();
  /** Confidence range in percent (0..100). */
  const minConfidence = ref(0);
  const maxConfidence = ref(100);
  const predictionOrder = ref<'confidence-asc' | 'confidence-desc'>('confidence-desc');
  const predictions = ref<PredictionItem[]>([]);
  const predictionsTotal = ref(0);
  const predictionsLoading = ref(false);
  const predictionsError = ref<AppError>();

  // --- Review queue.
  const queue = ref<ReviewItem[]>([]);
  const position = ref(0);
  const queueTotal = ref(0);
  const queueLoading = ref(false);
  const queueLoaded = ref(false);
  const reviewError = ref<AppError>();
  const reviewed = ref(0);
  const skipped = ref(0);
  const reviewBusy = ref(false);
  /** Labels given in this session, newest last: what Ctrl+Z takes back. */
  const history = ref<{ index: number; imageId: number; classId: number }[]>([]);

  // --- Rounds.
  const rounds = ref<FinetuneRound[]>([]);
  const roundsError = ref<AppError>();

  // --- Exports.
  const exportInclude = ref<ExportInclude>('both');
  const exportBusy = ref<'csv' | 'json'>();
  const exportError = ref<AppError>();
  const lastExport = ref<{ fileName: string; rows: number }>();
  const foldersDestination = ref('');
  const foldersInclude = ref<'labels' | 'both'>('labels');
  /** Minimum confidence in percent for predictions copied into class folders. */
  const foldersMinConfidence = ref(80);
  const foldersTaskId = ref<string>();
  const foldersCall = useCall(
    (args: CallArgs<'classFoldersExport'>) => api().call('classFoldersExport', args),
    (value) => {
      foldersTaskId.value = value.task.id;
      if (!tasks.get(value.task.id)) tasks.upsert(value.task);
    },
  );
  const { busy: foldersBusy, error: foldersError } = foldersCall;
  const classifierDestination = ref('');
  const classifierExportCall = useCall((args: CallArgs<'classifierExport'>) =>
    api().call('classifierExport', args),
  );
  const {
    busy: classifierExportBusy,
    error: classifierExportError,
    value: classifierExported,
  } = classifierExportCall;
  const backboneDestination = ref('');
  const backboneExportCall = useCall((args: CallArgs<'backboneExport'>) =>
    api().call('backboneExport', args),
  );
  const {
    busy: backboneExportBusy,
    error: backboneExportError,
    value: backboneExported,
  } = backboneExportCall;
  const pickError = ref<AppError>();

  let started = false;
  let cellGeneration = 0;
  let predictionsGeneration = 0;
  let queueGeneration = 0;

  // ------------------------------------------------------------------------------------------
  // Derived state.

  const options = computed<BackboneOption[]>(() => {
    const list: BackboneOption[] = [];
    for (const run of runs.value) {
      const steps = [...new Set((checkpoints.value.get(run.id) ?? []).map((c) => c.step))].sort(
        (a, b) => b - a,
      );
      if (backbone.value?.runId === run.id && !steps.includes(backbone.value.step))
        steps.unshift(backbone.value.step);
      for (const step of steps) {
        const inUse = backbone.value?.runId === run.id && backbone.value.step === step;
        const source: EmbeddingSource = { kind: 'checkpoint', runId: run.id, step };
        list.push({
          key: sourceKey(source),
          source,
          label: `${run.name} at step ${step.toLocaleString('en-US')}${inUse ? ' (chosen)' : ''}`,
          runId: run.id,
          inUse,
        });
      }
    }
    return list;
  });
  const backboneKey = computed(() =>
    backbone.value
      ? sourceKey({ kind: 'checkpoint', runId: backbone.value.runId, step: backbone.value.step })
      : undefined,
  );
  /** The backbone the next round trains on. */
  const source = computed<EmbeddingSource | undefined>(() => {
    const key = sourceKeyPicked.value ?? backboneKey.value;
    return key ? parseSourceKey(key) : undefined;
  });
  const sourceLabel = computed(() => {
    const key = sourceKeyPicked.value ?? backboneKey.value;
    const option = options.value.find((known) => known.key === key);
    if (option) return option.label;
    if (backbone.value && !sourceKeyPicked.value)
      return `${backbone.value.runName} at step ${backbone.value.step.toLocaleString('en-US')}`;
    return undefined;
  });
  const labelledClasses = computed(() => classes.value.filter((info) => info.images > 0));
  const labelledImages = computed(() => labelledClasses.value.reduce((sum, info) => sum + info.images, 0));
  const enoughLabels = computed(() => labelledClasses.value.length >= 2);
  const epochs = computed(() => parseEpochs(epochsText.value));
  const task = computed(() => (taskId.value ? tasks.get(taskId.value) : undefined));
  const training = computed(() => task.value?.status === 'running');
  const canStart = computed(
    () => enoughLabels.value && !!source.value && !training.value && !startBusy.value && !epochs.value.error,
  );

  const latestRound = computed(() => Math.max(0, ...classifiers.value.map((c) => c.round)));
  /** The classifiers of the newest round: pretrained first (linear probe, fine-tune), then random init. */
  const latest = computed(() =>
    classifiers.value
      .filter((c) => c.round === latestRound.value)
      .sort(
        (a, b) =>
          Number(isRandom(a)) - Number(isRandom(b)) ||
          Number(a.mode === 'fine-tune') - Number(b.mode === 'fine-tune') ||
          a.id - b.id,
      ),
  );
  const chosen = computed(() => classifiers.value.find((c) => c.chosen));
  const viewedId = computed(() => selectedId.value ?? chosen.value?.id ?? latest.value[0]?.id);
  const viewed = computed(() => classifiers.value.find((c) => c.id === viewedId.value));
  const viewedDetails = computed(() =>
    viewedId.value !== undefined ? detailsById.value.get(viewedId.value) : undefined,
  );

  const current = computed<ReviewItem | undefined>(() => queue.value[position.value]);
  const upcoming = computed(() => queue.value.slice(position.value + 1, position.value + 7));
  const reviewLeft = computed(() => Math.max(0, queueTotal.value - reviewed.value));

  const foldersTask = computed(() => (foldersTaskId.value ? tasks.get(foldersTaskId.value) : undefined));

  /** The colour of a class: its own, else the palette by its place among the classes. */
  function classColor(classId: number | undefined): string {
    if (classId === undefined) return '#888888';
    const index = classes.value.findIndex((info) => info.id === classId);
    const info = classes.value[index];
    if (info?.color) return info.color;
    return paletteCss[(index >= 0 ? index : classId) % paletteCss.length] ?? '#888888';
  }

  /** The random-init classifier of the same round and mode as `classifier`, if compared. */
  function randomTwin(classifier: ClassifierInfo): ClassifierInfo | undefined {
    if (isRandom(classifier)) return undefined;
    return classifiers.value.find(
      (c) => c.round === classifier.round && c.mode === classifier.mode && isRandom(c),
    );
  }

  /** What pretraining bought: validation accuracy minus the random-init twin's (0..1), if both are known. */
  function gainOverRandom(classifier: ClassifierInfo): number | undefined {
    const twin = randomTwin(classifier);
    if (!twin || classifier.valAccuracy === null || twin.valAccuracy === null) return undefined;
    return classifier.valAccuracy - twin.valAccuracy;
  }

  // ------------------------------------------------------------------------------------------
  // Loading.

  /** Loads what the screen needs and follows task events; safe to call more than once (it refreshes). */
  async function start(): Promise<void> {
    if (!started) {
      started = true;
      tasks.follow(onTask);
      void recoverTasks();
    }
    await load();
  }

  async function recoverTasks(): Promise<void> {
    const result = await api().call('tasksList', {});
    if (!result.ok) return;
    for (const info of result.value) {
      if (info.status !== 'running') continue;
      if (info.kind === 'finetune' && !taskId.value) {
        taskId.value = info.id;
        putTask(info);
      }
    }
  }

  async function load(): Promise<void> {
    loading.value = true;
    const [backboneResult, runsResult, classesResult] = await Promise.all([
      api().call('backboneGet', {}),
      api().call('runsList', {}),
      api().call('libraryClasses', {}),
    ]);
    loadError.value = undefined;
    for (const result of [backboneResult, runsResult, classesResult])
      if (!result.ok) loadError.value = result.error;
    if (backboneResult.ok) backbone.value = backboneResult.value;
    if (runsResult.ok) runs.value = runsResult.value;
    if (classesResult.ok) classes.value = classesResult.value;
    await Promise.all([loadCheckpoints(), loadClassifiers(), loadRounds()]);
    loading.value = false;
    loaded.value = true;
  }

  async function loadClasses(): Promise<void> {
    const result = await api().call('libraryClasses', {});
    if (result.ok) classes.value = result.value;
  }

  /** Every run's checkpoints (4 runs at a time), for the backbone picker. */
  async function loadCheckpoints(): Promise<void> {
    const queueIds = runs.value.map((run) => run.id);
    const found = new Map(checkpoints.value);
    const worker = async (): Promise<void> => {
      for (let id = queueIds.shift(); id !== undefined; id = queueIds.shift()) {
        const result = await api().call('runGet', { runId: id, maxPoints: 10 });
        if (result.ok) found.set(id, result.value.checkpoints);
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    checkpoints.value = found;
  }

  /** Reads the classifiers and the details of the newest round's (and the one looked at). */
  async function loadClassifiers(): Promise<void> {
    const result = await api().call('classifiersList', {});
    if (!result.ok) {
      classifiersError.value = result.error;
      return;
    }
    classifiersError.value = undefined;
    classifiers.value = result.value;
    if (selectedId.value !== undefined && !result.value.some((c) => c.id === selectedId.value))
      selectedId.value = undefined;
    const wanted = new Set(latest.value.map((c) => c.id));
    if (viewedId.value !== undefined) wanted.add(viewedId.value);
    await Promise.all([...wanted].map((id) => loadDetails(id)));
  }

  async function loadDetails(classifierId: number, force = false): Promise<void> {
    if (!force && detailsById.value.has(classifierId)) return;
    const result = await api().call('classifierGet', { classifierId });
    if (!result.ok) {
      detailsError.value = result.error;
      return;
    }
    detailsError.value = undefined;
    const next = new Map(detailsById.value);
    next.set(classifierId, result.value);
    detailsById.value = next;
  }

  async function loadRounds(): Promise<void> {
    const result = await api().call('finetuneRounds', {});
    if (result.ok) {
      rounds.value = result.value;
      roundsError.value = undefined;
    } else roundsError.value = result.error;
  }

  // ------------------------------------------------------------------------------------------
  // Training.

  function pickSource(key: string | undefined): void {
    sourceKeyPicked.value =
      !key || key === backboneKey.value ? undefined : parseSourceKey(key) ? key : undefined;
  }

  /** The finetuneStart arguments of the current settings. */
  function startArgs(): CallArgs<'finetuneStart'> {
    const args: CallArgs<'finetuneStart'> = { mode: mode.value, compareRandom: compareRandom.value };
    if (epochs.value.epochs !== undefined) args.epochs = epochs.value.epochs;
    if (sourceKeyPicked.value && source.value) args.source = source.value;
    return args;
  }

  /** Starts a round with the current settings (or with `given`: Retrain). */
  async function startFinetune(given?: CallArgs<'finetuneStart'>): Promise<AppError | undefined> {
    if (training.value || startBusy.value) return undefined;
    if (!given && epochs.value.error) {
      startError.value = { code: 'INVALID_ARGUMENT', message: epochs.value.error };
      return startError.value;
    }
    const args = given ?? startArgs();
    startBusy.value = true;
    startError.value = undefined;
    const result = await api().call('finetuneStart', args);
    startBusy.value = false;
    if (!result.ok) {
      startError.value = result.error;
      return result.error;
    }
    lastArgs.value = args;
    const started = result.value.task;
    taskId.value = started.id;
    // Its events may have come first (a quick task): keep the newer state.
    const known = tasks.get(started.id);
    if (known && known.status !== 'running') void trainingEnded(known);
    else if (!known) putTask(started);
    return undefined;
  }

  /** Trains again with the settings of the last round (after reviewing). */
  async function retrain(): Promise<AppError | undefined> {
    return startFinetune(lastArgs.value ?? startArgs());
  }

  function putTask(info: TaskInfo): void {
    tasks.upsert(info);
  }

  function onTask(info: TaskInfo, previous: TaskInfo | undefined): void {
    if (info.id === taskId.value) {
      if (info.status !== 'running' && previous?.status !== info.status) void trainingEnded(info);
    } else if (info.id === foldersTaskId.value && info.status === 'failed') {
      foldersError.value = { code: 'INTERNAL', message: info.error ?? 'The copy failed.' };
    }
  }

  async function trainingEnded(info: TaskInfo): Promise<void> {
    if (info.status === 'failed')
      startError.value = {
        code: 'INTERNAL',
        message: `Fine-tuning failed: ${info.error ?? 'no reason given'}`,
      };
    // A new round picks its best classifier as the chosen one: look at that.
    if (info.status === 'finished') selectedId.value = undefined;
    await Promise.all([loadClassifiers(), loadRounds(), loadClasses()]);
    if (info.status === 'finished') {
      closeCell();
      void loadPredictions();
      void resetQueue();
    }
  }

  // ------------------------------------------------------------------------------------------
  // Classifiers.

  /** Looks at a classifier (its details, confusion matrix and predictions) without choosing it. */
  async function select(classifierId: number): Promise<void> {
    selectedId.value = classifierId;
    closeCell();
    await loadDetails(classifierId);
    if (predictions.value.length || predictionsError.value) void loadPredictions();
  }

  /** Makes a classifier the chosen one. */
  async function choose(classifierId: number): Promise<AppError | undefined> {
    chooseBusy.value = classifierId;
    chooseError.value = undefined;
    const result = await api().call('classifierChoose', { classifierId });
    chooseBusy.value = undefined;
    if (!result.ok) {
      chooseError.value = { classifierId, error: result.error };
      return result.error;
    }
    classifiers.value = classifiers.value.map((c) => ({ ...c, chosen: c.id === classifierId }));
    selectedId.value = classifierId;
    closeCell();
    await loadDetails(classifierId);
    void loadPredictions();
    void resetQueue();
    return undefined;
  }

  /** Shows the validation images of one cell of the confusion matrix of the classifier looked at. */
  async function openCell(trueClassId: number, predictedClassId: number): Promise<void> {
    const classifierId = viewedId.value;
    if (classifierId === undefined) return;
    const asked = ++cellGeneration;
    cell.value = { classifierId, trueClassId, predictedClassId };
    cellImages.value = [];
    cellTotal.value = 0;
    cellError.value = undefined;
    cellLoading.value = true;
    const ids = await api().call('confusionImages', { classifierId, trueClassId, predictedClassId });
    if (asked !== cellGeneration) return;
    if (!ids.ok) {
      cellLoading.value = false;
      cellError.value = ids.error;
      return;
    }
    cellTotal.value = ids.value.length;
    if (ids.value.length === 0) {
      cellLoading.value = false;
      return;
    }
    const items = await api().call('libraryItems', { ids: ids.value.slice(0, confusionImagesMax) });
    if (asked !== cellGeneration) return;
    cellLoading.value = false;
    if (items.ok) cellImages.value = items.value;
    else cellError.value = items.error;
  }

  function closeCell(): void {
    cellGeneration += 1;
    cell.value = undefined;
    cellImages.value = [];
    cellTotal.value = 0;
    cellError.value = undefined;
    cellLoading.value = false;
  }

  // ------------------------------------------------------------------------------------------
  // Predictions.

  function predictionFilter(): CallArgs<'predictionsPage'> {
    const args: CallArgs<'predictionsPage'> = { order: predictionOrder.value, limit: predictionsPageSize };
    if (viewedId.value !== undefined) args.classifierId = viewedId.value;
    if (predictionClassId.value !== undefined) args.classId = predictionClassId.value;
    const lo = Math.min(minConfidence.value, maxConfidence.value);
    const hi = Math.max(minConfidence.value, maxConfidence.value);
    if (lo > 0) args.minConfidence = Math.min(1, lo / 100);
    if (hi < 100) args.maxConfidence = Math.max(0, hi / 100);
    return args;
  }

  /** Reads the first page of predictions for the current filter (`more`: the next page). */
  async function loadPredictions(more = false): Promise<void> {
    if (classifiers.value.length === 0) return;
    const asked = more ? predictionsGeneration : ++predictionsGeneration;
    const offset = more ? predictions.value.length : 0;
    predictionsLoading.value = true;
    predictionsError.value = undefined;
    const result = await api().call('predictionsPage', { ...predictionFilter(), offset });
    if (asked !== predictionsGeneration) return;
    predictionsLoading.value = false;
    if (!result.ok) {
      predictionsError.value = result.error;
      return;
    }
    predictions.value = more ? [...predictions.value, ...result.value.items] : result.value.items;
    predictionsTotal.value = result.value.total;
  }

  function setPredictionFilter(patch: {
    classId?: number | null;
    min?: number;
    max?: number;
    order?: 'confidence-asc' | 'confidence-desc';
  }): void {
    if (patch.classId !== undefined) predictionClassId.value = patch.classId ?? undefined;
    if (patch.min !== undefined && Number.isFinite(patch.min))
      minConfidence.value = Math.min(100, Math.max(0, patch.min));
    if (patch.max !== undefined && Number.isFinite(patch.max))
      maxConfidence.value = Math.min(100, Math.max(0, patch.max));
    if (patch.order) predictionOrder.value = patch.order;
    void loadPredictions();
  }

  // ------------------------------------------------------------------------------------------
  // Review queue.

  /** Starts the queue again from the least confident unlabelled image. */
  async function resetQueue(): Promise<void> {
    queueGeneration += 1;
    queue.value = [];
    position.value = 0;
    queueTotal.value = 0;
    queueLoaded.value = false;
    history.value = [];
    reviewError.value = undefined;
    await fillQueue();
  }

  /** Reads the next page of the queue (labelled images leave it, so the offset counts only the rest). */
  async function fillQueue(): Promise<void> {
    if (queueLoading.value || classifiers.value.length === 0) return;
    const asked = queueGeneration;
    const labelledHere = queue.value.filter((item) => item.labelledAs !== undefined).length;
    const args: CallArgs<'predictionsPage'> = {
      unlabelledOnly: true,
      order: 'review',
      offset: Math.max(0, queue.value.length - labelledHere),
      limit: reviewPageSize,
    };
    if (selectedId.value !== undefined) args.classifierId = selectedId.value;
    queueLoading.value = true;
    const result = await api().call('predictionsPage', args);
    queueLoading.value = false;
    if (asked !== queueGeneration) return;
    queueLoaded.value = true;
    if (!result.ok) {
      reviewError.value = result.error;
      return;
    }
    const known = new Set(queue.value.map((item) => item.imageId));
    queue.value = [...queue.value, ...result.value.items.filter((item) => !known.has(item.imageId))];
    queueTotal.value = Math.max(result.value.total + labelledHere, queue.value.length);
  }

  function advance(): void {
    position.value = Math.min(position.value + 1, queue.value.length);
    if (queue.value.length - position.value < reviewRefillAt && queue.value.length < queueTotal.value)
      void fillQueue();
  }

  /** Labels the current image: with its prediction (accept) or with `classId` (correct). */
  async function label(classId?: number): Promise<AppError | undefined> {
    const item = current.value;
    if (!item || reviewBusy.value) return undefined;
    const given = classId ?? item.classId;
    reviewBusy.value = true;
    reviewError.value = undefined;
    const result = await api().call('labelSet', { imageIds: [item.imageId], classId: given });
    reviewBusy.value = false;
    if (!result.ok) {
      reviewError.value = result.error;
      return result.error;
    }
    const index = queue.value.indexOf(item);
    if (index >= 0) queue.value.splice(index, 1, { ...item, labelledAs: given });
    history.value = [
      ...history.value,
      { index: index >= 0 ? index : position.value, imageId: item.imageId, classId: given },
    ];
    reviewed.value += 1;
    advance();
    return undefined;
  }

  const accept = () => label();

  /** Corrects the current image to the n-th class (1-based, the order of the Label screen). */
  async function correct(n: number): Promise<AppError | undefined> {
    const info = classes.value[n - 1];
    if (!info) return undefined;
    return label(info.id);
  }

  function skip(): void {
    if (!current.value) return;
    skipped.value += 1;
    advance();
  }

  /** Takes back the last label (labelUndo) and shows that image again. */
  async function undo(): Promise<AppError | undefined> {
    if (reviewBusy.value) return undefined;
    reviewBusy.value = true;
    reviewError.value = undefined;
    const result = await api().call('labelUndo', {});
    reviewBusy.value = false;
    if (!result.ok) {
      reviewError.value = result.error;
      return result.error;
    }
    const last = history.value[history.value.length - 1];
    if (last && result.value.imageIds.includes(last.imageId)) {
      history.value = history.value.slice(0, -1);
      const index = queue.value.findIndex((item) => item.imageId === last.imageId);
      if (index >= 0) {
        const { labelledAs: _given, ...item } = queue.value[index]!;
        queue.value.splice(index, 1, item);
        position.value = index;
      }
      reviewed.value = Math.max(0, reviewed.value - 1);
    }
    return undefined;
  }

  // ------------------------------------------------------------------------------------------
  // Exports.

  /** Labels and/or predictions as a CSV or JSON file, saved through the browser's download. */
  async function exportLabels(format: 'csv' | 'json'): Promise<AppError | undefined> {
    exportBusy.value = format;
    exportError.value = undefined;
    const args: CallArgs<'labelsExport'> = { format, include: exportInclude.value };
    if (exportInclude.value !== 'labels' && selectedId.value !== undefined)
      args.classifierId = selectedId.value;
    const result = await api().call('labelsExport', args);
    exportBusy.value = undefined;
    if (!result.ok) {
      exportError.value = result.error;
      return result.error;
    }
    saveFile(result.value);
    lastExport.value = { fileName: result.value.fileName, rows: result.value.rows };
    return undefined;
  }

  async function exportClassFolders(): Promise<AppError | undefined> {
    const args: CallArgs<'classFoldersExport'> = {
      destination: foldersDestination.value.trim(),
      include: foldersInclude.value,
    };
    if (foldersInclude.value === 'both')
      args.minConfidence = Math.min(1, Math.max(0, foldersMinConfidence.value / 100));
    if (foldersInclude.value === 'both' && selectedId.value !== undefined)
      args.classifierId = selectedId.value;
    return foldersCall.run(args);
  }

  async function exportClassifier(): Promise<AppError | undefined> {
    const classifierId = viewedId.value;
    if (classifierId === undefined) return undefined;
    return classifierExportCall.run({ classifierId, destination: classifierDestination.value.trim() });
  }

  async function exportBackbone(): Promise<AppError | undefined> {
    const chosenSource = source.value;
    if (!chosenSource) return undefined;
    return backboneExportCall.run({
      source: chosenSource,
      destination: backboneDestination.value.trim(),
      format: 'safetensors',
    });
  }

  /** The native folder dialog (desktop app only); null when cancelled or not available. */
  async function pickFolder(): Promise<string | null> {
    pickError.value = undefined;
    const result = await api().call('libraryPickFolder', {});
    if (!result.ok) {
      pickError.value = result.error;
      return null;
    }
    return result.value.path;
  }

  return {
    backbone,
    runs,
    checkpoints,
    classes,
    loaded,
    loading,
    loadError,
    tab,
    sourceKeyPicked,
    mode,
    compareRandom,
    epochsText,
    taskId,
    startBusy,
    startError,
    lastArgs,
    classifiers,
    classifiersError,
    detailsById,
    detailsError,
    selectedId,
    chooseBusy,
    chooseError,
    cell,
    cellImages,
    cellTotal,
    cellLoading,
    cellError,
    predictionClassId,
    minConfidence,
    maxConfidence,
    predictionOrder,
    predictions,
    predictionsTotal,
    predictionsLoading,
    predictionsError,
    queue,
    position,
    queueTotal,
    queueLoading,
    queueLoaded,
    reviewError,
    reviewed,
    skipped,
    reviewBusy,
    history,
    rounds,
    roundsError,
    exportInclude,
    exportBusy,
    exportError,
    lastExport,
    foldersDestination,
    foldersInclude,
    foldersMinConfidence,
    foldersTaskId,
    foldersBusy,
    foldersError,
    classifierDestination,
    classifierExportBusy,
    classifierExportError,
    classifierExported,
    backboneDestination,
    backboneExportBusy,
    backboneExportError,
    backboneExported,
    pickError,
    options,
    backboneKey,
    source,
    sourceLabel,
    labelledClasses,
    labelledImages,
    enoughLabels,
    epochs,
    task,
    training,
    canStart,
    latestRound,
    latest,
    chosen,
    viewedId,
    viewed,
    viewedDetails,
    current,
    upcoming,
    reviewLeft,
    foldersTask,
    classColor,
    randomTwin,
    gainOverRandom,
    start,
    load,
    loadClassifiers,
    loadDetails,
    loadRounds,
    pickSource,
    startArgs,
    startFinetune,
    retrain,
    select,
    choose,
    openCell,
    closeCell,
    loadPredictions,
    setPredictionFilter,
    resetQueue,
    fillQueue,
    label,
    accept,
    correct,
    skip,
    undo,
    exportLabels,
    exportClassFolders,
    exportClassifier,
    exportBackbone,
    pickFolder,
  };
});

/** Hands a file to the user as a download (a Blob and an <a download>: Electron and browsers alike). */
export function saveFile(file: ExportFile): void {
  const blob = new Blob([file.content], { type: file.mimeType || 'application/octet-stream' });
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = file.fileName;
  link.style.display = 'none';
  document.body.appendChild(link);
  link.click();
  link.remove();
  // Revoking at once can cancel the download in some browsers.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Summary of a finished class-folder copy, read from its task (counts, then the final message). */
export function foldersSummary(
  task: TaskInfo | undefined,
): (Pick<ClassFoldersSummary, 'copied' | 'unchanged'> & { failed: number }) | undefined {
  if (!task || task.status !== 'finished') return undefined;
  const counts = task.counts ?? {};
  return { copied: counts.copied ?? task.done, unchanged: counts.unchanged ?? 0, failed: counts.failed ?? 0 };
}

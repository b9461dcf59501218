import { defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import type { CallArgs } from '../../../main/common/api-contract';
import type { EmbeddingSource } from '../../../main/common/embeddings';
import type {
  ClassifierDetails,
  ClassifierInfo,
  ClassifierMode,
  FinetuneRound,
  PredictionItem,
} from '../../../main/common/finetune';
import type { ClassInfo, GalleryItem } from '../../../main/common/library';
import { ok, type AppError, type Result } from '../../../main/common/result';
import type { BackboneChoice, CheckpointInfo, RunInfo } from '../../../main/common/runs';
import type { TaskInfo } from '../../../main/common/tasks';
import { api } from '../api';
import { useCall } from '../composables/use-call';
import { useTasksStore } from './tasks';
import { classColor as colorOfClass } from '../classes';
import { parseSourceKey, readCheckpoints, sourceKey, sourceOptions, type SourceOption } from './backbones';

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
export type BackboneOption = SourceOption;

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
  const startCall = useCall((args: CallArgs<'finetuneStart'>) => api().call('finetuneStart', args));
  const { busy: startBusy, error: startError } = startCall;
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
  /** The cell's validation images (the first `confusionImagesMax`) and how many there are; the newest cell asked wins. */
  const cellCall = useCall(
    async (args: CallArgs<'confusionImages'>): Promise<Result<{ total: number; images: GalleryItem[] }>> => {
      const ids = await api().call('confusionImages', args);
      if (!ids.ok) return ids;
      if (ids.value.length === 0) return ok({ total: 0, images: [] });
      const items = await api().call('libraryItems', { ids: ids.value.slice(0, confusionImagesMax) });
      return items.ok ? ok({ total: ids.value.length, images: items.value }) : items;
    },
    { overlap: 'latest' },
  );
  const { busy: cellLoading, error: cellError } = cellCall;
  const cellImages = computed(() => cellCall.value.value?.images ?? []);
  const cellTotal = computed(() => cellCall.value.value?.total ?? 0);

  /** Goes up when the classifiers' outcome changes (a round finished, another one chosen): the
   * predictions and the review queue read again (see stores/predictions.ts and stores/review.ts). */
  const outcome = ref(0);

  // --- Rounds.
  const rounds = ref<FinetuneRound[]>([]);
  const roundsError = ref<AppError>();

  let started = false;

  // ------------------------------------------------------------------------------------------
  // Derived state.

  const options = computed<BackboneOption[]>(() =>
    sourceOptions(runs.value, checkpoints.value, backbone.value, { random: false, inUseMark: 'chosen' }),
  );
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

  /** The colour of a class, the same as on the Label screen (its own, else the palette by its id). */
  function classColor(classId: number | undefined): string {
    if (classId === undefined) return '#888888';
    return colorOfClass(classes.value.find((info) => info.id === classId) ?? { id: classId, color: null });
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
      void tasks.findRunning('finetune').then((info) => {
        if (!info || taskId.value) return;
        taskId.value = info.id;
        putTask(info);
      });
    }
    await load();
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
    await Promise.all([
      readCheckpoints(runs.value.map((run) => run.id), checkpoints.value).then((found) => (checkpoints.value = found)),
      loadClassifiers(),
      loadRounds(),
    ]);
    loading.value = false;
    loaded.value = true;
  }

  async function loadClasses(): Promise<void> {
    const result = await api().call('libraryClasses', {});
    if (result.ok) classes.value = result.value;
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
    const error = await startCall.run(args);
    const answer = startCall.value.value;
    if (error || !answer) return error;
    lastArgs.value = args;
    const started = answer.task;
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
      outcome.value += 1;
    }
  }

  // ------------------------------------------------------------------------------------------
  // Classifiers.

  /** Looks at a classifier (its details, confusion matrix and predictions) without choosing it. */
  async function select(classifierId: number): Promise<void> {
    selectedId.value = classifierId;
    closeCell();
    await loadDetails(classifierId);
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
    outcome.value += 1;
    return undefined;
  }

  /** Shows the validation images of one cell of the confusion matrix of the classifier looked at. */
  async function openCell(trueClassId: number, predictedClassId: number): Promise<void> {
    const classifierId = viewedId.value;
    if (classifierId === undefined) return;
    cell.value = { classifierId, trueClassId, predictedClassId };
    await cellCall.run({ classifierId, trueClassId, predictedClassId });
  }

  function closeCell(): void {
    cell.value = undefined;
    cellCall.reset();
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
    rounds,
    outcome,
    roundsError,
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
  };
});

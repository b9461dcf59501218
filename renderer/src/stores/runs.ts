import { defineStore } from 'pinia';
import { computed, markRaw, ref, shallowRef } from 'vue';
import type { CallArgs } from '../../../main/common/api-contract';
import { err, type AppError, type Result } from '../../../main/common/result';
import type {
  BackboneChoice,
  CheckpointInfo,
  MontageInspection,
  PretrainEstimate,
  RunDetails,
  RunEpochMetric,
  RunEvent,
  RunInfo,
  RunMetric,
} from '../../../main/common/runs';
import { api } from '../api';
import { LiveSeries, type ChartPoint } from '../charts/series';
import { useCall } from '../composables/use-call';

/** The curves a run view draws, one live buffer each. */
export const seriesKeys = ['total', 'cluster', 'location', 'lr', 'imagesPerSecond', 'locationAccuracy', 'clusterAccuracy'] as const;
export type SeriesKey = (typeof seriesKeys)[number];

/** Points kept per live curve: enough for a smooth chart, bounded for a 100,000-step run. */
export const seriesMaxPoints = 2000;
/** Log lines kept in memory (and asked for when a run is opened). */
export const maxLogLines = 2000;
/** How often at most the charts are told that their curves grew (ms). */
export const chartRefreshMs = 200;

export type LogLevel = 'info' | 'warn' | 'error';
export interface LogLine {
  id: number;
  text: string;
  level: LogLevel;
}

/** The level of a line read back from a run's log file (live lines carry theirs). */
export function levelOf(text: string): LogLevel {
  // The log file writes "<ISO time> LEVEL message".
  const written = /^\S+\s+(INFO|WARN|ERROR)\b/.exec(text);
  if (written) return written[1]!.toLowerCase() as LogLevel;
  if (/\b(error|exception|crash(ed)?|failed|fatal)\b/i.test(text)) return 'error';
  if (/\b(warn(ing)?)\b/i.test(text)) return 'warn';
  return 'info';
}

function makeSeries(): Record<SeriesKey, LiveSeries> {
  return Object.fromEntries(seriesKeys.map((key) => [key, markRaw(new LiveSeries(seriesMaxPoints))])) as Record<SeriesKey, LiveSeries>;
}

/** The values of one metric row for each curve; null or undefined where it has none. */
function valuesOf(row: Partial<RunMetric>): Record<SeriesKey, number | null | undefined> {
  return {
    total: row.total,
    cluster: row.cluster,
    location: row.location,
    lr: row.lr,
    imagesPerSecond: row.imagesPerSecond,
    locationAccuracy: row.locationAccuracy,
    clusterAccuracy: row.clusterAccuracy,
  };
}

function pushValues(target: Record<SeriesKey, { push(point: ChartPoint): void }>, step: number, values: Record<SeriesKey, number | null | undefined>): void {
  for (const key of seriesKeys) {
    const y = values[key];
    if (y !== null && y !== undefined && Number.isFinite(y)) target[key].push({ x: step, y });
  }
}

/**
 * Pretraining runs as the views see them: the history list, the run that is training now (its
 * latest `run` event, recovered from pretrainState on load), and the run a view has open: its
 * details, live curves (bounded buffers fed by history then events), kNN points and log.
 * Every call is wrapped: actions return the AppError (or a Result) for the view to show.
 */
export const useRunsStore = defineStore('runs', () => {
  const runs = ref<RunInfo[]>([]);
  const listLoaded = ref(false);
  const listError = ref<AppError>();
  /** The latest event of the run that is (or was last seen) training. */
  const live = ref<RunEvent | null>(null);
  const stateLoaded = ref(false);
  const backbone = ref<BackboneChoice | null>(null);
  /** The last error of an action, for views that show one banner. */
  const error = ref<AppError>();

  /** The run a view has open. */
  const viewedId = ref<number>();
  const details = ref<RunDetails>();
  const detailsLoading = ref(false);
  const detailsError = ref<AppError>();
  const series = makeSeries();
  const knn = shallowRef<ChartPoint[]>([]);
  /** Bumped (at most every chartRefreshMs) when the live curves grew, so the charts redraw. */
  const seriesVersion = ref(0);
  const log = shallowRef<LogLine[]>([]);
  /** The open run's log file; the answer for the run opened last wins. */
  const logCall = useCall((runId: number) => api().call('runLog', { runId, lines: maxLogLines }), {
    overlap: 'latest',
    onValue: (answer) => {
      // Lines that came live while the file was read are in it already, unless they came after.
      const arrived = log.value;
      const tail = answer.lines.slice(-50);
      log.value = [];
      appendLog([
        ...answer.lines.map((text) => ({ text, level: levelOf(text) })),
        ...arrived.filter((line) => !tail.some((known) => known.endsWith(line.text))),
      ]);
    },
  });
  const { busy: logLoading, error: logError } = logCall;

  let started = false;
  let generation = 0;
  let lineId = 0;
  let lastStep = 0;
  /** Events of the open run that came while its history was loading. */
  let queued: RunEvent[] | undefined;
  let bumpTimer: ReturnType<typeof setTimeout> | undefined;
  let infoTimer: ReturnType<typeof setTimeout> | undefined;

  /** The run training now (preparing, running or paused), if any. */
  const activeRunId = computed(() => {
    const event = live.value;
    return event && event.phase !== 'ended' && (event.status === 'running' || event.status === 'paused') ? event.runId : undefined;
  });
  const activeRun = computed(() => runs.value.find((run) => run.id === activeRunId.value));
  /** The live event of the open run while it trains. */
  const viewedLive = computed(() => (live.value && live.value.runId === viewedId.value ? live.value : undefined));

  /** Loads the list, the training run and the backbone, and follows run events; safe to call more than once. */
  async function start(): Promise<void> {
    if (started) return;
    started = true;
    api().on('run', onEvent);
    await Promise.all([loadList(), loadState(), loadBackbone()]);
  }

  async function loadState(): Promise<void> {
    const result = await api().call('pretrainState', {});
    stateLoaded.value = true;
    if (!result.ok) {
      error.value = result.error;
      return;
    }
    // An event that came meanwhile is newer than this answer.
    if (!live.value) live.value = result.value;
  }

  async function loadList(): Promise<void> {
    const result = await api().call('runsList', {});
    if (result.ok) {
      runs.value = result.value;
      listError.value = undefined;
    } else listError.value = result.error;
    listLoaded.value = true;
  }

  async function loadBackbone(): Promise<void> {
    const result = await api().call('backboneGet', {});
    if (result.ok) backbone.value = result.value;
  }

  /** Puts a run's row in the list (without the curves a RunDetails carries) and in the open details. */
  function patchRun(given: RunInfo | RunDetails): void {
    const { metrics: _metrics, metricCount: _count, checkpoints: _checkpoints, epochMetrics: _epochs, ...updated } = given as RunDetails;
    const index = runs.value.findIndex((run) => run.id === updated.id);
    if (index >= 0) runs.value.splice(index, 1, updated);
    else runs.value.unshift(updated);
    if (details.value?.id === updated.id) details.value = { ...details.value, ...updated };
  }

  function onEvent(event: RunEvent): void {
    const isNew = live.value?.runId !== event.runId;
    // Once training starts the trainer has chosen its engine and the plan is known: read the row again.
    const begins = !isNew && live.value?.phase === 'preparing' && event.phase === 'training';
    live.value = event;
    const known = runs.value.find((run) => run.id === event.runId);
    if (known && (known.status !== event.status || known.lastStep < event.step)) {
      patchRun({ ...known, status: event.status, lastStep: Math.max(known.lastStep, event.step), totalSteps: event.totalSteps || known.totalSteps });
    } else if (!known && details.value?.id === event.runId && details.value.status !== event.status) {
      details.value = { ...details.value, status: event.status };
    }
    if (!known || isNew || begins || event.phase === 'ended') void loadList();
    // A finished run may have become the backbone in use (none was, or the sample run's was).
    if (event.phase === 'ended') void loadBackbone();
    if (begins && event.runId === viewedId.value) scheduleInfo(0);
    if (event.runId !== viewedId.value) return;
    if (event.message) {
      const level = event.level ?? (event.phase === 'ended' && event.status === 'crashed' ? 'error' : levelOf(event.message));
      appendLog([{ text: event.message, level }]);
    }
    if (queued) queued.push(event);
    else apply(event);
    // Live events sample the steps: once the run ends, its curves are read back whole.
    if (event.phase === 'ended' && !queued) void reloadCurves(event.runId);
  }

  /** Adds what one event of the open run brings: curve points, a kNN point, a checkpoint. */
  function apply(event: RunEvent): void {
    // Events repeat the latest values (a log line, a pause): a step is drawn once.
    if (event.phase === 'training' && event.losses && event.step > lastStep) {
      lastStep = event.step;
      pushValues(series, event.step, valuesOf({ ...event.losses, lr: event.lr, imagesPerSecond: event.imagesPerSecond, locationAccuracy: event.locationAccuracy, clusterAccuracy: event.clusterAccuracy }));
      scheduleBump();
    }
    if (event.knn) addKnn(event.knn);
    if (event.checkpoint) addCheckpoint(event.checkpoint);
  }

  function addKnn(point: RunEpochMetric): void {
    if (knn.value.some((known) => known.x === point.step)) return;
    knn.value = [...knn.value, { x: point.step, y: point.knnAccuracy }].sort((a, b) => a.x - b.x);
    if (details.value && !details.value.epochMetrics.some((known) => known.epoch === point.epoch)) {
      details.value = { ...details.value, epochMetrics: [...details.value.epochMetrics, point] };
    }
  }

  function addCheckpoint(checkpoint: CheckpointInfo): void {
    if (!details.value || details.value.checkpoints.some((known) => known.step === checkpoint.step && known.kind === checkpoint.kind)) return;
    details.value = { ...details.value, checkpoints: [...details.value.checkpoints, checkpoint] };
    // The trainer keeps only the newest few: read the list back once it settled.
    scheduleInfo(1500);
  }

  function appendLog(lines: { text: string; level: LogLevel }[]): void {
    const next = log.value.concat(lines.map((line) => ({ id: ++lineId, ...line })));
    log.value = next.length > maxLogLines ? next.slice(next.length - maxLogLines) : next;
  }

  function scheduleBump(): void {
    if (bumpTimer) return;
    bumpTimer = setTimeout(() => {
      bumpTimer = undefined;
      seriesVersion.value += 1;
    }, chartRefreshMs);
  }

  /** Reads the open run's row, checkpoints and kNN values again (not its curves), soon. */
  function scheduleInfo(delayMs: number): void {
    if (infoTimer) clearTimeout(infoTimer);
    infoTimer = setTimeout(() => {
      infoTimer = undefined;
      void refreshInfo();
    }, delayMs);
  }

  async function refreshInfo(): Promise<void> {
    const runId = viewedId.value;
    if (runId === undefined || !details.value) return;
    const asked = generation;
    const result = await api().call('runGet', { runId, maxPoints: 10 });
    if (asked !== generation || !result.ok || !details.value) return;
    details.value = { ...result.value, metrics: details.value.metrics, metricCount: Math.max(result.value.metricCount, details.value.metricCount) };
    for (const point of result.value.epochMetrics) addKnn(point);
    patchRun(result.value);
  }

  /** Opens a run: its details and history curves, then its live events; its log alongside. */
  async function openRun(runId: number): Promise<void> {
    generation += 1;
    const asked = generation;
    viewedId.value = runId;
    details.value = undefined;
    detailsError.value = undefined;
    detailsLoading.value = true;
    for (const key of seriesKeys) series[key].reset();
    knn.value = [];
    log.value = [];
    lastStep = 0;
    queued = [];
    seriesVersion.value += 1;
    await Promise.all([loadDetails(runId, asked), logCall.run(runId)]);
  }

  async function loadDetails(runId: number, asked: number): Promise<void> {
    const result = await api().call('runGet', { runId, maxPoints: seriesMaxPoints });
    if (asked !== generation) return;
    detailsLoading.value = false;
    const waiting = queued ?? [];
    queued = undefined;
    if (!result.ok) {
      detailsError.value = result.error;
      return;
    }
    const run = result.value;
    details.value = run;
    const points = Object.fromEntries(seriesKeys.map((key) => [key, [] as ChartPoint[]])) as Record<SeriesKey, ChartPoint[]>;
    for (const row of run.metrics) {
      pushValues(points, row.step, valuesOf(row));
      lastStep = Math.max(lastStep, row.step);
    }
    for (const key of seriesKeys) series[key].reset(points[key]);
    knn.value = run.epochMetrics.map((point) => ({ x: point.step, y: point.knnAccuracy })).sort((a, b) => a.x - b.x);
    seriesVersion.value += 1;
    for (const event of waiting) apply(event);
    patchRun(run);
  }

  /**
   * Reads an open run's details, curves and log again once it has ended: live events sample the steps,
   * and lines written after the last event (e.g. that the run became the backbone in use) are only in the file.
   */
  async function reloadCurves(runId: number): Promise<void> {
    if (viewedId.value !== runId) return;
    queued = [];
    await Promise.all([loadDetails(runId, generation), reloadLog(runId, generation)]);
  }

  /** The log file of a run that has ended, then the live lines the file does not hold. */
  async function reloadLog(runId: number, asked: number): Promise<void> {
    const result = await api().call('runLog', { runId, lines: maxLogLines });
    if (asked !== generation || !result.ok) return;
    const file = result.value.lines;
    const arrived = log.value.filter((line) => !file.some((known) => known.endsWith(line.text)));
    log.value = [];
    appendLog([...file.map((text) => ({ text, level: levelOf(text) })), ...arrived]);
  }

  /** Forgets the open run (the view closed). */
  function closeRun(): void {
    generation += 1;
    viewedId.value = undefined;
    details.value = undefined;
    queued = undefined;
    logCall.reset();
  }

  function fail<T>(result: Result<T>): Result<T> {
    if (!result.ok) error.value = result.error;
    return result;
  }

  async function estimate(args: CallArgs<'pretrainEstimate'>): Promise<Result<PretrainEstimate>> {
    return api().call('pretrainEstimate', args);
  }

  /** Starts a run; its first event may come before or after this answer. */
  async function startRun(args: CallArgs<'pretrainStart'>): Promise<Result<RunInfo>> {
    const result = fail(await api().call('pretrainStart', args));
    if (result.ok) {
      const run = result.value;
      patchRun(run);
      if (live.value?.runId !== run.id) {
        live.value = { runId: run.id, status: 'running', phase: 'preparing', step: 0, totalSteps: run.totalSteps ?? 0, epoch: 0, epochs: run.config.epochs };
      }
    }
    return result;
  }

  async function control(name: 'pretrainPause' | 'pretrainResume' | 'pretrainCancel', runId: number): Promise<AppError | undefined> {
    const result = fail(await api().call(name, { runId }));
    if (!result.ok) return result.error;
    patchRun(result.value);
    if (live.value?.runId === runId && name !== 'pretrainCancel') live.value = { ...live.value, status: result.value.status };
    return undefined;
  }

  const pause = (runId: number) => control('pretrainPause', runId);
  const resume = (runId: number) => control('pretrainResume', runId);
  const cancel = (runId: number) => control('pretrainCancel', runId);

  /** Continues a run (in place, or as a new run from an older checkpoint); returns the run that trains. */
  async function continueRun(args: CallArgs<'pretrainContinue'>): Promise<Result<RunInfo>> {
    const result = fail(await api().call('pretrainContinue', args));
    if (result.ok) {
      const run = result.value;
      patchRun(run);
      live.value = { runId: run.id, status: 'running', phase: 'preparing', step: run.lastStep, totalSteps: run.totalSteps ?? 0, epoch: 0, epochs: run.config.epochs };
      if (run.id === viewedId.value) scheduleInfo(0);
    }
    return result;
  }

  async function inspect(args: CallArgs<'pretrainInspect'>): Promise<Result<MontageInspection>> {
    return api().call('pretrainInspect', args);
  }

  async function rename(runId: number, name: string): Promise<AppError | undefined> {
    const result = fail(await api().call('runRename', { runId, name }));
    if (!result.ok) return result.error;
    patchRun(result.value);
    return undefined;
  }

  async function setNote(runId: number, note: string): Promise<AppError | undefined> {
    const result = fail(await api().call('runNote', { runId, note }));
    if (!result.ok) return result.error;
    patchRun(result.value);
    return undefined;
  }

  async function remove(runId: number): Promise<AppError | undefined> {
    const result = fail(await api().call('runDelete', { runId, confirm: true }));
    if (!result.ok) return result.error;
    runs.value = runs.value.filter((run) => run.id !== runId);
    if (viewedId.value === runId) closeRun();
    if (backbone.value?.runId === runId) await loadBackbone();
    return undefined;
  }

  async function useCheckpoint(runId: number, step: number): Promise<AppError | undefined> {
    const result = fail(await api().call('runUseCheckpoint', { runId, step }));
    if (!result.ok) return result.error;
    backbone.value = result.value;
    return undefined;
  }

  /** One run's details without opening it (run comparison). */
  async function fetchDetails(runId: number, maxPoints = 1000): Promise<Result<RunDetails>> {
    if (!Number.isInteger(runId) || runId <= 0) return err('INVALID_ARGUMENT', `No run with id ${runId}.`);
    return api().call('runGet', { runId, maxPoints });
  }

  return {
    runs,
    listLoaded,
    listError,
    live,
    stateLoaded,
    backbone,
    error,
    viewedId,
    details,
    detailsLoading,
    detailsError,
    series,
    knn,
    seriesVersion,
    log,
    logLoading,
    logError,
    activeRunId,
    activeRun,
    viewedLive,
    start,
    loadList,
    loadState,
    loadBackbone,
    openRun,
    closeRun,
    refreshInfo,
    estimate,
    startRun,
    pause,
    resume,
    cancel,
    continueRun,
    inspect,
    rename,
    setNote,
    remove,
    useCheckpoint,
    fetchDetails,
  };
});

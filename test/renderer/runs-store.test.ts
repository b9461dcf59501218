// @vitest-environment happy-dom
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { err, ok, type Result } from '../../main/common/result';
import type { MontageInspection, RunDetails, RunEvent, RunMetric } from '../../main/common/runs';
import { useClient } from '../../renderer/src/api';
import { fakeClient } from '../helpers/fake-client';
import { runInfo } from '../helpers/run-fixtures';
import MontageInspector from '../../renderer/src/components/runs/MontageInspector.vue';
import { levelOf, maxLogLines, useRunsStore } from '../../renderer/src/stores/runs';


function metric(step: number): RunMetric {
  return { step, epoch: 1, total: 5 - step / 100, cluster: 3, location: 2, lr: 0.01, imagesPerSecond: 50, locationAccuracy: 0.5, clusterAccuracy: null };
}

function details(id: number, patch: Partial<RunDetails> = {}): RunDetails {
  return { ...runInfo(id), metrics: [], metricCount: 0, checkpoints: [], epochMetrics: [], ...patch };
}

function event(runId: number, patch: Partial<RunEvent> = {}): RunEvent {
  return { runId, status: 'running', phase: 'training', step: 0, totalSteps: 60, epoch: 1, epochs: 20, ...patch };
}

const flush = () => new Promise((resolve) => setTimeout(resolve, 0));

beforeEach(() => {
  setActivePinia(createPinia());
});

afterEach(() => {
  vi.useRealTimers();
});

describe('runs store: start', () => {
  it('recovers the run that trains from pretrainState and the list from runsList', async () => {
    const fake = fakeClient({
      pretrainState: () => event(2, { step: 12, status: 'paused' }),
      runsList: () => [runInfo(2, { status: 'paused', lastStep: 12 }), runInfo(1)],
      backboneGet: () => ({ runId: 1, runName: 'Run 1', step: 60, file: '/x', chosenAt: '2026-01-01T10:06:00.000Z' }) });
    useClient(fake.client);
    const store = useRunsStore();
    await store.start();
    expect(store.runs.map((run) => run.id)).toEqual([2, 1]);
    expect(store.activeRunId).toBe(2);
    expect(store.activeRun?.status).toBe('paused');
    expect(store.backbone?.step).toBe(60);
    expect(store.listLoaded).toBe(true);
    // Safe to call again: nothing is asked twice.
    await store.start();
    expect(fake.calls.filter((call) => call.name === 'runsList')).toHaveLength(1);
  });

  it('has no active run when none trains, and keeps the errors of failed calls', async () => {
    const fake = fakeClient({
      pretrainState: () => null,
      runsList: () => err('INTERNAL', 'the database is locked'),
      backboneGet: () => null });
    useClient(fake.client);
    const store = useRunsStore();
    await store.start();
    expect(store.activeRunId).toBeUndefined();
    expect(store.listError).toEqual({ code: 'INTERNAL', message: 'the database is locked' });
    expect(store.listLoaded).toBe(true);
  });

  it('follows a run that ends: no active run any more, the list is read again', async () => {
    const fake = fakeClient({
      pretrainState: () => event(3, { step: 5 }),
      runsList: () => [runInfo(3, { status: 'running' })],
      backboneGet: () => null });
    useClient(fake.client);
    const store = useRunsStore();
    await store.start();
    expect(store.activeRunId).toBe(3);
    fake.handlers.runsList = () => [runInfo(3, { status: 'finished' })];
    fake.emit('run', event(3, { status: 'finished', phase: 'ended', step: 60 }));
    await flush();
    expect(store.activeRunId).toBeUndefined();
    expect(store.runs[0]?.status).toBe('finished');
  });
});

describe('runs store: an open run', () => {
  async function openStore(history: Partial<RunDetails> = {}, logLines: string[] = []) {
    const fake = fakeClient({
      pretrainState: () => event(4, { step: 3 }),
      runsList: () => [runInfo(4, { status: 'running', lastStep: 3 })],
      backboneGet: () => null,
      runGet: () => details(4, { status: 'running', metrics: [metric(1), metric(2), metric(3)], metricCount: 3, ...history }),
      runLog: () => ({ lines: logLines }) });
    useClient(fake.client);
    const store = useRunsStore();
    await store.start();
    await store.openRun(4);
    return { fake, store };
  }

  it('seeds the curves from history, then appends each live step once', async () => {
    const { fake, store } = await openStore();
    expect(store.details?.id).toBe(4);
    expect(store.series.total.length).toBe(3);
    expect(store.series.locationAccuracy.length).toBe(3);
    // A null value draws no point.
    expect(store.series.clusterAccuracy.length).toBe(0);

    fake.emit('run', event(4, { step: 4, losses: { total: 4, cluster: 2.5, location: 1.5 }, lr: 0.02, imagesPerSecond: 60, clusterAccuracy: 0.25 }));
    // Events repeat the latest values (here with a log line): the step is not drawn twice.
    fake.emit('run', event(4, { step: 4, losses: { total: 4, cluster: 2.5, location: 1.5 }, message: 'epoch 1 done' }));
    // An older step (history overlap) is ignored.
    fake.emit('run', event(4, { step: 2, losses: { total: 9, cluster: 9, location: 9 } }));
    expect(store.series.total.points.map((point) => point.x)).toEqual([1, 2, 3, 4]);
    expect(store.series.total.points.at(-1)?.y).toBe(4);
    expect(store.series.lr.points.at(-1)).toEqual({ x: 4, y: 0.02 });
    expect(store.series.clusterAccuracy.points).toEqual([{ x: 4, y: 0.25 }]);
    expect(store.log.map((line) => line.text)).toEqual(['epoch 1 done']);
    expect(store.viewedLive?.step).toBe(2);
  });

  it('reads the whole curves back when the open run ends (live events only sample the steps)', async () => {
    const { fake, store } = await openStore();
    fake.handlers.runGet = () => details(4, { status: 'finished', metrics: [1, 2, 3, 4, 5, 6].map(metric), metricCount: 6 });
    fake.emit('run', event(4, { step: 6, losses: { total: 1, cluster: 1, location: 1 } }));
    expect(store.series.total.points.map((point) => point.x)).toEqual([1, 2, 3, 6]);
    // A line written after the last event (no event carries it) is read from the file once the run ends.
    fake.handlers.runLog = () => ({ lines: ['2026-01-01T10:03:00.000Z INFO  Its checkpoint at step 6 is now the backbone in use.'] });
    fake.emit('run', event(4, { step: 6, status: 'finished', phase: 'ended', message: 'Run ended: finished.' }));
    await flush();
    expect(store.log.map((line) => line.text).some((text) => text.endsWith('is now the backbone in use.'))).toBe(true);
    expect(store.series.total.points.map((point) => point.x)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(store.details?.status).toBe('finished');
    expect(store.activeRunId).toBeUndefined();
    expect(store.log.at(-1)?.text).toBe('Run ended: finished.');
  });

  it('adds kNN points and checkpoints once, and ignores the events of other runs', async () => {
    const { fake, store } = await openStore({ epochMetrics: [{ epoch: 1, step: 3, knnAccuracy: 0.4 }] });
    expect(store.knn).toEqual([{ x: 3, y: 0.4 }]);
    const knn = { epoch: 2, step: 6, knnAccuracy: 0.55 };
    const checkpoint = { step: 6, epoch: 2, kind: 'epoch' as const, file: '/data/runs/4/step-6', createdAt: '2026-01-01T10:02:00.000Z' };
    fake.emit('run', event(4, { step: 6, knn, checkpoint }));
    fake.emit('run', event(4, { step: 6, knn, checkpoint }));
    expect(store.knn).toEqual([
      { x: 3, y: 0.4 },
      { x: 6, y: 0.55 },
    ]);
    expect(store.details?.checkpoints).toHaveLength(1);
    expect(store.details?.epochMetrics).toHaveLength(2);
    fake.emit('run', event(9, { step: 50, losses: { total: 1, cluster: 1, location: 1 }, message: 'other run' }));
    expect(store.series.total.length).toBe(3);
    expect(store.log).toHaveLength(0);
  });

  it('loads the log, colours lines by level, and keeps at most the last lines', async () => {
    const lines = Array.from({ length: maxLogLines }, (_, i) => `line ${i}`);
    lines[maxLogLines - 1] = 'WARN the wasm engine is slow here';
    const { fake, store } = await openStore({}, lines);
    expect(store.log).toHaveLength(maxLogLines);
    expect(store.log.at(-1)?.level).toBe('warn');
    fake.emit('run', event(4, { message: 'disk almost full', level: 'error' }));
    expect(store.log).toHaveLength(maxLogLines);
    expect(store.log[0]?.text).toBe('line 1');
    expect(store.log.at(-1)).toMatchObject({ text: 'disk almost full', level: 'error' });
  });

  it('queues the events that come while the history loads, and applies them after it', async () => {
    let answer!: (value: Result<RunDetails>) => void;
    const fake = fakeClient({
      pretrainState: () => null,
      runsList: () => [],
      backboneGet: () => null,
      runGet: () => new Promise<Result<RunDetails>>((resolve) => (answer = resolve)),
      runLog: () => ({ lines: [] }) });
    useClient(fake.client);
    const store = useRunsStore();
    await store.start();
    const opening = store.openRun(5);
    await flush();
    fake.emit('run', event(5, { step: 2, losses: { total: 7, cluster: 4, location: 3 } }));
    fake.emit('run', event(5, { step: 3, losses: { total: 6, cluster: 4, location: 2 }, message: 'step 3' }));
    expect(store.series.total.length).toBe(0);
    answer(ok(details(5, { status: 'running', metrics: [metric(1), metric(2)], metricCount: 2 })));
    await opening;
    expect(store.series.total.points.map((point) => point.x)).toEqual([1, 2, 3]);
    expect(store.log.map((line) => line.text)).toEqual(['step 3']);
    expect(store.activeRunId).toBe(5);
  });

  it('keeps a missing run as a NOT_FOUND error for the view', async () => {
    const fake = fakeClient({
      pretrainState: () => null,
      runsList: () => [],
      backboneGet: () => null,
      runGet: () => err('NOT_FOUND', 'No run with id 77.'),
      runLog: () => err('NOT_FOUND', 'No run with id 77.') });
    useClient(fake.client);
    const store = useRunsStore();
    await store.openRun(77);
    expect(store.details).toBeUndefined();
    expect(store.detailsError?.code).toBe('NOT_FOUND');
    expect(store.detailsLoading).toBe(false);
  });
});

describe('runs store: actions', () => {
  it('starts a run: it is in the list and active before its first event', async () => {
    const fake = fakeClient({
      pretrainStart: () => runInfo(8, { status: 'running' }) });
    useClient(fake.client);
    const store = useRunsStore();
    const result = await store.startRun({ preset: 'cpu-small', overrides: { batch: 16 } });
    expect(result.ok).toBe(true);
    expect(fake.calls[0]).toEqual({ name: 'pretrainStart', args: { preset: 'cpu-small', overrides: { batch: 16 } } });
    expect(store.runs[0]?.id).toBe(8);
    expect(store.activeRunId).toBe(8);
    expect(store.live?.phase).toBe('preparing');
  });

  it('returns the error of a refused call and keeps it', async () => {
    const fake = fakeClient({
      pretrainStart: () => err('CONFLICT', 'Run 3 is already training: one training job runs at a time.'),
      pretrainPause: () => err('CONFLICT', 'Run 3 is not training now.') });
    useClient(fake.client);
    const store = useRunsStore();
    const result = await store.startRun({ preset: 'cpu-small' });
    expect(result.ok).toBe(false);
    expect(store.error?.code).toBe('CONFLICT');
    expect(await store.pause(3)).toEqual({ code: 'CONFLICT', message: 'Run 3 is not training now.' });
    expect(store.activeRunId).toBeUndefined();
  });

  it('pauses and resumes the live run, renames, notes, deletes and chooses a checkpoint', async () => {
    const fake = fakeClient({
      pretrainState: () => event(6, { step: 10 }),
      runsList: () => [runInfo(6, { status: 'running' }), runInfo(5)],
      backboneGet: () => null,
      pretrainPause: () => runInfo(6, { status: 'paused' }),
      pretrainResume: () => runInfo(6, { status: 'running' }),
      runRename: (args: { name: string }) => runInfo(5, { name: args.name }),
      runNote: (args: { note: string }) => runInfo(5, { note: args.note }),
      runDelete: () => ({ deleted: true }),
      runUseCheckpoint: (args: { runId: number; step: number }) => ({ runId: args.runId, runName: 'Run 5', step: args.step, file: '/f', chosenAt: 'now' }) });
    useClient(fake.client);
    const store = useRunsStore();
    await store.start();
    expect(await store.pause(6)).toBeUndefined();
    expect(store.live?.status).toBe('paused');
    expect(store.activeRunId).toBe(6);
    expect(store.runs[0]?.status).toBe('paused');
    expect(await store.resume(6)).toBeUndefined();
    expect(store.live?.status).toBe('running');

    expect(await store.rename(5, 'baseline')).toBeUndefined();
    expect(store.runs.find((run) => run.id === 5)?.name).toBe('baseline');
    expect(await store.setNote(5, 'lr too high?')).toBeUndefined();
    expect(store.runs.find((run) => run.id === 5)?.note).toBe('lr too high?');
    expect(await store.useCheckpoint(5, 60)).toBeUndefined();
    expect(store.backbone).toMatchObject({ runId: 5, step: 60 });
    expect(await store.remove(5)).toBeUndefined();
    expect(fake.calls.find((call) => call.name === 'runDelete')?.args).toEqual({ runId: 5, confirm: true });
    expect(store.runs.map((run) => run.id)).toEqual([6]);
  });

  it('redraws the charts at most every few hundred ms', async () => {
    vi.useFakeTimers();
    const fake = fakeClient({
      pretrainState: () => null,
      runsList: () => [],
      backboneGet: () => null,
      runGet: () => details(4, { status: 'running' }),
      runLog: () => ({ lines: [] }) });
    useClient(fake.client);
    const store = useRunsStore();
    await store.start();
    await store.openRun(4);
    const version = store.seriesVersion;
    for (let step = 1; step <= 50; step++) fake.emit('run', event(4, { step, losses: { total: 1, cluster: 1, location: 1 } }));
    expect(store.series.total.length).toBe(50);
    expect(store.seriesVersion).toBe(version);
    vi.advanceTimersByTime(250);
    expect(store.seriesVersion).toBe(version + 1);
  });
});

describe('levelOf', () => {
  it('reads the level of a log line', () => {
    expect(levelOf('2026-01-01 [warn] slow engine')).toBe('warn');
    expect(levelOf('Training failed: out of memory')).toBe('error');
    expect(levelOf('epoch 3/20 loss 4.1')).toBe('info');
    expect(levelOf('2026-11-25T10:00:00.000Z WARN  tfjs-node is not available')).toBe('warn');
    expect(levelOf('2026-11-25T10:00:00.000Z ERROR out of memory')).toBe('error');
    expect(levelOf('2026-11-25T10:00:00.000Z INFO  3 images failed to decode, skipped')).toBe('info');
  });
});

describe('MontageInspector (reads the store)', () => {
  function inspection(step: number): MontageInspection {
    const patches = [0, 1].flatMap((montage) =>
      [0, 1, 2, 3].map((cell) => ({
        montage,
        cell,
        source: montage * 4 + cell,
        imageId: cell === 3 ? null : 10 + cell,
        fileName: `img${cell}.jpg`,
        trueLocation: cell,
        predictedLocation: cell === 1 ? 2 : cell,
        neighbours: [
          { montage: 1 - montage, cell, similarity: 0.9, sameSource: true },
          { montage, cell: (cell + 1) % 4, similarity: 0.5, sameSource: false },
          { montage: 5, cell: 0, similarity: 0.4, sameSource: false },
        ] })),
    );
    const bytes = btoa(String.fromCharCode(...new Uint8Array(4 * 4 * 4).fill(200)));
    return { runId: 4, step, epoch: 2, stepInEpoch: 3, weightsStep: 12, grid: 2, crop: 2, size: 4, batch: 8, montages: [bytes, bytes], patches, locationAccuracy: 0.75, clusterAccuracy: 0.5 };
  }

  it('shows the batch: patches with true and predicted locations, accuracies, and the neighbours of a clicked patch', async () => {
    const fake = fakeClient({ pretrainInspect: (args: { step?: number }) => inspection(args.step ?? 12) });
    useClient(fake.client);
    const wrapper = mount(MontageInspector, { props: { runId: 4, status: 'running', step: 12 } });
    expect(wrapper.find('[data-testid="inspect-step"]').exists()).toBe(false);
    await wrapper.get('[data-testid="inspect-open"]').trigger('click');
    await flushPromises();
    expect(fake.calls.at(-1)).toEqual({ name: 'pretrainInspect', args: { runId: 4, montages: 8 } });
    expect(wrapper.findAll('[data-testid="montage"]')).toHaveLength(2);
    const patches = wrapper.findAll('[data-testid="patch"]');
    expect(patches).toHaveLength(8);
    expect(patches[0]!.text()).toBe('true TL · pred TL');
    expect(patches[0]!.classes()).toContain('patch-right');
    expect(patches[1]!.text()).toBe('true TR · pred BL');
    expect(patches[1]!.classes()).toContain('patch-wrong');
    expect(patches[0]!.find('img').attributes('src')).toBe('/thumbs/10');
    expect(patches[3]!.find('img').exists()).toBe(false);
    expect(wrapper.get('[data-testid="inspect-location-accuracy"]').text()).toBe('75.0%');
    expect(wrapper.get('[data-testid="inspect-cluster-accuracy"]').text()).toBe('50.0%');

    await patches[0]!.trigger('click');
    const marked = wrapper.findAll('[data-testid="patch"]');
    expect(marked[4]!.classes()).toContain('patch-same');
    expect(marked[1]!.classes()).toContain('patch-other');
    const neighbours = wrapper.findAll('[data-testid="neighbour"]');
    expect(neighbours.map((row) => row.attributes('data-same'))).toEqual(['true', 'false', 'false']);
    expect(neighbours[2]!.text()).toContain('not shown');
  });

  it('lets a paused run show the batch of an earlier step, within 1 and the current step', async () => {
    const fake = fakeClient({ pretrainInspect: (args: { step?: number }) => inspection(args.step ?? 12) });
    useClient(fake.client);
    const wrapper = mount(MontageInspector, { props: { runId: 4, status: 'paused', step: 12 } });
    const input = wrapper.get('[data-testid="inspect-step"]');
    await input.setValue('20');
    expect(input.attributes('aria-invalid')).toBe('true');
    expect(wrapper.get('[data-testid="inspect-open"]').attributes('disabled')).toBeDefined();
    await input.setValue('5');
    await wrapper.get('[data-testid="inspect-open"]').trigger('click');
    await flushPromises();
    expect(fake.calls.at(-1)?.args).toEqual({ runId: 4, montages: 8, step: 5 });
    expect(wrapper.get('[data-testid="inspect-batch-step"]').text()).toBe('5');
  });

  it('is closed for a run that does not train, and shows a refusal in words', async () => {
    const fake = fakeClient({ pretrainInspect: () => err('CONFLICT', 'Run 4 is not training now.') });
    useClient(fake.client);
    const ended = mount(MontageInspector, { props: { runId: 4, status: 'finished', step: 12 } });
    expect(ended.get('[data-testid="inspect-open"]').attributes('disabled')).toBeDefined();
    const running = mount(MontageInspector, { props: { runId: 4, status: 'running', step: 12 } });
    await running.get('[data-testid="inspect-open"]').trigger('click');
    await flushPromises();
    expect(running.get('[data-testid="inspect-error"]').text()).toBe('Run 4 is not training now.');
  });
});

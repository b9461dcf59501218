// @vitest-environment happy-dom
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CallName } from '../../main/common/api-contract';
import type {
  ClassifierDetails,
  ClassifierInfo,
  FinetuneRound,
  PredictionItem } from '../../main/common/finetune';
import type { ClassInfo, GalleryItem } from '../../main/common/library';
import { err } from '../../main/common/result';
import type { RunDetails, RunInfo } from '../../main/common/runs';
import type { TaskInfo } from '../../main/common/tasks';
import { useClient } from '../../renderer/src/api';
import { fakeClient, type Handler } from '../helpers/fake-client';
import { runInfo as baseRunInfo } from '../helpers/run-fixtures';
import { formatPoints, parseEpochs, useFinetuneStore } from '../../renderer/src/stores/finetune';
import { useReviewStore } from '../../renderer/src/stores/review';
import { classColor as labelClassColor } from '../../renderer/src/stores/labels';
import FinetuneView from '../../renderer/src/views/FinetuneView.vue';


/** A finished run of 6 images and 6 steps with 2 checkpoints. */
const runInfo = (id: number, patch: Partial<RunInfo> = {}): RunInfo => baseRunInfo(id, { imageCount: 6, lastStep: 6, checkpointCount: 2, totalSteps: 6, ...patch });

function runDetails(id: number, steps: number[]): RunDetails {
  return {
    ...runInfo(id),
    metrics: [],
    metricCount: 0,
    epochMetrics: [],
    checkpoints: steps.map((step) => ({
      step,
      epoch: 1,
      kind: 'epoch' as const,
      file: `/c/${step}`,
      createdAt: '2026-01-01T10:04:00.000Z' })) };
}

function classInfo(id: number, name: string, images: number, key: number | null): ClassInfo {
  return { id, name, images, color: null, key, hand: images, folder: 0 };
}

// Keys as stored with the classes (not the list's order): a number key finds its class by key.
const cat = classInfo(11, 'cat', 8, 2);
const dog = classInfo(12, 'dog', 6, 1);
const bird = classInfo(13, 'bird', 0, 3);

const headClasses = [
  { id: 11, name: 'cat' },
  { id: 12, name: 'dog' },
];

function classifier(id: number, patch: Partial<ClassifierInfo> = {}): ClassifierInfo {
  return {
    id,
    mode: 'linear-probe',
    source: { kind: 'checkpoint', runId: 2, step: 6 },
    sourceLabel: 'Run 2 at step 6',
    valAccuracy: 0.8,
    bestEpoch: 7,
    trainCount: 10,
    validationCount: 4,
    classes: headClasses,
    createdAt: '2026-01-02T10:00:00.000Z',
    chosen: false,
    round: 1,
    labelCount: 14,
    folds: null,
    ...patch };
}

/** Round 1: linear probe 80% (chosen), fine-tune 90%, and both on random init (55%, 60%). */
const roundOne: ClassifierInfo[] = [
  classifier(4, {
    mode: 'fine-tune',
    source: { kind: 'random', runId: 2 },
    sourceLabel: "Random init (Run 2's architecture)",
    valAccuracy: 0.6 }),
  classifier(3, {
    mode: 'linear-probe',
    source: { kind: 'random', runId: 2 },
    sourceLabel: "Random init (Run 2's architecture)",
    valAccuracy: 0.55 }),
  classifier(2, { mode: 'fine-tune', valAccuracy: 0.9 }),
  classifier(1, { mode: 'linear-probe', valAccuracy: 0.8, chosen: true }),
];

function details(info: ClassifierInfo): ClassifierDetails {
  return {
    ...info,
    history: [
      { epoch: 1, trainLoss: 1, valAccuracy: 0.5, valLoss: 1, lr: 0.01 },
      { epoch: 2, trainLoss: 0.5, valAccuracy: info.valAccuracy, valLoss: 0.7, lr: 0.01 },
    ],
    confusion: [
      [3, 1],
      [0, 2],
    ],
    perClass: [0.75, 1] };
}

function prediction(imageId: number, classId: number, confidence: number): PredictionItem {
  return {
    imageId,
    classId,
    className: classId === 11 ? 'cat' : 'dog',
    confidence,
    version: `v${imageId}`,
    label: null };
}

const reviewItems = [
  prediction(101, 11, 0.51),
  prediction(102, 12, 0.52),
  prediction(103, 11, 0.55),
  prediction(104, 12, 0.6),
];

function task(id: string, patch: Partial<TaskInfo> = {}): TaskInfo {
  return {
    id,
    kind: 'finetune',
    title: 'Fine-tuning on Run 2 at step 6',
    status: 'running',
    done: 0,
    total: 130,
    unit: 'epochs',
    startedAt: '2026-01-02T10:00:00.000Z',
    ...patch };
}

const rounds: FinetuneRound[] = [
  {
    round: 1,
    createdAt: '2026-01-02T10:00:00.000Z',
    labelCount: 14,
    classCount: 2,
    linearProbe: 0.8,
    fineTune: 0.9,
    randomLinearProbe: 0.55,
    randomFineTune: 0.6 },
];

function galleryItem(id: number): GalleryItem {
  return { id, folderId: 1, relPath: `cats/${id}.png`, version: `v${id}` };
}

function standardClient(overrides: Partial<Record<CallName, Handler>> = {}) {
  return fakeClient({
    tasksList: () => [],
    backboneGet: () => ({
      runId: 2,
      runName: 'Run 2',
      step: 6,
      file: '/c/6',
      chosenAt: '2026-01-01T10:06:00.000Z' }),
    runsList: () => [runInfo(2), runInfo(1)],
    runGet: (args: { runId: number }) => runDetails(args.runId, args.runId === 2 ? [3, 6] : [4]),
    libraryClasses: () => [cat, dog, bird],
    classifiersList: () => roundOne,
    classifierGet: (args: { classifierId: number }) =>
      details(roundOne.find((c) => c.id === args.classifierId)!),
    finetuneRounds: () => rounds,
    finetuneStart: () => ({ task: task('ft-1') }),
    classifierChoose: (args: { classifierId: number }) => ({
      ...roundOne.find((c) => c.id === args.classifierId)!,
      chosen: true }),
    confusionImages: () => [201, 202],
    libraryItems: (args: { ids: number[] }) => args.ids.map(galleryItem),
    predictionsPage: (args: { unlabelledOnly?: boolean; offset?: number }) =>
      args.unlabelledOnly
        ? { items: reviewItems.slice(args.offset ?? 0), total: reviewItems.length }
        : { items: [prediction(1, 11, 0.99), prediction(2, 12, 0.9)], total: 2 },
    labelSet: () => ({ changed: 1, undo: 1, redo: 0 }),
    labelUndo: () => ({ changed: 1, undo: 0, redo: 1, imageIds: [101] }),
    labelsExport: (args: { format: 'csv' | 'json' }) => ({
      fileName: `labels.${args.format}`,
      mimeType: args.format === 'csv' ? 'text/csv' : 'application/json',
      content: 'path,label,source,confidence\ncats/1.png,cat,hand,\n',
      rows: 1 }),
    classifierExport: () => ({
      path: '/out/classifier-1',
      files: ['model.json', 'weights.bin', 'labels.json'] }),
    backboneExport: () => ({ path: '/out/backbone-run2-6', files: ['model.safetensors'] }),
    classFoldersExport: () => ({
      task: task('copy-1', { kind: 'export', title: 'Copying into class folders', unit: 'files', total: 14 }) }),
    ...overrides });
}

const flush = () => flushPromises();
const settle = async () => {
  for (let i = 0; i < 8; i += 1) await flush();
};
const stubs = { RouterLink: { props: ['to'], template: '<a :href="String(to)"><slot /></a>' } };

function mountView() {
  return mount(FinetuneView, { global: { plugins: [createPinia()], stubs }, attachTo: document.body });
}

function press(key: string, init: KeyboardEventInit = {}, target: EventTarget = window): void {
  const event = new KeyboardEvent('keydown', { key, bubbles: true, cancelable: true, ...init });
  target.dispatchEvent(event);
}

afterEach(() => {
  vi.restoreAllMocks();
  document.body.innerHTML = '';
});

describe('helpers', () => {
  it('parses epochs and formats points', () => {
    expect(parseEpochs('')).toEqual({});
    expect(parseEpochs(' 20 ')).toEqual({ epochs: 20 });
    expect(parseEpochs('0').error).toBeTruthy();
    expect(parseEpochs('2.5').error).toBeTruthy();
    expect(formatPoints(0.123)).toBe('+12.3 pts');
    expect(formatPoints(-0.05)).toBe('−5.0 pts');
  });
});

describe('Fine-tune store', () => {
  beforeEach(() => setActivePinia(createPinia()));

  it('loads the backbone, labels, classifiers (with the latest round’s details) and rounds', async () => {
    const fake = standardClient();
    useClient(fake.client);
    const store = useFinetuneStore();
    await store.start();
    expect(store.sourceLabel).toBe('Run 2 at step 6 (chosen)');
    expect(store.labelledClasses.map((c) => c.name)).toEqual(['cat', 'dog']);
    expect(store.enoughLabels).toBe(true);
    expect(store.latest.map((c) => c.id)).toEqual([1, 2, 3, 4]);
    expect(store.viewedId).toBe(1);
    expect(new Set(fake.named('classifierGet').map((call) => call.args.classifierId))).toEqual(
      new Set([1, 2, 3, 4]),
    );
    expect(store.gainOverRandom(store.latest[0]!)).toBeCloseTo(0.25);
    expect(store.gainOverRandom(store.latest[1]!)).toBeCloseTo(0.3);
    expect(store.rounds).toHaveLength(1);
  });

  it('starts with the settings, another backbone as source, and reloads when the task ends', async () => {
    const fake = standardClient();
    useClient(fake.client);
    const store = useFinetuneStore();
    await store.start();
    store.mode = 'fine-tune';
    store.compareRandom = true;
    store.epochsText = '12';
    store.pickSource('c:1:4');
    await store.startFinetune();
    expect(fake.named('finetuneStart')[0]!.args).toEqual({
      mode: 'fine-tune',
      compareRandom: true,
      epochs: 12,
      source: { kind: 'checkpoint', runId: 1, step: 4 } });
    expect(store.training).toBe(true);
    const listsBefore = fake.named('classifiersList').length;
    fake.emit('task', task('ft-1', { status: 'finished', done: 130 }));
    await settle();
    expect(store.training).toBe(false);
    expect(fake.named('classifiersList').length).toBe(listsBefore + 1);
    expect(fake.named('finetuneRounds').length).toBe(2);
    // Retrain repeats the same settings.
    fake.handlers.finetuneStart = () => ({ task: task('ft-2') });
    await store.retrain();
    expect(fake.named('finetuneStart')[1]!.args).toEqual(fake.named('finetuneStart')[0]!.args);
  });

  it('the chosen backbone is not sent as a source; a failed start is kept as the error', async () => {
    const fake = standardClient({
      finetuneStart: () => err('INVALID_ARGUMENT', 'Label at least 2 classes first.') });
    useClient(fake.client);
    const store = useFinetuneStore();
    await store.start();
    store.pickSource('c:2:6');
    await store.startFinetune();
    expect(fake.named('finetuneStart')[0]!.args).toEqual({ mode: 'both', compareRandom: false });
    expect(store.startError?.message).toBe('Label at least 2 classes first.');
  });

  it('a failed task says why', async () => {
    const fake = standardClient();
    useClient(fake.client);
    const store = useFinetuneStore();
    await store.start();
    await store.startFinetune();
    fake.emit('task', task('ft-1', { status: 'failed', error: 'out of memory' }));
    await settle();
    expect(store.startError?.message).toContain('out of memory');
  });

  it('colours each class as the Label screen does (its own colour, else the palette by its id)', async () => {
    const fake = standardClient({ libraryClasses: () => [cat, { ...dog, color: '#123456' }, bird] });
    useClient(fake.client);
    const store = useFinetuneStore();
    await store.start();
    for (const info of [cat, bird]) expect(store.classColor(info.id)).toBe(labelClassColor(info));
    expect(store.classColor(dog.id)).toBe('#123456');
  });

  it('review: queue pages past labelled items, accept/correct/undo', async () => {
    const fake = standardClient();
    useClient(fake.client);
    const store = useFinetuneStore();
    await store.start();
    const review = useReviewStore();
    await review.resetQueue();
    expect(fake.named('predictionsPage')[0]!.args).toMatchObject({
      unlabelledOnly: true,
      order: 'review',
      offset: 0 });
    expect(review.current?.imageId).toBe(101);
    await review.accept();
    expect(fake.named('labelSet')[0]!.args).toEqual({ imageIds: [101], classId: 11 });
    expect(review.current?.imageId).toBe(102);
    await review.correct(2);
    expect(fake.named('labelSet')[1]!.args).toEqual({ imageIds: [102], classId: 11 });
    expect(review.reviewed).toBe(2);
    fake.handlers.labelUndo = () => ({ changed: 1, undo: 1, redo: 1, imageIds: [102] });
    await review.undo();
    expect(review.current?.imageId).toBe(102);
    expect(review.reviewed).toBe(1);
    await review.correct(9);
    expect(fake.named('labelSet')).toHaveLength(2);
  });

  it('review: the next page starts after what is still unlabelled, without repeats or gaps', async () => {
    const labelled = new Set<number>();
    const all = [101, 102, 103, 104, 105, 106].map((id) => prediction(id, 11, id / 200));
    const fake = standardClient({
      predictionsPage: (args: { offset?: number }) => {
        const unlabelled = all.filter((item) => !labelled.has(item.imageId));
        return {
          items: unlabelled.slice(args.offset ?? 0, (args.offset ?? 0) + 3),
          total: unlabelled.length };
      },
      labelSet: (args: { imageIds: number[] }) => {
        for (const id of args.imageIds) labelled.add(id);
        return { changed: 1, undo: 1, redo: 0 };
      } });
    useClient(fake.client);
    const store = useFinetuneStore();
    await store.start();
    const review = useReviewStore();
    await review.resetQueue();
    expect(review.queue.map((item) => item.imageId)).toEqual([101, 102, 103]);
    await review.accept();
    await settle();
    expect(fake.named('predictionsPage').at(-1)!.args).toMatchObject({ offset: 2 });
    expect(review.queue.map((item) => item.imageId)).toEqual([101, 102, 103, 104, 105, 106]);
    expect(review.queueTotal).toBe(6);
    expect(review.reviewLeft).toBe(5);
  });
});

describe('Fine-tune view', () => {
  let created: Blob[] = [];
  let clicked: { href: string; download: string }[] = [];

  beforeEach(() => {
    created = [];
    clicked = [];
    vi.spyOn(URL, 'createObjectURL').mockImplementation((blob) => {
      created.push(blob as Blob);
      return 'blob:fake';
    });
    vi.spyOn(URL, 'revokeObjectURL').mockImplementation(() => undefined);
    vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(function (this: HTMLAnchorElement) {
      clicked.push({ href: this.getAttribute('href') ?? '', download: this.download });
    });
  });

  it('with fewer than 2 labelled classes, says so, links to Label and cannot start', async () => {
    useClient(
      standardClient({
        libraryClasses: () => [cat, bird],
        classifiersList: () => [],
        finetuneRounds: () => [] }).client,
    );
    const wrapper = mountView();
    await settle();
    expect(wrapper.get('[data-testid="ft-need-labels"]').text()).toContain('at least 2');
    expect(wrapper.get('[data-testid="ft-go-label"]').attributes('href')).toBe('/label');
    expect(wrapper.get('[data-testid="finetune-start"]').attributes('disabled')).toBeDefined();
    expect(wrapper.find('[data-testid="finetune-no-results"]').exists()).toBe(true);
    wrapper.unmount();
  });

  it('one click starts fine-tuning with the options, shows progress with Cancel', async () => {
    const fake = standardClient({ classifiersList: () => [], finetuneRounds: () => [] });
    useClient(fake.client);
    const wrapper = mountView();
    await settle();
    const picker = wrapper.get('[data-testid="ft-backbone-source"]').element as HTMLSelectElement;
    expect(picker.value).toBe('c:2:6');
    expect(picker.selectedOptions[0]!.textContent).toContain('Run 2 at step 6 (chosen)');
    expect(wrapper.get('[data-testid="ft-label-count"]').attributes('data-classes')).toBe('2');
    await wrapper.get('[data-testid="ft-compare-random"]').setValue(true);
    await wrapper.get('[data-testid="ft-mode-linear-probe"]').setValue(true);
    await wrapper.get('[data-testid="finetune-start"]').trigger('click');
    await settle();
    expect(fake.named('finetuneStart')[0]!.args).toEqual({ mode: 'linear-probe', compareRandom: true });
    fake.emit('task', task('ft-1', { done: 40, etaSeconds: 75 }));
    await flush();
    expect(wrapper.get('[data-testid="task-finetune"]').attributes('data-status')).toBe('running');
    expect(wrapper.get('[data-testid="task-counts"]').text()).toContain('40 / 130 epochs');
    expect(wrapper.get('[data-testid="task-eta"]').text()).toContain('1 min 15 s');
    expect(wrapper.find('[data-testid="task-cancel"]').exists()).toBe(true);
    expect(wrapper.get('[data-testid="finetune-start"]').attributes('disabled')).toBeDefined();
    wrapper.unmount();
  });

  it('cards side by side: random init marked, gain in points, choosing another', async () => {
    const fake = standardClient();
    useClient(fake.client);
    const wrapper = mountView();
    await settle();
    const cards = wrapper.findAll('[data-testid="classifier-card"]');
    expect(cards.map((card) => [card.attributes('data-mode'), card.attributes('data-random')])).toEqual([
      ['linear-probe', 'false'],
      ['fine-tune', 'false'],
      ['linear-probe', 'true'],
      ['fine-tune', 'true'],
    ]);
    expect(cards[0]!.get('[data-testid="classifier-accuracy"]').text()).toBe('80.0%');
    expect(cards[0]!.get('[data-testid="classifier-labels"]').text()).toContain('10 train / 4 validation');
    expect(cards[0]!.get('[data-testid="classifier-best-epoch"]').text()).toBe('7');
    expect(cards[0]!.get('[data-testid="classifier-gain"]').text()).toContain('+25.0 pts');
    expect(cards[1]!.get('[data-testid="classifier-gain"]').text()).toContain('+30.0 pts');
    expect(cards[2]!.find('[data-testid="classifier-random"]').exists()).toBe(true);
    expect(cards[0]!.find('[data-testid="classifier-chosen"]').exists()).toBe(true);
    expect(cards[0]!.get('[data-testid="classifier-chart"]').attributes('data-points')).toBe('2');
    await cards[1]!.get('[data-testid="classifier-choose"]').trigger('click');
    await settle();
    expect(fake.named('classifierChoose')[0]!.args).toEqual({ classifierId: 2 });
    const after = wrapper.findAll('[data-testid="classifier-card"]');
    expect(after[1]!.attributes('data-chosen')).toBe('true');
    expect(after[0]!.attributes('data-chosen')).toBe('false');
    expect(wrapper.get('[data-testid="classifier-details"]').attributes('data-classifier-id')).toBe('2');
    wrapper.unmount();
  });

  it('a failed choice is shown on its card', async () => {
    useClient(standardClient({ classifierChoose: () => err('NOT_FOUND', 'No classifier 2.') }).client);
    const wrapper = mountView();
    await settle();
    await wrapper.findAll('[data-testid="classifier-choose"]')[1]!.trigger('click');
    await settle();
    const cards = wrapper.findAll('[data-testid="classifier-card"]');
    expect(cards[1]!.get('[data-testid="classifier-choose-error"]').text()).toBe('No classifier 2.');
    expect(cards[0]!.find('[data-testid="classifier-choose-error"]').exists()).toBe(false);
    wrapper.unmount();
  });

  it('per-class bars and a confusion matrix whose cell shows its validation images', async () => {
    const fake = standardClient();
    useClient(fake.client);
    const wrapper = mountView();
    await settle();
    const rows = wrapper.findAll('[data-testid="per-class-row"]');
    expect(rows.map((row) => row.attributes('data-value'))).toEqual(['0.75', '1']);
    const cells = wrapper.findAll('[data-testid="confusion-cell"]');
    expect(
      cells.map((cell) => [cell.attributes('data-true'), cell.attributes('data-predicted'), cell.text()]),
    ).toEqual([
      ['cat', 'cat', '3'],
      ['cat', 'dog', '1'],
      ['dog', 'cat', '0'],
      ['dog', 'dog', '2'],
    ]);
    await cells[1]!.trigger('click');
    await settle();
    expect(fake.named('confusionImages')[0]!.args).toEqual({
      classifierId: 1,
      trueClassId: 11,
      predictedClassId: 12 });
    expect(fake.named('libraryItems')[0]!.args).toEqual({ ids: [201, 202] });
    const images = wrapper.findAll('[data-testid="confusion-image"]');
    expect(images.map((image) => image.attributes('data-image-id'))).toEqual(['201', '202']);
    expect(wrapper.get('[data-testid="confusion-images"]').text()).toContain('cat predicted as dog');
    wrapper.unmount();
  });

  it('predictions: gallery with class and confidence, filtered by class and range', async () => {
    const fake = standardClient();
    useClient(fake.client);
    const wrapper = mountView();
    await settle();
    await wrapper.get('[data-testid="ft-tab-predictions"]').trigger('click');
    await settle();
    expect(fake.named('predictionsPage').at(-1)!.args).toMatchObject({
      classifierId: 1,
      order: 'confidence-desc',
      offset: 0 });
    const tiles = wrapper.findAll('[data-testid="prediction-tile"]');
    expect(tiles.map((tile) => tile.attributes('data-class'))).toEqual(['cat', 'dog']);
    expect(tiles[0]!.get('[data-testid="prediction-confidence"]').text()).toBe('99%');
    await wrapper.get('[data-testid="predictions-class"]').setValue('12');
    await settle();
    expect(fake.named('predictionsPage').at(-1)!.args).toMatchObject({ classId: 12 });
    const min = wrapper.get('[data-testid="predictions-min"]');
    (min.element as HTMLInputElement).value = '40';
    await min.trigger('change');
    const max = wrapper.get('[data-testid="predictions-max"]');
    (max.element as HTMLInputElement).value = '80';
    await max.trigger('change');
    await settle();
    expect(fake.named('predictionsPage').at(-1)!.args).toMatchObject({
      classId: 12,
      minConfidence: 0.4,
      maxConfidence: 0.8 });
    wrapper.unmount();
  });

  it('review: Enter accepts, a number corrects, arrows skip, Ctrl+Z undoes; not while typing', async () => {
    const fake = standardClient();
    useClient(fake.client);
    const wrapper = mountView();
    await settle();
    await wrapper.get('[data-testid="ft-tab-review"]').trigger('click');
    await settle();
    expect(fake.named('predictionsPage').at(-1)!.args).toMatchObject({
      unlabelledOnly: true,
      order: 'review',
      offset: 0 });
    const current = () => wrapper.get('[data-testid="review-current"]');
    expect(current().attributes('data-image-id')).toBe('101');
    expect(current().attributes('data-predicted')).toBe('cat');
    expect(
      wrapper.findAll('[data-testid="review-next"]').map((tile) => tile.attributes('data-image-id')),
    ).toEqual(['102', '103', '104']);

    press('Enter');
    await settle();
    expect(fake.named('labelSet')[0]!.args).toEqual({ imageIds: [101], classId: 11 });
    expect(current().attributes('data-image-id')).toBe('102');
    expect(wrapper.get('[data-testid="review-counter"]').attributes('data-reviewed')).toBe('1');

    // 2 = the second class of libraryClasses (dog); 3 = bird.
    press('3');
    await settle();
    expect(fake.named('labelSet')[1]!.args).toEqual({ imageIds: [102], classId: 13 });
    expect(current().attributes('data-image-id')).toBe('103');

    press('ArrowRight');
    await settle();
    expect(current().attributes('data-image-id')).toBe('104');
    expect(fake.named('labelSet')).toHaveLength(2);
    expect(wrapper.get('[data-testid="review-counter"]').attributes('data-skipped')).toBe('1');

    // Keys typed into a field are not review keys.
    const field = document.createElement('input');
    document.body.appendChild(field);
    press('Enter', {}, field);
    press('2', {}, field);
    await settle();
    expect(fake.named('labelSet')).toHaveLength(2);

    fake.handlers.labelUndo = () => ({ changed: 1, undo: 1, redo: 1, imageIds: [102] });
    press('z', { ctrlKey: true });
    await settle();
    expect(fake.named('labelUndo')).toHaveLength(1);
    expect(current().attributes('data-image-id')).toBe('102');
    expect(wrapper.get('[data-testid="review-counter"]').attributes('data-reviewed')).toBe('1');

    expect(wrapper.get('[data-testid="rounds-chart"]').attributes('data-rounds')).toBe('1');
    expect(wrapper.findAll('[data-testid="round-row"]')[0]!.attributes('data-labels')).toBe('14');
    await wrapper.get('[data-testid="retrain"]').trigger('click');
    await settle();
    expect(fake.named('finetuneStart')[0]!.args).toEqual({ mode: 'both', compareRandom: false });
    wrapper.unmount();
  });

  it('a failed label is shown and the item stays', async () => {
    const fake = standardClient({ labelSet: () => err('NOT_FOUND', 'No class 13.') });
    useClient(fake.client);
    const wrapper = mountView();
    await settle();
    await wrapper.get('[data-testid="ft-tab-review"]').trigger('click');
    await settle();
    press('Enter');
    await settle();
    expect(wrapper.get('[data-testid="review-error"]').text()).toBe('No class 13.');
    expect(wrapper.get('[data-testid="review-current"]').attributes('data-image-id')).toBe('101');
    wrapper.unmount();
  });

  it('exports: CSV downloads the returned content; folder copy, classifier and backbone show results or errors', async () => {
    const fake = standardClient({
      backboneExport: () => err('INVALID_ARGUMENT', 'destination: choose a destination folder') });
    useClient(fake.client);
    const wrapper = mountView();
    await settle();
    await wrapper.get('[data-testid="ft-tab-export"]').trigger('click');
    await settle();

    await wrapper.get('[data-testid="export-csv"]').trigger('click');
    await settle();
    expect(fake.named('labelsExport')[0]!.args).toEqual({ format: 'csv', include: 'both' });
    expect(created).toHaveLength(1);
    expect(await created[0]!.text()).toBe('path,label,source,confidence\ncats/1.png,cat,hand,\n');
    expect(created[0]!.type).toContain('text/csv');
    expect(clicked).toEqual([{ href: 'blob:fake', download: 'labels.csv' }]);
    expect(wrapper.get('[data-testid="export-done"]').text()).toContain('labels.csv');

    await wrapper.get('[data-testid="export-folders-destination"]').setValue('/out/classes');
    await wrapper.get('[data-testid="export-folders-both"]').setValue(true);
    await wrapper.get('[data-testid="export-folders-start"]').trigger('click');
    await settle();
    expect(fake.named('classFoldersExport')[0]!.args).toEqual({
      destination: '/out/classes',
      include: 'both',
      minConfidence: 0.8 });
    fake.emit(
      'task',
      task('copy-1', {
        kind: 'export',
        status: 'finished',
        done: 14,
        total: 14,
        unit: 'files',
        counts: { copied: 12, unchanged: 2, failed: 0 },
        message: 'cat 8, dog 6' }),
    );
    await flush();
    expect(wrapper.get('[data-testid="export-folders-summary"]').text()).toContain('12 copied');

    await wrapper.get('[data-testid="export-classifier-destination"]').setValue('/out');
    await wrapper.get('[data-testid="export-classifier-start"]').trigger('click');
    await settle();
    expect(fake.named('classifierExport')[0]!.args).toEqual({ classifierId: 1, destination: '/out' });
    expect(wrapper.get('[data-testid="export-classifier-path"]').text()).toContain('/out/classifier-1');

    await wrapper.get('[data-testid="export-backbone-destination"]').setValue('/out');
    await wrapper.get('[data-testid="export-backbone-start"]').trigger('click');
    await settle();
    expect(fake.named('backboneExport')[0]!.args).toEqual({
      source: { kind: 'checkpoint', runId: 2, step: 6 },
      destination: '/out',
      format: 'safetensors' });
    expect(wrapper.get('[data-testid="export-backbone-error"]').text()).toContain(
      'choose a destination folder',
    );
    expect(wrapper.find('[data-testid="export-classifier-error"]').exists()).toBe(false);
    wrapper.unmount();
  });

  it('an export error is shown next to its button', async () => {
    useClient(
      standardClient({ labelsExport: () => err('INTERNAL', 'labelsExport is not built yet.') }).client,
    );
    const wrapper = mountView();
    await settle();
    await wrapper.get('[data-testid="ft-tab-export"]').trigger('click');
    await wrapper.get('[data-testid="export-json"]').trigger('click');
    await settle();
    expect(wrapper.get('[data-testid="export-error"]').text()).toBe('labelsExport is not built yet.');
    expect(clicked).toHaveLength(0);
    wrapper.unmount();
  });
});

describe('Fine-tune view keys', () => {
  it('Enter right after clicking the Review tab accepts (the tab does not swallow it)', async () => {
    const fake = standardClient();
    useClient(fake.client);
    const wrapper = mountView();
    await settle();
    const tab = wrapper.get('[data-testid="ft-tab-review"]');
    await tab.trigger('click');
    await settle();
    press('Enter', {}, tab.element);
    await settle();
    expect(fake.named('labelSet')[0]!.args).toEqual({ imageIds: [101], classId: 11 });
    wrapper.unmount();
  });
});

// @vitest-environment happy-dom
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { beforeEach, describe, expect, it } from 'vitest';
import { createMemoryHistory, createRouter } from 'vue-router';
import type { CallName } from '../../main/common/api-contract';
import type { ClusteringInfo, EmbeddingSetInfo } from '../../main/common/embeddings';
import type { ClassInfo, FolderInfo, GalleryItem, GalleryQuery } from '../../main/common/library';
import { err } from '../../main/common/result';
import { useClient } from '../../renderer/src/api';
import { fakeClient, type Handler } from '../helpers/fake-client';
import ClusterDetail from '../../renderer/src/components/clusters/ClusterDetail.vue';
import LabelAsControl from '../../renderer/src/components/label/LabelAsControl.vue';
import ShortcutSheet from '../../renderer/src/components/shortcuts/ShortcutSheet.vue';
import { shortcutGroups } from '../../renderer/src/components/shortcuts/shortcuts';
import { useClustersStore } from '../../renderer/src/stores/clusters';
import {
  classColor,
  isTypingTarget,
  keyAction,
  labelPageSize,
  useLabelsStore,
} from '../../renderer/src/stores/labels';
import LabelView from '../../renderer/src/views/LabelView.vue';

/**
 * A small labelling core in memory: images 1..n (some with a folder label), classes in the
 * order libraryClasses gives them, hand labels set by labelSet with an undo/redo history as the
 * real service keeps it, and one clustering whose clusters are read page by page.
 */
function fakeCore(n = 12, options: { clusterSize?: number } = {}) {
  const classList: { id: number; name: string; color: string | null; key: number | null }[] = [
    // Keys stored with the classes, not in id order: a number key finds its class by key.
    { id: 3, name: 'bird', color: null, key: 1 },
    { id: 1, name: 'cat', color: '#ff0000', key: 2 },
    { id: 2, name: 'dog', color: null, key: 3 },
  ];
  const hand = new Map<number, number>();
  const folder = new Map<number, number>([[n, 2]]);
  const undoStack: { ids: number[]; before: (number | null)[]; after: number | null }[] = [];
  const redoStack: typeof undoStack = [];
  const clusterSize = options.clusterSize ?? 2500;

  const nameOf = (id: number | undefined) => classList.find((c) => c.id === id)?.name;
  const labelOf = (id: number) => nameOf(hand.get(id) ?? folder.get(id));
  const item = (id: number): GalleryItem => {
    const label = labelOf(id);
    return {
      id,
      folderId: 1,
      relPath: `pics/${id}.png`,
      version: `v${id}`,
      width: 64,
      height: 64,
      ...(label ? { label } : {}),
    };
  };
  const apply = (ids: number[], target: (i: number) => number | null) => {
    ids.forEach((id, i) => {
      const value = target(i);
      if (value === null) hand.delete(id);
      else hand.set(id, value);
    });
  };
  const history = () => ({ undo: undoStack.length, redo: redoStack.length });
  const set: EmbeddingSetInfo = {
    id: 7,
    source: { kind: 'checkpoint', runId: 1, step: 6 },
    label: 'Run 1 at step 6',
    runName: 'Run 1',
    dim: 8,
    size: 32,
    images: clusterSize,
    libraryImages: clusterSize,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
  };
  const clustering: ClusteringInfo = {
    id: 40,
    setId: 7,
    k: 2,
    metric: 'cosine',
    seed: 0,
    images: clusterSize + 3,
    inertia: 1,
    iterations: 3,
    scores: { labelled: 1, fromFolders: 0, classes: 1, minimum: 30, nmi: null, ari: null, purity: null },
    clusters: [
      {
        cluster: 0,
        size: clusterSize,
        labelled: 0,
        majority: null,
        purity: null,
        representatives: [{ imageId: 1, distance: 0, version: 'v1' }],
        outliers: 0,
      },
      { cluster: 1, size: 3, labelled: 5, majority: 'dog', purity: 1, representatives: [], outliers: 0 },
    ],
    outliers: [],
    createdAt: '2026-01-02T00:00:00.000Z',
  };

  const handlers: Partial<Record<CallName, Handler>> = {
    libraryClasses: (): ClassInfo[] =>
      classList.map((c) => {
        const handCount = [...hand.values()].filter((v) => v === c.id).length;
        const folderCount = [...folder.values()].filter((v) => v === c.id).length;
        return { ...c, images: handCount + folderCount, hand: handCount, folder: folderCount };
      }),
    libraryFolders: (): FolderInfo[] => [{ id: 1, name: 'pics', path: '/pics', images: n } as FolderInfo],
    libraryPage: (q: GalleryQuery) => {
      let ids = Array.from({ length: n }, (_, i) => i + 1);
      if (q.classId !== undefined) ids = ids.filter((id) => (hand.get(id) ?? folder.get(id)) === q.classId);
      else if (q.show === 'unlabelled') ids = ids.filter((id) => labelOf(id) === undefined);
      else if (q.show === 'labelled') ids = ids.filter((id) => labelOf(id) !== undefined);
      const offset = q.offset ?? 0;
      return { total: ids.length, offset, items: ids.slice(offset, offset + (q.limit ?? 200)).map(item) };
    },
    libraryItems: ({ ids }: { ids: number[] }) => ids.map(item),
    libraryImage: ({ id }: { id: number }) => ({
      id,
      relPath: `pics/${id}.png`,
      labels: [
        ...(folder.has(id) ? [{ className: nameOf(folder.get(id))!, source: 'folder' as const }] : []),
        ...(hand.has(id) ? [{ className: nameOf(hand.get(id))!, source: 'hand' as const }] : []),
      ],
    }),
    labelPreview: ({ imageIds, classId }: { imageIds: number[]; classId: number }) => {
      const others = new Map<number, number>();
      for (const id of imageIds) {
        const now = hand.get(id);
        if (now !== undefined && now !== classId) others.set(now, (others.get(now) ?? 0) + 1);
      }
      const unlabelled = imageIds.filter((id) => !hand.has(id)).length;
      const same = imageIds.filter((id) => hand.get(id) === classId).length;
      return {
        images: imageIds.length,
        unlabelled,
        same,
        other: imageIds.length - unlabelled - same,
        otherByClass: [...others].map(([id, count]) => ({ classId: id, name: nameOf(id)!, count })),
      };
    },
    labelSet: ({ imageIds, classId, keepHand }: { imageIds: number[]; classId: number | null; keepHand?: boolean }) => {
      const changedIds = imageIds.filter((id) => (hand.get(id) ?? null) !== classId && !(keepHand && hand.has(id)));
      if (changedIds.length > 0) {
        undoStack.push({
          ids: changedIds,
          before: changedIds.map((id) => hand.get(id) ?? null),
          after: classId,
        });
        redoStack.length = 0;
        apply(changedIds, () => classId);
      }
      return { changed: changedIds.length, ...history() };
    },
    labelUndo: () => {
      const step = undoStack.pop();
      if (!step) return { changed: 0, imageIds: [], ...history() };
      apply(step.ids, (i) => step.before[i]!);
      redoStack.push(step);
      return { changed: step.ids.length, imageIds: step.ids, ...history() };
    },
    labelRedo: () => {
      const step = redoStack.pop();
      if (!step) return { changed: 0, imageIds: [], ...history() };
      apply(step.ids, () => step.after);
      undoStack.push(step);
      return { changed: step.ids.length, imageIds: step.ids, ...history() };
    },
    classCreate: ({ name, color }: { name: string; color?: string | null }) => {
      if (classList.some((c) => c.name.toLowerCase() === name.toLowerCase()))
        return err('CONFLICT', `A class named ${name} already exists.`);
      // As the core does: the smallest free key; the list in key order, then creation order.
      const taken = new Set(classList.map((c) => c.key));
      const key = [1, 2, 3, 4, 5, 6, 7, 8, 9].find((k) => !taken.has(k)) ?? null;
      const created = { id: Math.max(...classList.map((c) => c.id)) + 1, name, color: color ?? null, key };
      classList.push(created);
      classList.sort((a, b) => (a.key ?? 99) - (b.key ?? 99) || a.id - b.id);
      return { ...created, images: 0, hand: 0, folder: 0 };
    },
    classDeletePreview: () => ({ labels: 4, hand: 3, folder: 1 }),
    classDelete: ({ classId }: { classId: number }) => {
      classList.splice(
        classList.findIndex((c) => c.id === classId),
        1,
      );
      undoStack.length = 0;
      redoStack.length = 0;
      return { removedLabels: 4 };
    },
    embeddingSets: () => [set],
    clusteringLatest: () => clustering,
    clusterImages: ({ cluster, offset, limit }: { cluster: number; offset: number; limit: number }) => {
      const size = clustering.clusters.find((c) => c.cluster === cluster)!.size;
      const base = cluster === 0 ? 1000 : 5000;
      const items = [];
      for (let i = offset; i < Math.min(size, offset + limit); i += 1)
        items.push({ imageId: base + i, distance: i / 100, version: 'v', outlier: false, label: null });
      return { items, total: size, offset };
    },
  };

  const { client, calls, named } = fakeClient(handlers);
  return { client, calls, named, hand, handlers };
}

const key = (k: string, patch: Partial<KeyboardEvent> = {}) =>
  ({
    key: k,
    ctrlKey: false,
    metaKey: false,
    shiftKey: false,
    altKey: false,
    target: null,
    ...patch,
  }) as KeyboardEvent;

describe('label keys', () => {
  it('maps digits, remove, arrows, picker, undo and redo', () => {
    expect(keyAction(key('3'))).toEqual({ kind: 'class', number: 3 });
    expect(keyAction(key('0'))).toEqual({ kind: 'remove' });
    expect(keyAction(key('Backspace'))).toEqual({ kind: 'remove' });
    expect(keyAction(key('/'))).toEqual({ kind: 'picker' });
    expect(keyAction(key('ArrowRight'))).toEqual({ kind: 'move', delta: 1, extend: false });
    expect(keyAction(key('ArrowLeft', { shiftKey: true }))).toEqual({
      kind: 'move',
      delta: -1,
      extend: true,
    });
    expect(keyAction(key('ArrowDown'), 5)).toEqual({ kind: 'move', delta: 5, extend: false });
    expect(keyAction(key('ArrowUp'), 5)).toEqual({ kind: 'move', delta: -5, extend: false });
    expect(keyAction(key('z', { ctrlKey: true }))).toEqual({ kind: 'undo' });
    expect(keyAction(key('z', { metaKey: true }))).toEqual({ kind: 'undo' });
    expect(keyAction(key('Z', { ctrlKey: true, shiftKey: true }))).toEqual({ kind: 'redo' });
    expect(keyAction(key('y', { ctrlKey: true }))).toEqual({ kind: 'redo' });
    // Ctrl+1 is the browser's, not ours.
    expect(keyAction(key('1', { ctrlKey: true }))).toBeUndefined();
    expect(keyAction(key('a'))).toBeUndefined();
  });

  it('never fires while typing in an input', () => {
    const input = document.createElement('input');
    const checkbox = document.createElement('input');
    checkbox.type = 'checkbox';
    expect(isTypingTarget(input)).toBe(true);
    expect(isTypingTarget(document.createElement('textarea'))).toBe(true);
    expect(isTypingTarget(checkbox)).toBe(false);
    expect(isTypingTarget(document.createElement('button'))).toBe(false);
    expect(keyAction(key('1', { target: input }))).toBeUndefined();
    expect(keyAction(key('z', { ctrlKey: true, target: input }))).toBeUndefined();
    expect(keyAction(key('Backspace', { target: input }))).toBeUndefined();
  });

  it('colours a class by its own colour or its id', () => {
    expect(classColor({ id: 1, color: '#ff0000' })).toBe('#ff0000');
    expect(classColor({ id: 1, color: null })).toMatch(/^#[0-9a-f]{6}$/);
    expect(classColor({ id: 1, color: null })).not.toBe(classColor({ id: 2, color: null }));
  });
});

describe('labels store', () => {
  beforeEach(() => setActivePinia(createPinia()));

  it('starts on the unlabelled images with the classes in the core order', async () => {
    const core = fakeCore();
    useClient(core.client);
    const store = useLabelsStore();
    await store.start();
    expect(store.classes.map((c) => c.name)).toEqual(['bird', 'cat', 'dog']);
    expect(store.total).toBe(11);
    expect(store.currentItem?.id).toBe(1);
    expect(store.clustering?.id).toBe(40);
    expect(core.named('libraryPage')[0]!.args).toMatchObject({
      show: 'unlabelled',
      offset: 0,
      limit: labelPageSize,
    });
  });

  it('a number key labels the current image with that class of the list, saves, and moves on', async () => {
    const core = fakeCore();
    useClient(core.client);
    const store = useLabelsStore();
    await store.start();
    await store.labelWithKey(2);
    expect(core.named('labelSet').map((c) => c.args)).toEqual([{ imageIds: [1], classId: 1 }]);
    expect(core.hand.get(1)).toBe(1);
    expect(store.current).toBe(1);
    expect(store.currentItem?.id).toBe(2);
    expect(store.saveState).toBe('saved');
    expect(store.history).toEqual({ undo: 1, redo: 0 });
    expect(store.notice?.text).toBe('Labelled 1 image as cat');
    // The tile shows its new label; the counts were read again.
    expect(store.itemAt(0)?.label).toBe('cat');
    expect(store.classes.find((c) => c.name === 'cat')?.hand).toBe(1);
    expect(store.labelledSinceLoad).toBe(1);
    // Key 9 with three classes does nothing.
    await store.labelWithKey(9);
    expect(core.named('labelSet')).toHaveLength(1);
  });

  it('0 removes the hand label and stays on the image', async () => {
    const core = fakeCore();
    useClient(core.client);
    const store = useLabelsStore();
    await store.start();
    await store.setFilter({ show: 'images' });
    await store.moveTo(3);
    await store.labelTargets(null);
    expect(core.named('labelSet').at(-1)!.args).toEqual({ imageIds: [4], classId: null });
    expect(store.current).toBe(3);
  });

  it('Ctrl-click and Shift-click build a selection that one key labels at once', async () => {
    const core = fakeCore();
    useClient(core.client);
    const store = useLabelsStore();
    await store.start();
    await store.click(1);
    await store.click(3, { toggle: true });
    expect([...store.selected].sort((a, b) => a - b)).toEqual([1, 3]);
    await store.click(5, { toggle: true });
    await store.click(3, { toggle: true });
    expect([...store.selected].sort((a, b) => a - b)).toEqual([1, 5]);
    await store.labelWithKey(3);
    expect(core.named('labelSet').map((c) => c.args)).toEqual([{ imageIds: [2, 6], classId: 2 }]);
    expect(store.selected.size).toBe(0);
    expect(store.current).toBe(6);
    expect(store.notice?.text).toBe('Labelled 2 images as dog');

    await store.click(7);
    await store.click(9, { range: true });
    expect([...store.selected].sort((a, b) => a - b)).toEqual([7, 8, 9]);
    await store.step(1, true);
    expect([...store.selected].sort((a, b) => a - b)).toEqual([7, 8, 9, 10]);
    await store.labelTargets(3);
    expect(core.named('labelSet').at(-1)!.args).toEqual({ imageIds: [8, 9, 10, 11], classId: 3 });
    // A plain arrow drops the selection.
    await store.click(2, { toggle: true });
    await store.step(-1);
    expect(store.selected.size).toBe(0);
  });

  it('undo and redo go through the core, say what they did and move back to the image', async () => {
    const core = fakeCore();
    useClient(core.client);
    const store = useLabelsStore();
    await store.start();
    await store.labelWithKey(1);
    await store.labelWithKey(2);
    expect(store.current).toBe(2);
    expect(store.history).toEqual({ undo: 2, redo: 0 });

    await store.undo();
    expect(core.named('labelUndo')).toHaveLength(1);
    expect(core.hand.has(2)).toBe(false);
    expect(store.history).toEqual({ undo: 1, redo: 1 });
    expect(store.notice).toMatchObject({ kind: 'undo', text: 'Undid: labelled 1 image as cat' });
    expect(store.current).toBe(1);
    expect(store.itemAt(1)?.label).toBeUndefined();
    expect(store.canRedo).toBe(true);

    await store.redo();
    expect(core.named('labelRedo')).toHaveLength(1);
    expect(core.hand.get(2)).toBe(1);
    expect(store.history).toEqual({ undo: 2, redo: 0 });
    expect(store.notice).toMatchObject({ kind: 'redo', text: 'Redid: labelled 1 image as cat' });
    expect(store.itemAt(1)?.label).toBe('cat');
    expect(store.canRedo).toBe(false);

    await store.undo();
    await store.undo();
    await store.undo();
    expect(store.notice?.text).toBe('Nothing to undo');
    expect(store.canUndo).toBe(false);
  });

  it('a failed labelSet says so and is not saved', async () => {
    const core = fakeCore();
    core.handlers.labelSet = () =>
      err('NOT_FOUND', 'No image with id 1 in the library: no label was changed.');
    useClient(core.client);
    const store = useLabelsStore();
    await store.start();
    await store.labelWithKey(1);
    expect(store.saveState).toBe('error');
    expect(store.notice).toMatchObject({ kind: 'error' });
    expect(store.current).toBe(0);
  });

  it('reads every image of a cluster page by page', async () => {
    const core = fakeCore(12, { clusterSize: 2500 });
    useClient(core.client);
    const store = useLabelsStore();
    await store.start();
    const read = await store.clusterImageIds(store.clustering!.id, 0);
    expect(core.named('clusterImages').map((c) => c.args.offset)).toEqual([0, 1000, 2000]);
    expect(read.ids).toHaveLength(2500);
    expect(new Set(read.ids).size).toBe(2500);
  });

  it('creates and deletes classes; delete and merge clear the history', async () => {
    const core = fakeCore();
    useClient(core.client);
    const store = useLabelsStore();
    await store.start();
    const created = await store.createClass('ant');
    expect(created.created?.name).toBe('ant');
    // The new class takes the next key; the others keep theirs (no renumbering by name).
    expect(store.classes.map((c) => [c.name, c.key])).toEqual([
      ['bird', 1],
      ['cat', 2],
      ['dog', 3],
      ['ant', 4],
    ]);
    expect((await store.createClass('Ant')).error?.code).toBe('CONFLICT');
    await store.labelWithKey(1);
    expect(store.history?.undo).toBe(1);
    await store.deleteClass(created.created!.id);
    expect(store.history).toEqual({ undo: 0, redo: 0 });
    expect(store.notice?.text).toBe('Deleted class ant and its 4 labels');
  });
});

describe('Label view', () => {
  const stubs = { RouterLink: { props: ['to'], template: '<a :href="String(to)"><slot /></a>' } };

  /** The label view over a fresh fake core (fakeCore's arguments), mounted on the page and settled. */
  async function mountLabelView(...args: Parameters<typeof fakeCore>) {
    const core = fakeCore(...args);
    useClient(core.client);
    const wrapper = mount(LabelView, {
      global: { plugins: [createPinia()], stubs },
      attachTo: document.body,
    });
    await settle();
    return { core, wrapper };
  }
  const settle = async () => {
    for (let i = 0; i < 8; i += 1) await flushPromises();
  };
  beforeEach(() => setActivePinia(createPinia()));

  it('labels with the keyboard, not while typing, and undoes with Ctrl+Z', async () => {
    const { core, wrapper } = await mountLabelView();
    const rows = wrapper.findAll('[data-testid="class-row"]');
    expect(rows.map((row) => row.attributes('data-class-name'))).toEqual(['bird', 'cat', 'dog']);
    expect(rows.map((row) => row.attributes('data-key'))).toEqual(['1', '2', '3']);
    expect(wrapper.get('[data-testid="label-current"]').attributes('data-image-id')).toBe('1');

    window.dispatchEvent(new KeyboardEvent('keydown', { key: '2', bubbles: true }));
    await settle();
    expect(core.named('labelSet').map((c) => c.args)).toEqual([{ imageIds: [1], classId: 1 }]);
    expect(wrapper.get('[data-testid="label-current"]').attributes('data-image-id')).toBe('2');
    expect(wrapper.get('[data-testid="label-saved"]').attributes('data-state')).toBe('saved');
    expect(wrapper.get('[data-testid="label-notice"]').text()).toBe('Labelled 1 image as cat');
    expect(wrapper.get('[data-testid="label-undo-count"]').text()).toBe('1');

    // Typing a class name does not label.
    const input = wrapper.get('[data-testid="class-create-name"]');
    input.element.dispatchEvent(new KeyboardEvent('keydown', { key: '3', bubbles: true }));
    await settle();
    expect(core.named('labelSet')).toHaveLength(1);

    window.dispatchEvent(new KeyboardEvent('keydown', { key: 'z', ctrlKey: true, bubbles: true }));
    await settle();
    expect(core.named('labelUndo')).toHaveLength(1);
    expect(wrapper.get('[data-testid="label-notice"]').text()).toBe('Undid: labelled 1 image as cat');
    expect(wrapper.get('[data-testid="label-current"]').attributes('data-image-id')).toBe('1');
    expect(wrapper.get('[data-testid="label-current"]').attributes('data-label')).toBe('');

    window.dispatchEvent(new KeyboardEvent('keydown', { key: 'y', ctrlKey: true, bubbles: true }));
    await settle();
    expect(core.named('labelRedo')).toHaveLength(1);
    expect(wrapper.get('[data-testid="label-current"]').attributes('data-label')).toBe('cat');
    expect(wrapper.get('[data-testid="label-current"]').attributes('data-source')).toBe('hand');
    wrapper.unmount();
  });

  it('quick keys label one image after the other; a held key does not', async () => {
    const { core, wrapper } = await mountLabelView();
    window.dispatchEvent(new KeyboardEvent('keydown', { key: '1', bubbles: true }));
    window.dispatchEvent(new KeyboardEvent('keydown', { key: '3', bubbles: true }));
    window.dispatchEvent(new KeyboardEvent('keydown', { key: '3', repeat: true, bubbles: true }));
    await settle();
    await settle();
    expect(core.named('labelSet').map((c) => c.args)).toEqual([
      { imageIds: [1], classId: 3 },
      { imageIds: [2], classId: 2 },
    ]);
    expect(wrapper.get('[data-testid="label-current"]').attributes('data-image-id')).toBe('3');
    // Shift+arrow selects, and a key then labels the selection.
    window.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowRight', shiftKey: true, bubbles: true }));
    await settle();
    window.dispatchEvent(new KeyboardEvent('keydown', { key: '0', bubbles: true }));
    await settle();
    expect(core.named('labelSet').at(-1)!.args).toEqual({ imageIds: [3, 4], classId: null });
    wrapper.unmount();
  });

  it('creates a class and asks before deleting one, saying how many labels go', async () => {
    const { core, wrapper } = await mountLabelView();
    // A name too long is not cut short: the field says so, with its length, and Add waits.
    await wrapper.get('[data-testid="class-create-name"]').setValue('x'.repeat(150));
    expect(wrapper.get('[data-testid="class-create-error"]').text()).toBe('A class name has at most 100 characters; this one has 150.');
    expect(wrapper.get('[data-testid="class-create"]').attributes('disabled')).toBeDefined();
    await wrapper.get('[data-testid="class-create-form"]').trigger('submit');
    await settle();
    expect(core.named('classCreate')).toHaveLength(0);
    await wrapper.get('[data-testid="class-create-name"]').setValue('ant');
    await wrapper.get('[data-testid="class-create-form"]').trigger('submit');
    await settle();
    expect(core.named('classCreate').map((c) => c.args)).toEqual([{ name: 'ant' }]);
    expect(
      wrapper.findAll('[data-testid="class-row"]').map((row) => row.attributes('data-class-name')),
    ).toEqual(['bird', 'cat', 'dog', 'ant']);
    // Adding a class took the next key; the others kept theirs.
    expect(wrapper.findAll('[data-testid="class-row"]').map((row) => row.attributes('data-key'))).toEqual(['1', '2', '3', '4']);

    const dog = wrapper.get('[data-testid="class-row"][data-class-name="dog"]');
    expect(dog.find('[data-testid="class-folder-badge"]').exists()).toBe(true);
    await dog.get('[data-testid="class-edit"]').trigger('click');
    // Its key can be changed (to one another class has: the core swaps them).
    core.handlers.classUpdate = ({ classId, key: k }: { classId: number; key: number }) => ({ id: classId, name: 'dog', color: null, key: k, images: 1, hand: 0, folder: 1 });
    await wrapper.get('[data-testid="class-key-select"]').setValue('1');
    await settle();
    expect(core.named('classUpdate').map((c) => c.args)).toEqual([{ classId: 2, key: 1 }]);
    expect(wrapper.get('[data-testid="label-notice"]').text()).toBe('Key 1 labels dog now');
    await wrapper.get('[data-testid="class-delete"]').trigger('click');
    await settle();
    expect(core.named('classDelete')).toHaveLength(0);
    expect(wrapper.get('[data-testid="class-delete-count"]').text()).toBe('4');
    await wrapper.get('[data-testid="class-delete-yes"]').trigger('click');
    await settle();
    expect(core.named('classDelete').map((c) => c.args)).toEqual([{ classId: 2, confirm: true }]);
    wrapper.unmount();
  });

  it('the By cluster tab chooses no class for a cluster and asks before labelling it', async () => {
    const { core, wrapper } = await mountLabelView(12, { clusterSize: 30 });
    await wrapper.get('[data-testid="label-tab-clusters"]').trigger('click');
    await settle();
    const buttons = wrapper.findAll('[data-testid="label-cluster-apply"]');
    expect(wrapper.findAll('[data-testid="label-cluster-row"]').map((b) => b.attributes('data-cluster'))).toEqual(['0', '1']);
    // Cluster 1 is mostly dog: no class is chosen for it all the same.
    expect(buttons[1]!.text()).toBe('Label all 3 as …');
    for (const button of buttons) expect(button.attributes('disabled')).toBeDefined();
    await wrapper.findAll('[data-testid="label-cluster-class"]')[0]!.setValue('3');
    await wrapper.findAll('[data-testid="label-cluster-apply"]')[0]!.trigger('click');
    await settle();
    expect(core.named('labelSet')).toHaveLength(0);
    expect(wrapper.get('[data-testid="label-confirm"]').text()).toContain('30 images without a hand label get bird');
    await wrapper.get('[data-testid="confirm-ok"]').trigger('click');
    await settle();
    expect(core.named('labelSet').map((c) => [(c.args.imageIds as number[]).length, c.args.classId])).toEqual(
      [[30, 3]],
    );
    expect(wrapper.find('[data-testid="label-confirm"]').exists()).toBe(false);
    wrapper.unmount();
  });
});

describe('Label these N as', () => {
  beforeEach(() => setActivePinia(createPinia()));

  it('asks first, keeps hand labels unless told otherwise, and reports changes', async () => {
    const core = fakeCore();
    core.hand.set(5, 2); // dog by hand
    core.hand.set(6, 1); // cat by hand
    useClient(core.client);
    const pinia = createPinia();
    const wrapper = mount(LabelAsControl, {
      props: { count: 4, resolve: () => [4, 5, 6, 7], what: 'the selection', testid: 'label-selection' },
      global: { plugins: [pinia], stubs: { RouterLink: true } },
    });
    await flushPromises();
    const button = wrapper.get('[data-testid="label-selection-apply"]');
    expect(button.attributes('disabled')).toBeDefined();
    await wrapper.get('[data-testid="label-selection-class"]').setValue('1');
    expect(button.text()).toBe('Label these 4 as cat…');
    await button.trigger('click');
    await flushPromises();
    await flushPromises();
    // The question: 2 unlabelled get cat, 1 already cat, 1 dog by hand (kept by default).
    expect(core.named('labelSet')).toHaveLength(0);
    const counts = wrapper.get('[data-testid="label-confirm-counts"]');
    expect(counts.attributes()).toMatchObject({ 'data-images': '4', 'data-unlabelled': '2', 'data-same': '1', 'data-other': '1' });
    expect(wrapper.get('[data-testid="label-confirm-other"]').text()).toContain('(dog 1)');
    expect((wrapper.get('[data-testid="label-confirm-keep"]').element as HTMLInputElement).checked).toBe(true);
    expect(wrapper.get('[data-testid="confirm-ok"]').text()).toBe('Label 2 images');
    // Cancel writes nothing.
    await wrapper.get('[data-testid="confirm-cancel"]').trigger('click');
    expect(wrapper.find('[data-testid="label-confirm"]').exists()).toBe(false);
    expect(core.named('labelSet')).toHaveLength(0);

    // Asked again and confirmed with the box ticked: only the 2 without a hand label change.
    await button.trigger('click');
    await flushPromises();
    await flushPromises();
    await wrapper.get('[data-testid="confirm-ok"]').trigger('click');
    await flushPromises();
    await flushPromises();
    expect(core.named('labelSet').map((c) => c.args)).toEqual([{ imageIds: [4, 5, 6, 7], classId: 1, keepHand: true }]);
    expect(core.hand.get(5)).toBe(2);
    expect(wrapper.get('[data-testid="label-notice"]').text()).toBe(
      'Labelled the selection (4 images) as cat (2 changed, hand labels kept)',
    );
    expect(wrapper.emitted('changed')).toHaveLength(1);
    await wrapper.get('[data-testid="label-undo"]').trigger('click');
    await flushPromises();
    await flushPromises();
    expect(core.named('labelUndo')).toHaveLength(1);
    expect(wrapper.emitted('changed')).toHaveLength(2);

    // Unticked: the dog label changes too.
    await button.trigger('click');
    await flushPromises();
    await flushPromises();
    await wrapper.get('[data-testid="label-confirm-keep"]').setValue(false);
    expect(wrapper.get('[data-testid="confirm-ok"]').text()).toBe('Label 3 images');
    await wrapper.get('[data-testid="confirm-ok"]').trigger('click');
    await flushPromises();
    await flushPromises();
    expect(core.named('labelSet').at(-1)!.args).toEqual({ imageIds: [4, 5, 6, 7], classId: 1 });
    expect(core.hand.get(5)).toBe(1);
    wrapper.unmount();
  });
});

describe('Clusters screen: label these N as', () => {
  beforeEach(() => setActivePinia(createPinia()));

  it('the open cluster is labelled with one labelSet of all its images', async () => {
    const core = fakeCore(12, { clusterSize: 1500 });
    useClient(core.client);
    const pinia = createPinia();
    setActivePinia(pinia);
    const clusters = useClustersStore();
    clusters.clustering = (core.handlers.clusteringLatest as () => ClusteringInfo)();
    clusters.openClusterDetail(0);
    const wrapper = mount(ClusterDetail, { global: { plugins: [pinia], stubs: { RouterLink: true } } });
    for (let i = 0; i < 6; i += 1) await flushPromises();
    const control = wrapper.get('[data-testid="label-cluster-detail"]');
    expect(control.attributes('data-count')).toBe('1500');
    await wrapper.get('[data-testid="label-cluster-detail-class"]').setValue('2');
    const button = wrapper.get('[data-testid="label-cluster-detail-apply"]');
    expect(button.text()).toBe('Label these 1,500 as dog…');
    await button.trigger('click');
    for (let i = 0; i < 6; i += 1) await flushPromises();
    await wrapper.get('[data-testid="confirm-ok"]').trigger('click');
    for (let i = 0; i < 6; i += 1) await flushPromises();
    const sets = core.named('labelSet');
    expect(sets).toHaveLength(1);
    expect((sets[0]!.args.imageIds as number[]).length).toBe(1500);
    expect(sets[0]!.args.classId).toBe(2);
    expect(wrapper.get('[data-testid="label-notice"]').text()).toBe(
      'Labelled cluster 0 (1,500 images) as dog',
    );
    wrapper.unmount();
  });
});

describe('shortcut sheet', () => {
  beforeEach(() => setActivePinia(createPinia()));

  it('? opens the shortcuts of the screen first with every class key; ? or Esc closes; typing does not open it', async () => {
    const core = fakeCore();
    useClient(core.client);
    const router = createRouter({ history: createMemoryHistory(), routes: [{ path: '/label', name: 'label', component: { template: '<div />' } }] });
    await router.push('/label');
    const wrapper = mount(ShortcutSheet, { global: { plugins: [createPinia(), router] }, attachTo: document.body });
    await flushPromises();
    expect(wrapper.find('[data-testid="shortcut-sheet"]').exists()).toBe(false);
    const input = document.createElement('input');
    document.body.append(input);
    input.dispatchEvent(new KeyboardEvent('keydown', { key: '?', bubbles: true }));
    await flushPromises();
    expect(wrapper.find('[data-testid="shortcut-sheet"]').exists()).toBe(false);

    window.dispatchEvent(new KeyboardEvent('keydown', { key: '?', bubbles: true }));
    await flushPromises();
    await flushPromises();
    const sheet = wrapper.get('[data-testid="shortcut-sheet"]');
    expect(sheet.attributes('data-screen')).toBe('label');
    expect(wrapper.findAll('[data-testid="shortcut-group"]').map((g) => g.attributes('data-route'))[0]).toBe('label');
    expect(wrapper.findAll('[data-testid="shortcut-class"]').map((c) => [c.attributes('data-key'), c.text()])).toEqual([
      ['1', 'bird'],
      ['2', 'cat'],
      ['3', 'dog'],
    ]);
    window.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true }));
    await flushPromises();
    expect(wrapper.find('[data-testid="shortcut-sheet"]').exists()).toBe(false);
    window.dispatchEvent(new KeyboardEvent('keydown', { key: '?', bubbles: true }));
    await flushPromises();
    window.dispatchEvent(new KeyboardEvent('keydown', { key: '?', bubbles: true }));
    await flushPromises();
    expect(wrapper.find('[data-testid="shortcut-sheet"]').exists()).toBe(false);
    input.remove();
    wrapper.unmount();
  });

  it('lists Label keys that the Label screen answers', () => {
    const label = shortcutGroups.find((group) => group.route === 'label')!;
    const single = label.items.flatMap((item) => item.keys).filter((k) => /^[0-9/]$/.test(k));
    expect(single.sort()).toEqual(['/', '0', '1', '9']);
    for (const k of single) expect(keyAction(key(k)), k).toBeDefined();
    // `?` is the sheet's, never a Label action.
    expect(keyAction(key('?'))).toBeUndefined();
  });
});

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LibraryChangedEvent } from '../../main/common/library';
import { startCore, type Core } from '../../main/core';
import { dispatch } from '../../main/services/dispatch';
import { dataset, fakeEngineReport } from '../helpers/library';

/**
 * Classes and hand labels through the services of a real core, over the tiny dataset with its
 * folder labels: creating, renaming, recolouring, merging and deleting classes; bulk labelSet
 * with undo and redo checked against the labels table after every step; folder labels never
 * touched; unknown ids changing nothing. (A labelSet killed with SIGKILL: test/store/kill-cycles.test.ts.)
 */

let work: string;
let core: Core;
let imageIds: number[];
const libraryEvents: LibraryChangedEvent[] = [];

type LabelRow = { image_id: number; class_id: number };

/** Hand labels in the database, image id -> class id. */
function handLabels(): Map<number, number> {
  const rows = core.db.prepare("SELECT image_id, class_id FROM labels WHERE source = 'hand' ORDER BY image_id").all() as LabelRow[];
  return new Map(rows.map((row) => [row.image_id, row.class_id]));
}

/** Folder labels in the database, to prove they are never touched. */
function folderLabels(): LabelRow[] {
  return core.db.prepare("SELECT image_id, class_id FROM labels WHERE source = 'folder' ORDER BY image_id").all() as LabelRow[];
}

function classId(name: string): number {
  return core.db.prepare('SELECT id FROM classes WHERE name = ?').pluck().get(name) as number;
}

/** Calls through the dispatcher (validation and errors as data), failing the test on an error. */
async function call(name: string, args: unknown): Promise<unknown> {
  const result = await dispatch(core.handlers, name, args);
  if (!result.ok) throw new Error(`${name} failed: ${result.error.code} ${result.error.message}`);
  return result.value;
}

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-labels-'));
  core = startCore({ dataDir: path.join(work, 'data'), mode: 'cli', probeEngines: async () => fakeEngineReport, library: { autoThumbnails: false } });
  core.hub.subscribe((name, payload) => {
    if (name === 'library') libraryEvents.push(payload as LibraryChangedEvent);
  });
  const { folder, task } = await core.handlers.libraryAddFolder({ path: dataset('tiny') });
  const ended = await core.tasks.settled(task.id);
  expect(ended.status, ended.error).toBe('finished');
  await core.handlers.libraryUseFolderLabels({ folderId: folder.id });
  imageIds = core.db.prepare('SELECT id FROM images ORDER BY id').pluck().all() as number[];
  expect(imageIds.length).toBeGreaterThanOrEqual(12);
}, 60_000);

afterAll(() => {
  core?.close();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe('classes', () => {
  it('creates a class with a trimmed name and a colour, refusing a name taken in another case', async () => {
    const before = libraryEvents.length;
    const bird = await call('classCreate', { name: '  bird  ', color: '#3B82F6' });
    expect(bird).toMatchObject({ name: 'bird', color: '#3b82f6', images: 0, hand: 0, folder: 0 });
    expect(libraryEvents.slice(before)).toContainEqual({ what: 'labels' });
    expect(await call('classCreate', { name: 'ship' })).toMatchObject({ name: 'ship', color: null });

    const taken = await dispatch(core.handlers, 'classCreate', { name: 'BIRD' });
    expect(taken).toMatchObject({ ok: false, error: { code: 'CONFLICT' } });
    expect(!taken.ok && taken.error.message).toBe('There is already a class named "bird": choose another name, or merge the two classes (⋯ beside a class, then Merge into).');
    const folderClass = await dispatch(core.handlers, 'classCreate', { name: 'Frog' });
    expect(!folderClass.ok && folderClass.error.message).toContain('"frog"');

    for (const bad of [{ name: '   ' }, { name: 'x'.repeat(101) }, { name: 'ok', color: 'blue' }, { name: 'ok', color: '#fff' }]) {
      expect(await dispatch(core.handlers, 'classCreate', bad), JSON.stringify(bad)).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
    }
    expect(await call('classCreate', { name: 'y'.repeat(100) })).toMatchObject({ name: 'y'.repeat(100) });
    expect(core.db.prepare("SELECT count(*) FROM classes WHERE lower(name) = 'bird'").pluck().get()).toBe(1);
  });

  it('renames and recolours a class, keeping its labels, and refuses a name another class has', async () => {
    const frog = classId('frog');
    const frogs = folderLabels().filter((row) => row.class_id === frog).length;
    expect(frogs).toBeGreaterThan(0);
    expect(await call('classUpdate', { classId: frog, name: 'Frog', color: '#00AA00' })).toEqual({
      id: frog,
      name: 'Frog',
      color: '#00aa00',
      key: expect.any(Number),
      images: frogs,
      hand: 0,
      folder: frogs,
    });
    expect(await call('classUpdate', { classId: frog, color: null })).toMatchObject({ name: 'Frog', color: null });
    const taken = await dispatch(core.handlers, 'classUpdate', { classId: frog, name: 'TRUCK' });
    expect(taken).toMatchObject({ ok: false, error: { code: 'CONFLICT' } });
    expect(await dispatch(core.handlers, 'classUpdate', { classId: 999_999, name: 'nope' })).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    await call('classUpdate', { classId: frog, name: 'frog' });
    expect(await core.handlers.libraryClasses({})).toContainEqual(expect.objectContaining({ id: frog, name: 'frog', folder: frogs }));
  });
});

describe('class keys', () => {
  it('gives each class a key that stays when classes are added, changed or deleted; a key moves by swapping', async () => {
    const keyOf = async () => new Map((await core.handlers.libraryClasses({})).map((entry) => [entry.name, entry.key]));
    const before = await keyOf();
    // Every class has a key of its own (tiny's folder classes and those made above, under ten in all).
    expect(before.size).toBeLessThanOrEqual(9);
    expect(new Set(before.values()).size).toBe(before.size);
    expect([...before.values()].every((key) => key !== null && key >= 1 && key <= 9)).toBe(true);
    // The list is in key order.
    expect((await core.handlers.libraryClasses({})).map((entry) => entry.key)).toEqual([...before.values()].sort((a, b) => a! - b!));

    // A new class takes the smallest free key; nobody else's changes, whatever its name.
    const free = [1, 2, 3, 4, 5, 6, 7, 8, 9].filter((key) => ![...before.values()].includes(key));
    const aardvark = (await call('classCreate', { name: 'aardvark' })) as { id: number; key: number | null };
    expect(aardvark.key).toBe(free[0]);
    const after = await keyOf();
    for (const [name, key] of before) expect(after.get(name), name).toBe(key);

    // Moving to a key another class has swaps the two; null clears it.
    const bird = classId('bird');
    const birdKey = after.get('bird')!;
    expect(await call('classUpdate', { classId: aardvark.id, key: birdKey })).toMatchObject({ key: birdKey });
    expect((await keyOf()).get('bird')).toBe(aardvark.key);
    expect(await call('classUpdate', { classId: bird, key: null })).toMatchObject({ key: null });
    expect((await core.handlers.libraryClasses({})).at(-1)).toMatchObject({ name: 'bird', key: null });
    expect(await call('classUpdate', { classId: bird, key: aardvark.key })).toMatchObject({ key: aardvark.key });
    for (const bad of [0, 10, 1.5]) {
      expect(await dispatch(core.handlers, 'classUpdate', { classId: bird, key: bad })).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
    }
    // Deleting frees the key for the next class.
    await call('classDelete', { classId: aardvark.id, confirm: true });
    expect(((await call('classCreate', { name: 'zebra' })) as { key: number }).key).toBe(birdKey);
    await call('classDelete', { classId: classId('zebra'), confirm: true });
    await call('classUpdate', { classId: bird, key: birdKey });
    expect(await keyOf()).toEqual(before);
  });
});

describe('hand labels', () => {
  it('labels in bulk and undoes and redoes, the table matching what every step returned', async () => {
    const folders = folderLabels();
    const bird = classId('bird');
    const ship = classId('ship');
    const first = imageIds.slice(0, 8);
    const second = imageIds.slice(4, 12);
    expect(handLabels().size).toBe(0);

    // 1: label 8 images bird (a repeated id counts once).
    expect(await call('labelSet', { imageIds: [...first, first[0]], classId: bird })).toEqual({ changed: 8, undo: 1, redo: 0 });
    const afterFirst = new Map(first.map((id) => [id, bird]));
    expect(handLabels()).toEqual(afterFirst);
    // 2: relabel an overlapping set ship: 4 bird -> ship, 4 new.
    expect(await call('labelSet', { imageIds: second, classId: ship })).toEqual({ changed: 8, undo: 2, redo: 0 });
    const afterSecond = new Map([...afterFirst, ...second.map((id) => [id, ship] as const)]);
    expect(handLabels()).toEqual(afterSecond);
    // 3: remove the hand label of 3 images, one of which has none (it does not count).
    const removed = [imageIds[0]!, imageIds[5]!, imageIds[imageIds.length - 1]!];
    expect(await call('labelSet', { imageIds: removed, classId: null })).toEqual({ changed: 2, undo: 3, redo: 0 });
    const afterThird = new Map(afterSecond);
    for (const id of removed) afterThird.delete(id);
    expect(handLabels()).toEqual(afterThird);
    // Setting what is already there changes nothing and is no step.
    expect(await call('labelSet', { imageIds: second.slice(2), classId: ship })).toEqual({ changed: 0, undo: 3, redo: 0 });

    expect(await call('labelUndo', {})).toEqual({ changed: 2, undo: 2, redo: 1, imageIds: [imageIds[0], imageIds[5]] });
    expect(handLabels()).toEqual(afterSecond);
    expect(await call('labelUndo', {})).toEqual({ changed: 8, undo: 1, redo: 2, imageIds: second });
    expect(handLabels()).toEqual(afterFirst);
    expect(await call('labelRedo', {})).toEqual({ changed: 8, undo: 2, redo: 1, imageIds: second });
    expect(handLabels()).toEqual(afterSecond);
    expect(await call('labelUndo', {})).toMatchObject({ changed: 8, undo: 1, redo: 2 });
    expect(await call('labelUndo', {})).toEqual({ changed: 8, undo: 0, redo: 3, imageIds: first });
    expect(handLabels().size).toBe(0);
    expect(await call('labelUndo', {})).toEqual({ changed: 0, undo: 0, redo: 3, imageIds: [] });
    expect(await call('labelRedo', {})).toMatchObject({ changed: 8, undo: 1, redo: 2 });
    expect(handLabels()).toEqual(afterFirst);

    // A new labelSet clears what could be redone.
    expect(await call('labelSet', { imageIds: [imageIds[11]], classId: bird })).toEqual({ changed: 1, undo: 2, redo: 0 });
    expect(await call('labelRedo', {})).toEqual({ changed: 0, undo: 2, redo: 0, imageIds: [] });
    expect(handLabels()).toEqual(new Map([...afterFirst, [imageIds[11]!, bird]]));
    expect(await call('labelUndo', {})).toMatchObject({ changed: 1, undo: 1, redo: 1 });
    expect(await call('labelUndo', {})).toMatchObject({ changed: 8, undo: 0, redo: 2 });
    expect(handLabels().size).toBe(0);

    // Folder labels were never touched; the hand label wins in the gallery.
    expect(folderLabels()).toEqual(folders);
    await call('labelSet', { imageIds: [imageIds[0]], classId: ship });
    expect(await core.handlers.libraryItems({ ids: [imageIds[0]!] })).toMatchObject([{ label: 'ship' }]);
    expect((await core.handlers.libraryImage({ id: imageIds[0]! })).labels).toHaveLength(2);
    await call('labelUndo', {});
    expect(folderLabels()).toEqual(folders);
  });

  it('previews a bulk label and keeps existing hand labels when asked, undoably', async () => {
    const bird = classId('bird');
    const ship = classId('ship');
    const group = imageIds.slice(0, 10);
    await call('labelSet', { imageIds: group.slice(0, 3), classId: ship });
    await call('labelSet', { imageIds: group.slice(3, 5), classId: bird });
    const before = handLabels();
    const folders = folderLabels();

    // 5 without a hand label, 2 already bird, 3 ship by hand; a repeated id counts once; nothing changes.
    expect(await call('labelPreview', { imageIds: [...group, group[0]], classId: bird })).toEqual({
      images: 10,
      unlabelled: 5,
      same: 2,
      other: 3,
      otherByClass: [{ classId: ship, name: 'ship', count: 3 }],
    });
    expect(handLabels()).toEqual(before);
    expect(await dispatch(core.handlers, 'labelPreview', { imageIds: group, classId: 876_543 })).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    expect(await dispatch(core.handlers, 'labelPreview', { imageIds: [987_654], classId: bird })).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });

    // keepHand: only the 5 without a hand label become bird; the ship ones stay ship.
    expect(await call('labelSet', { imageIds: group, classId: bird, keepHand: true })).toMatchObject({ changed: 5 });
    const kept = handLabels();
    for (const id of group.slice(0, 3)) expect(kept.get(id)).toBe(ship);
    for (const id of group.slice(3)) expect(kept.get(id)).toBe(bird);
    expect(await call('labelPreview', { imageIds: group, classId: bird })).toMatchObject({ unlabelled: 0, same: 7, other: 3 });
    // Undo takes back exactly those 5.
    expect(await call('labelUndo', {})).toMatchObject({ changed: 5 });
    expect(handLabels()).toEqual(before);
    // Without keepHand every image gets the class, the ship ones included; undo restores them.
    expect(await call('labelSet', { imageIds: group, classId: bird })).toMatchObject({ changed: 8 });
    for (const id of group) expect(handLabels().get(id)).toBe(bird);
    expect(await call('labelUndo', {})).toMatchObject({ changed: 8 });
    expect(handLabels()).toEqual(before);
    expect(folderLabels()).toEqual(folders);
    await call('labelSet', { imageIds: group, classId: null });
  });

  it('changes nothing when an image or the class is unknown, and says which', async () => {
    const bird = classId('bird');
    await call('labelSet', { imageIds: imageIds.slice(0, 3), classId: bird });
    const labels = handLabels();
    const folders = folderLabels();
    const history = await call('labelSet', { imageIds: [imageIds[0]], classId: bird });

    const unknownImage = await dispatch(core.handlers, 'labelSet', { imageIds: [...imageIds.slice(3, 6), 987_654], classId: bird });
    expect(unknownImage).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    expect(!unknownImage.ok && unknownImage.error.message).toContain('987654');
    const unknownClass = await dispatch(core.handlers, 'labelSet', { imageIds: imageIds.slice(3, 6), classId: 876_543 });
    expect(unknownClass).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    expect(!unknownClass.ok && unknownClass.error.message).toContain('876543');
    for (const bad of [{ imageIds: [], classId: bird }, { imageIds: [1.5], classId: bird }, { imageIds: new Array(100_001).fill(1), classId: bird }]) {
      expect(await dispatch(core.handlers, 'labelSet', bad)).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
    }
    expect(handLabels()).toEqual(labels);
    expect(folderLabels()).toEqual(folders);
    // The failed calls left the history as it was.
    expect(await call('labelSet', { imageIds: [imageIds[0]], classId: bird })).toEqual(history);
  });
});

describe('merging and deleting classes', () => {
  it('merges one class into another in one step, clearing the undo history', async () => {
    const bird = classId('bird');
    const ship = classId('ship');
    const frog = classId('frog');
    await call('labelSet', { imageIds: imageIds.slice(0, 5), classId: ship });
    const frogImages = folderLabels().filter((row) => row.class_id === frog).map((row) => row.image_id);
    // A frog image labelled frog by hand too: after the merge it carries ship from both sources.
    expect(await call('labelSet', { imageIds: [frogImages[0]], classId: frog })).toMatchObject({ changed: 1 });
    await call('labelSet', { imageIds: [frogImages[1]], classId: ship });
    const handShip = [...handLabels()].filter(([, id]) => id === ship).length;

    expect(await call('classDeletePreview', { classId: frog })).toEqual({ labels: frogImages.length + 1, hand: 1, folder: frogImages.length });
    expect(await call('classMerge', { fromClassId: frog, intoClassId: ship })).toEqual({ moved: frogImages.length + 1 });
    expect(core.db.prepare('SELECT count(*) FROM classes WHERE id = ?').pluck().get(frog)).toBe(0);
    expect(core.db.prepare('SELECT count(*) FROM labels WHERE class_id = ?').pluck().get(frog)).toBe(0);
    const merged = (await core.handlers.libraryClasses({})).find((entry) => entry.id === ship)!;
    expect(merged).toMatchObject({ hand: handShip + 1, folder: frogImages.length, images: new Set([...frogImages, ...[...handLabels()].filter(([, id]) => id === ship).map(([image]) => image)]).size });
    expect(await call('labelUndo', {})).toMatchObject({ changed: 0, undo: 0, redo: 0 });
    expect(await dispatch(core.handlers, 'classMerge', { fromClassId: ship, intoClassId: ship })).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
    expect(await dispatch(core.handlers, 'classMerge', { fromClassId: frog, intoClassId: bird })).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
  });

  it('previews and deletes a class with its labels (needs confirm), clearing the undo history', async () => {
    const ship = classId('ship');
    const preview = (await call('classDeletePreview', { classId: ship })) as { labels: number; hand: number; folder: number };
    expect(preview.hand).toBeGreaterThan(0);
    expect(preview.folder).toBeGreaterThan(0);
    expect(preview.labels).toBe(preview.hand + preview.folder);
    await call('labelSet', { imageIds: [imageIds[20]], classId: classId('bird') });

    expect(await dispatch(core.handlers, 'classDelete', { classId: ship })).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
    expect(await dispatch(core.handlers, 'classDelete', { classId: ship, confirm: false })).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
    const others = core.db.prepare('SELECT count(*) FROM labels WHERE class_id <> ?').pluck().get(ship);
    expect(await call('classDelete', { classId: ship, confirm: true })).toEqual({ removedLabels: preview.labels });
    expect(core.db.prepare('SELECT count(*) FROM labels WHERE class_id = ?').pluck().get(ship)).toBe(0);
    expect(core.db.prepare('SELECT count(*) FROM labels').pluck().get()).toBe(others);
    expect((await core.handlers.libraryClasses({})).map((entry) => entry.id)).not.toContain(ship);
    expect(await call('labelUndo', {})).toMatchObject({ changed: 0, undo: 0, redo: 0 });
    expect(await dispatch(core.handlers, 'classDeletePreview', { classId: ship })).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    expect(await dispatch(core.handlers, 'classDelete', { classId: ship, confirm: true })).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
  });
});

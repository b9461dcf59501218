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
    expect(!taken.ok && taken.error.message).toContain('"bird"');
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

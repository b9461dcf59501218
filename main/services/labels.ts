import type { ClassInfo } from '../common/library';
import type { ClassDeletePreview, LabelHistory, LabelPreview, LabelSetResult, LabelStepResult } from '../common/labels';
import { ServiceError } from '../common/result';
import { LabelsRepository } from '../store/labels-repository';
import type { AreaHandlers, ServiceContext } from './app-services';

/** The most labelSet steps kept for undo (older ones are forgotten). */
export const maxLabelHistory = 100;

/** One labelSet as the history keeps it: the images, their hand labels before, and the class set. */
interface LabelStep {
  imageIds: number[];
  /** The hand label of each image before the step (null = none), in the order of imageIds. */
  before: (number | null)[];
  /** The hand label the step gave them (null = removed). */
  after: number | null;
}

/**
 * Label classes and hand labels, with an undo/redo history of labelSet steps.
 *
 * The history lives in memory, one per core session (it is gone after a restart). A labelSet
 * that changes something becomes a step and clears what can be redone; one that changes nothing
 * is not a step. classMerge and classDelete clear the whole history (undo and redo), since the
 * steps may name a class that no longer exists. Undo and redo skip images that were removed
 * from the library in the meantime.
 */
export class LabelsService {
  readonly repo: LabelsRepository;
  private readonly undoStack: LabelStep[] = [];
  private readonly redoStack: LabelStep[] = [];

  constructor(private readonly context: ServiceContext) {
    this.repo = new LabelsRepository(context.db);
  }

  // ---- classes ---------------------------------------------------------------------------

  createClass(name: string, color: string | null | undefined): ClassInfo {
    const id = this.repo.transaction(() => {
      this.refuseTakenName(name);
      return this.repo.createClass(name, color ?? null);
    });
    this.changed();
    return this.classInfo(id);
  }

  /** Renames, recolours and/or re-keys a class; a key another class holds is swapped with it. */
  updateClass(
    classId: number,
    patch: { name?: string | undefined; color?: string | null | undefined; key?: number | null | undefined },
  ): ClassInfo {
    this.repo.transaction(() => {
      this.requireClass(classId);
      if (patch.name !== undefined) {
        this.refuseTakenName(patch.name, classId);
        this.repo.renameClass(classId, patch.name);
      }
      if (patch.color !== undefined) this.repo.recolourClass(classId, patch.color);
      if (patch.key !== undefined) this.repo.setClassKey(classId, patch.key);
    });
    this.changed();
    return this.classInfo(classId);
  }

  mergeClasses(fromClassId: number, intoClassId: number): { moved: number } {
    if (fromClassId === intoClassId) {
      throw new ServiceError('INVALID_ARGUMENT', 'Choose two different classes to merge: a class cannot be merged into itself.');
    }
    const moved = this.repo.transaction(() => {
      this.requireClass(fromClassId);
      this.requireClass(intoClassId);
      return this.repo.mergeClasses(fromClassId, intoClassId);
    });
    this.clearHistory();
    this.changed();
    return { moved };
  }

  deletePreview(classId: number): ClassDeletePreview {
    this.requireClass(classId);
    return this.repo.classLabelCounts(classId);
  }

  deleteClass(classId: number): { removedLabels: number } {
    const removedLabels = this.repo.transaction(() => {
      this.requireClass(classId);
      return this.repo.deleteClass(classId);
    });
    this.clearHistory();
    this.changed();
    return { removedLabels };
  }

  // ---- hand labels -----------------------------------------------------------------------

  /**
   * Gives every image the hand label `classId` (null removes it), all in one transaction. With
   * `keepHand`, images that already have a hand label keep it.
   */
  setLabels(imageIds: readonly number[], classId: number | null, keepHand = false): LabelSetResult {
    const ids = [...new Set(imageIds)];
    const step = this.repo.transaction((): LabelStep | undefined => {
      if (classId !== null) this.requireClass(classId);
      const rows = this.foundHandLabels(ids);
      const changing = rows.filter((row) => row.classId !== classId && !(keepHand && row.classId !== null));
      for (const row of changing) this.repo.setHandLabel(row.id, classId);
      if (changing.length === 0) return undefined;
      return { imageIds: changing.map((row) => row.id), before: changing.map((row) => row.classId), after: classId };
    });
    if (step) {
      this.undoStack.push(step);
      if (this.undoStack.length > maxLabelHistory) this.undoStack.shift();
      this.redoStack.length = 0;
      this.changed();
    }
    return { changed: step?.imageIds.length ?? 0, ...this.history() };
  }

  /** What `setLabels(imageIds, classId)` would change, without changing anything. */
  preview(imageIds: readonly number[], classId: number): LabelPreview {
    const ids = [...new Set(imageIds)];
    this.requireClass(classId);
    const rows = this.foundHandLabels(ids);
    const others = new Map<number, number>();
    let unlabelled = 0;
    let same = 0;
    for (const row of rows) {
      if (row.classId === null) unlabelled += 1;
      else if (row.classId === classId) same += 1;
      else others.set(row.classId, (others.get(row.classId) ?? 0) + 1);
    }
    const names = new Map(this.repo.classNames().map((entry) => [entry.id, entry.name]));
    const otherByClass = [...others.entries()]
      .map(([id, count]) => ({ classId: id, name: names.get(id) ?? `class ${id}`, count }))
      .sort((a, b) => b.count - a.count || a.name.localeCompare(b.name));
    return { images: ids.length, unlabelled, same, other: rows.length - unlabelled - same, otherByClass };
  }

  /** Undoes the last labelSet step: its images get back the hand labels they had. */
  undo(): LabelStepResult {
    const step = this.undoStack.pop();
    if (!step) return { changed: 0, imageIds: [], ...this.history() };
    const result = this.apply(step, (index) => step.before[index] ?? null);
    this.redoStack.push(step);
    return { ...result, ...this.history() };
  }

  /** Redoes the last undone step. */
  redo(): LabelStepResult {
    const step = this.redoStack.pop();
    if (!step) return { changed: 0, imageIds: [], ...this.history() };
    const result = this.apply(step, () => step.after);
    this.undoStack.push(step);
    return { ...result, ...this.history() };
  }

  history(): LabelHistory {
    return { undo: this.undoStack.length, redo: this.redoStack.length };
  }

  /** Writes the hand labels `target` names for a step's images that still exist, in one transaction. */
  private apply(step: LabelStep, target: (index: number) => number | null): { changed: number; imageIds: number[] } {
    const result = this.repo.transaction(() => {
      const rows = this.repo.handLabels(step.imageIds);
      const imageIds: number[] = [];
      let changed = 0;
      rows.forEach((row, index) => {
        if (!row.found) return;
        imageIds.push(row.id);
        const wanted = target(index);
        if (row.classId === wanted) return;
        this.repo.setHandLabel(row.id, wanted);
        changed += 1;
      });
      return { changed, imageIds };
    });
    if (result.changed > 0) this.changed();
    return result;
  }

  /** The hand labels of these images; refuses the whole request when one is not in the library. */
  private foundHandLabels(ids: readonly number[]): { id: number; classId: number | null }[] {
    const rows = this.repo.handLabels(ids);
    const missing = rows.filter((row) => !row.found).map((row) => row.id);
    if (missing.length > 0) {
      const more = missing.length > 1 ? ` (and ${missing.length - 1} more)` : '';
      throw new ServiceError('NOT_FOUND', `No image with id ${missing[0]}${more} in the library: no label was changed.`);
    }
    return rows;
  }

  private clearHistory(): void {
    this.undoStack.length = 0;
    this.redoStack.length = 0;
  }

  // ---- helpers ---------------------------------------------------------------------------

  private classInfo(classId: number): ClassInfo {
    const info = this.repo.classInfo(classId);
    if (!info) throw new ServiceError('NOT_FOUND', `No class with id ${classId}.`);
    return info;
  }

  private requireClass(classId: number): void {
    if (!this.repo.classExists(classId)) throw new ServiceError('NOT_FOUND', `No class with id ${classId}: nothing was changed.`);
  }

  /** Refuses a name another class already has, ignoring case. */
  private refuseTakenName(name: string, exceptId?: number): void {
    const wanted = name.toLocaleLowerCase();
    const taken = this.repo.classNames().find((entry) => entry.id !== exceptId && entry.name.toLocaleLowerCase() === wanted);
    if (taken) {
      throw new ServiceError('CONFLICT', `There is already a class named "${taken.name}": choose another name, or merge the two classes (⋯ beside a class, then Merge into).`);
    }
  }

  /** Tells the views that classes or labels changed. */
  private changed(): void {
    this.context.emit?.('library', { what: 'labels' });
  }
}

const services = new WeakMap<ServiceContext, LabelsService>();

/** The one labels service of a service context (created on first use; holds the undo history). */
export function labelsService(context: ServiceContext): LabelsService {
  let service = services.get(context);
  if (!service) {
    service = new LabelsService(context);
    services.set(context, service);
  }
  return service;
}

type LabelsCalls =
  | 'classCreate'
  | 'classUpdate'
  | 'classMerge'
  | 'classDeletePreview'
  | 'classDelete'
  | 'labelPreview'
  | 'labelSet'
  | 'labelUndo'
  | 'labelRedo';

/** The calls of classes and hand labels. */
export function labelsHandlers(context: ServiceContext): AreaHandlers<LabelsCalls> {
  const labels = labelsService(context);
  return {
    classCreate: ({ name, color }) => labels.createClass(name, color),
    classUpdate: ({ classId, name, color, key }) => labels.updateClass(classId, { name, color, key }),
    classMerge: ({ fromClassId, intoClassId }) => labels.mergeClasses(fromClassId, intoClassId),
    classDeletePreview: ({ classId }) => labels.deletePreview(classId),
    classDelete: ({ classId }) => labels.deleteClass(classId),
    labelPreview: ({ imageIds, classId }) => labels.preview(imageIds, classId),
    labelSet: ({ imageIds, classId, keepHand }) => labels.setLabels(imageIds, classId, keepHand ?? false),
    labelUndo: () => labels.undo(),
    labelRedo: () => labels.redo(),
  };
}

import { z } from 'zod';

/**
 * Label classes and hand labels: creating, renaming, recolouring, merging and deleting classes,
 * and setting the hand label of many images at once with undo and redo.
 *
 * An image carries at most one label per source: 'folder' (from its class folder, see
 * libraryUseFolderLabels) and 'hand' (set here). The hand label wins where both exist. These
 * calls only ever write hand labels; folder labels change only through a merge or a delete of
 * their class.
 */

/** The longest class name, in characters (after trimming). */
export const maxClassNameLength = 100;
/** The most images one labelSet may label. */
export const maxLabelBatch = 100_000;

const classId = z.number().int().positive();

/** A class name: trimmed, 1 to 100 characters. */
export const classNameSchema = z.string().trim().min(1, 'a class name cannot be empty').max(maxClassNameLength, `a class name has at most ${maxClassNameLength} characters`);

/** A CSS hex colour #rrggbb (any case; stored in lower case), or null for the automatic palette. */
export const classColorSchema = z
  .string()
  .regex(/^#[0-9a-fA-F]{6}$/, 'a colour is written #rrggbb (for example #3b82f6)')
  .transform((value) => value.toLowerCase())
  .nullable();

export const classCreateSchema = z.object({ name: classNameSchema, color: classColorSchema.optional() }).strict();

/** The number keys a class can have. */
export const maxClassKey = 9;

/** A class's number key 1-9, or null for none. */
export const classKeySchema = z
  .number()
  .int()
  .min(1, 'a class key is a number from 1 to 9 (or none)')
  .max(maxClassKey, 'a class key is a number from 1 to 9 (or none)')
  .nullable();

export const classUpdateSchema = z
  .object({ classId, name: classNameSchema.optional(), color: classColorSchema.optional(), key: classKeySchema.optional() })
  .strict();

export const classMergeSchema = z.object({ fromClassId: classId, intoClassId: classId }).strict();

export const classDeleteSchema = z.object({ classId, confirm: z.literal(true) }).strict();

export const classDeletePreviewSchema = z.object({ classId }).strict();

export const labelSetSchema = z
  .object({
    imageIds: z.array(z.number().int().positive()).min(1).max(maxLabelBatch),
    /** The class to give the images by hand, or null to remove their hand labels. */
    classId: classId.nullable(),
    /**
     * Keep the hand labels the images already have: only images without one get the class.
     * Bulk labelling (a cluster, a map selection) asks first and keeps them by default.
     */
    keepHand: z.boolean().optional(),
  })
  .strict();

export const labelPreviewSchema = z
  .object({
    imageIds: z.array(z.number().int().positive()).min(1).max(maxLabelBatch),
    classId,
  })
  .strict();

/** Hand labels of one other class that a bulk label would replace. */
export interface LabelPreviewClass {
  classId: number;
  name: string;
  count: number;
}

/**
 * What giving many images one class by hand would change (labelPreview), so the app can say it
 * before doing it: images without a hand label get the class; images whose hand label is
 * another class change only when their hand labels are not kept.
 */
export interface LabelPreview {
  /** Distinct images asked about. */
  images: number;
  /** Images with no hand label (a folder label does not count): they get the class. */
  unlabelled: number;
  /** Images already labelled with the class by hand: nothing changes. */
  same: number;
  /** Images labelled by hand with another class: they change unless hand labels are kept. */
  other: number;
  /** `other` by class, largest first. */
  otherByClass: LabelPreviewClass[];
}

/** How many steps can be undone and redone after a label change. */
export interface LabelHistory {
  undo: number;
  redo: number;
}

/** What labelSet did. */
export interface LabelSetResult extends LabelHistory {
  /** Images whose hand label changed (images that already had it are not counted). */
  changed: number;
}

/** What labelUndo or labelRedo did. */
export interface LabelStepResult extends LabelSetResult {
  /** The images the step touched (nothing when there was nothing to undo or redo). */
  imageIds: number[];
}

/** What deleting a class would remove. */
export interface ClassDeletePreview {
  /** Labels of the class (hand and folder). */
  labels: number;
  hand: number;
  folder: number;
}

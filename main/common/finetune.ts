import { z } from 'zod';
import { embeddingSourceSchema, type EmbeddingSource } from './embeddings';

/**
 * One-click fine-tuning as the contract shows it: classifiers trained from the current labels
 * on a backbone (a linear probe on frozen features, and/or a full fine-tune), their validation
 * scores, and their predictions for every image (the review queue is the least confident ones).
 */

const id = z.number().int().positive();

export const classifierModes = ['linear-probe', 'fine-tune'] as const;
export type ClassifierMode = (typeof classifierModes)[number];

export const finetuneStartSchema = z
  .object({
    /** Which classifiers to train: both trains a linear probe, then a fine-tune. */
    mode: z.enum(['linear-probe', 'fine-tune', 'both']).default('both'),
    /** The backbone; the one chosen with runUseCheckpoint when left out. */
    source: embeddingSourceSchema.optional(),
    folderIds: z.array(id).min(1).max(10_000).optional(),
    seed: z.number().int().min(0).max(2 ** 31 - 1).default(0),
    /** Training epochs of each classifier (defaults: 100 for a linear probe, 30 for a fine-tune). */
    epochs: z.number().int().min(1).max(1000).optional(),
  })
  .strict();

export const classifierIdSchema = z.object({ classifierId: id }).strict();

export const predictionsPageSchema = z
  .object({
    /** The chosen classifier when left out. */
    classifierId: id.optional(),
    /** Only images predicted as this class. */
    classId: id.optional(),
    minConfidence: z.number().min(0).max(1).optional(),
    maxConfidence: z.number().min(0).max(1).optional(),
    /** Only images with no label (hand or folder): the review queue. */
    unlabelledOnly: z.boolean().default(false),
    order: z.enum(['confidence-asc', 'confidence-desc']).default('confidence-asc'),
    offset: z.number().int().min(0).default(0),
    limit: z.number().int().min(1).max(1000).default(200),
  })
  .strict();

export const confusionImagesSchema = z.object({ classifierId: id, trueClassId: id, predictedClassId: id }).strict();

/** One training epoch of a classifier (valAccuracy and valLoss are null without validation images). */
export interface ClassifierEpoch {
  epoch: number;
  trainLoss: number;
  valAccuracy: number | null;
  valLoss: number | null;
  lr: number;
}

/** A classifier trained from the labels. */
export interface ClassifierInfo {
  id: number;
  mode: ClassifierMode;
  source: EmbeddingSource;
  /** How a person names the backbone: "Run 3 at step 600", "Random init (Run 3's architecture)". */
  sourceLabel: string;
  /** Accuracy on the validation images; null when there were none. */
  valAccuracy: number | null;
  bestEpoch: number;
  trainCount: number;
  validationCount: number;
  /** The classes in the order of the classifier's head. */
  classes: { id: number; name: string }[];
  createdAt: string;
  /** The classifier whose predictions are shown: the user's choice, else the better of the latest round. */
  chosen: boolean;
}

export interface ClassifierDetails extends ClassifierInfo {
  history: ClassifierEpoch[];
  /** On the validation images, in head order: rows are the true class, columns the predicted one. */
  confusion: number[][];
  /** Validation accuracy per class in head order (null for a class with no validation image). */
  perClass: (number | null)[];
}

export interface PredictionItem {
  imageId: number;
  classId: number;
  className: string;
  confidence: number;
  /** Thumbnail version of the image. */
  version: string;
  /** The image's label (hand wins over folder), if any. */
  label: string | null;
}

export interface PredictionsPage {
  items: PredictionItem[];
  total: number;
}

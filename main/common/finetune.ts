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
    folderIds: z.array(id).min(1, 'choose at least one folder (or leave the choice out for the whole library)').max(10_000).optional(),
    seed: z.number().int().min(0).max(2 ** 31 - 1).default(0),
    /** Training epochs of each classifier (defaults: 100 for a linear probe, 30 for a fine-tune). */
    epochs: z.number().int().min(1).max(1000).optional(),
    /**
     * Also train the same classifier(s) on the random-init backbone of the same architecture, so
     * the user sees what pretraining bought; those are stored (marked random) but never chosen
     * automatically.
     */
    compareRandom: z.boolean().default(false),
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
    /**
     * confidence-asc / -desc by confidence; review = the review queue: least confident first, but
     * taking turns across clusters (of the newest clustering of the classifier's backbone, else
     * across predicted classes) so one page is not all one kind of image.
     */
    order: z.enum(['confidence-asc', 'confidence-desc', 'review']).default('confidence-asc'),
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
  /** The fine-tune round (one finetuneStart) that trained it: 1, 2, ... */
  round: number;
  /** Labelled images (train + validation) it learned from. */
  labelCount: number;
  /**
   * With very few labels there is no held-out set worth the name: the accuracy, confusion matrix
   * and per-class accuracy are then out-of-fold over this many folds (every label validated once
   * by a model that did not train on it), and the classifier kept was trained on every label.
   * Null for one stratified train/validation split.
   */
  folds: number | null;
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

/** One round of fine-tuning (one finetuneStart): its classifiers' validation accuracies. */
export interface FinetuneRound {
  round: number;
  createdAt: string;
  labelCount: number;
  classCount: number;
  /** Validation accuracy per classifier of the round (null without validation images). */
  linearProbe: number | null;
  fineTune: number | null;
  /** The same on the random-init backbone, when the round compared with it. */
  randomLinearProbe: number | null;
  randomFineTune: number | null;
}

/** Where predictions come from in an export. */
export const exportIncludeValues = ['labels', 'predictions', 'both'] as const;

export const labelsExportSchema = z
  .object({
    format: z.enum(['csv', 'json']),
    /**
     * labels: every labelled image (path, label, source); predictions: every image with the
     * chosen classifier's prediction (path, label, confidence); both: every image, its label
     * and source when labelled, else its prediction with its confidence.
     */
    include: z.enum(exportIncludeValues).default('both'),
    /** The classifier for predictions (the chosen one when left out). */
    classifierId: id.optional(),
  })
  .strict();

/** An export handed to the renderer as a download. */
export interface ExportFile {
  fileName: string;
  mimeType: string;
  content: string;
  rows: number;
}

/** An absolute folder on the machine running the core. */
const destination = z.string().trim().min(1, 'choose a destination folder').max(4096);

export const classFoldersExportSchema = z
  .object({
    /** An absolute path; created if missing. It may not be inside (or contain) a library folder. */
    destination,
    /** labels: only labelled images; both: also unlabelled images by their predicted class. */
    include: z.enum(['labels', 'both']).default('labels'),
    /** With include=both, only predictions at least this confident (others go to nothing). */
    minConfidence: z.number().min(0).max(1).default(0),
    classifierId: id.optional(),
  })
  .strict();

/** What a class-folder copy did (the task's result, also in its final message). */
export interface ClassFoldersSummary {
  destination: string;
  copied: number;
  /** Files already present with the same content (a re-run copies nothing twice). */
  unchanged: number;
  /** Files that could not be copied, with why. */
  failed: { path: string; reason: string }[];
  /** Each class with its folder at the destination (its name made a safe file name, when it was not one). */
  perClass: { name: string; folder: string; images: number }[];
}

export const classifierExportSchema = z.object({ classifierId: id, destination }).strict();

export const backboneExportSchema = z
  .object({
    source: embeddingSourceSchema,
    destination,
    /** safetensors with torchvision ResNet names (loadable with strict=False, only fc missing), or tfjs. */
    format: z.enum(['safetensors', 'tfjs']).default('safetensors'),
  })
  .strict();

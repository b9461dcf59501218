import type { TaskStatus } from './tasks';

/**
 * The guided first launch: "Try with sample images" imports the bundled sample set, labels a few
 * of its images, pretrains a small backbone on the CPU, clusters and fine-tunes, as one task.
 */

export const firstRunSteps = ['import', 'labels', 'pretrain', 'checkpoint', 'embed', 'cluster', 'finetune'] as const;
export type FirstRunStep = (typeof firstRunSteps)[number];

/** What each step does, as the welcome screen lists it. */
export const firstRunStepTitles: Record<FirstRunStep, string> = {
  import: 'Import the sample images',
  labels: 'Label 4 images of each class',
  pretrain: 'Pretrain a small backbone (Jigsaw Clustering)',
  checkpoint: 'Choose its last checkpoint',
  embed: 'Embed every image',
  cluster: 'Cluster the images (k = 4)',
  finetune: 'Fine-tune a classifier from the few labels',
};

/** How many images of each sample class are labelled by hand for the fine-tune. */
export const firstRunLabelsPerClass = 4;

/** The numbers the welcome screen shows once the first run has finished. */
export interface FirstRunResult {
  folderId: number;
  runId: number;
  /** The checkpoint used as the backbone. */
  step: number;
  /** The engine the run trained on. */
  engine: string;
  images: number;
  classes: string[];
  labelsPerClass: number;
  setId: number;
  clusteringId: number;
  k: number;
  /**
   * NMI of the clusters against the sample's class folders (0..1), as the Clusters screen
   * computes it for the same clustering; null when too few images have a class to show it.
   */
  nmi: number | null;
  /** Share of images in their cluster's majority folder (0..1); null with nmi. */
  purity: number | null;
  /** The images NMI and purity rest on (every sample image has a class folder). */
  scoredImages: number;
  /** Validation accuracy (k-fold over the hand labels) of each classifier, null when not measured. */
  linearProbeAccuracy: number | null;
  fineTuneAccuracy: number | null;
  /** Seconds the pretraining and the whole first run took. */
  pretrainSeconds: number;
  seconds: number;
}

/** The first run of this session, as the welcome screen follows it. */
export interface FirstRunState {
  taskId: string;
  status: TaskStatus;
  step: FirstRunStep;
  /** 0-based index of the step in firstRunSteps. */
  stepIndex: number;
  message: string;
  startedAt: string;
  endedAt?: string;
  error?: string;
  result?: FirstRunResult;
}

/** What the welcome screen and the start-up redirect need. */
export interface FirstRunInfo {
  /** True when the library has no folder and there is no run: a fresh install. */
  fresh: boolean;
  /** Where the sample set is, or null when this install has none. */
  sampleDir: string | null;
  /** The latest first run of this session, if any. */
  run: FirstRunState | null;
}

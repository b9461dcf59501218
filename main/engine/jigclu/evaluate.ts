import fs from 'node:fs';
import { toFloatImage } from '../../data/augment';
import { decodeImage } from '../../data/decode';
import { listImageFiles } from '../../data/files';
import { evalBatch } from '../../data/jigsaw';
import { resolvePretrainConfig, type PretrainConfig } from '../../common/pretrain-config';
import type { ConvGradMode } from '../nn/conv';
import { extractFeatures, knnAccuracy } from '../analysis/knn';
import { ResNet } from '../nn/resnet';
import { JigCluTrainer } from './trainer';

/** Images of a class-folder tree (root/<class>/...), decoded for evaluation. */
export interface LabelledSet {
  classNames: string[];
  labels: Int32Array;
  /** NHWC ImageNet-normalised images at `size` x `size`. */
  images: Float32Array;
  size: number;
  rejected: number;
}

/**
 * Loads a class-folder tree for evaluation: whole images resized (short side) and centre-cropped
 * to `size`. `classNames` fixes the label order (so train and test agree); files whose class is
 * not in it, and files that fail to decode, are left out and counted.
 */
export async function loadLabelledSet(root: string, size: number, classNames?: string[]): Promise<LabelledSet> {
  const listed = (await listImageFiles(root)).filter((item) => item.className !== '');
  const names = classNames ?? [...new Set(listed.map((item) => item.className))].sort((a, b) => a.localeCompare(b, 'en'));
  if (names.length < 2) throw new Error(`${root} must hold one subfolder per class (root/<class>/<images>); found ${names.length} class folder(s).`);
  const index = new Map(names.map((name, i) => [name, i]));
  const images = [];
  const labels: number[] = [];
  let rejected = 0;
  for (const item of listed) {
    const label = index.get(item.className);
    if (label === undefined) {
      rejected += 1;
      continue;
    }
    try {
      const decoded = await decodeImage(item.file, { shortSide: size });
      images.push(toFloatImage(decoded.data, decoded.width, decoded.height));
      labels.push(label);
    } catch {
      rejected += 1;
    }
  }
  return { classNames: names, labels: Int32Array.from(labels), images: evalBatch(images, size), size, rejected };
}

/** The backbone of a checkpoint, or a freshly initialised one (`randomInit`) of the same architecture. */
export function loadBackbone(checkpoint: string | undefined, options: { randomInit?: boolean; config?: PretrainConfig; convGrad: ConvGradMode }): { backbone: ResNet; config: PretrainConfig; dispose(): void } {
  if (checkpoint && !options.randomInit) {
    const trainer = JigCluTrainer.deserialize(fs.readFileSync(checkpoint), { convGrad: options.convGrad });
    return { backbone: trainer.model.backbone, config: trainer.config, dispose: () => trainer.dispose() };
  }
  let config = options.config ?? resolvePretrainConfig('cpu-small');
  if (checkpoint) {
    config = JigCluTrainer.readMetadata(fs.readFileSync(checkpoint)).config;
  }
  const backbone = new ResNet({ arch: config.arch, width: config.width }, config.seed);
  return { backbone, config, dispose: () => backbone.params.dispose() };
}

/** kNN accuracy (k = 200, cosine, t = 0.1 weighted votes) of a backbone on train/test sets. */
export async function knnEvaluate(backbone: ResNet, train: LabelledSet, test: LabelledSet, convGrad: ConvGradMode, k = 200, temperature = 0.1): Promise<number> {
  const trainFeatures = await extractFeatures(backbone, train.images, train.labels.length, train.size, 64, convGrad);
  const testFeatures = await extractFeatures(backbone, test.images, test.labels.length, test.size, 64, convGrad);
  return knnAccuracy(
    { features: trainFeatures, labels: train.labels },
    { features: testFeatures, labels: test.labels },
    backbone.outChannels,
    train.classNames.length,
    { k, temperature },
  );
}

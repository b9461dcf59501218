import fs from 'node:fs';
import path from 'node:path';
import { layers, loadLayersModel, model as layersModel, input as layersInput, type LayersModel, type SymbolicTensor } from '@tensorflow/tfjs';
import { imagenetMean, imagenetStd, toFloatImage, type FloatImage } from '../../data/augment';
import { decodeImage } from '../../data/decode';
import { evalBatch } from '../../data/jigsaw';
import type { LinearHead } from './finetune';
import type { ResNet } from '../nn/resnet';
import { writeFileAtomic } from '../../data/atomic-file';
import * as tf from '../backend/tfjs';

/**
 * A trained classifier (backbone + linear head) as a plain TF.js layers model: model.json +
 * weights.bin in tfjs's `layers-model` format, built only from tfjs's own layers (zeroPadding2d,
 * conv2d, batchNormalization, activation, maxPooling2d, add, globalAveragePooling2d, dense,
 * reshape, dot), so `tf.loadLayersModel` loads it anywhere without custom code; and labels.json
 * with the class names and the exact preprocessing. Input: the NHWC batch `evalBatch` makes;
 * output: softmax probabilities [n, classes].
 *
 * The graph reproduces `ResNet.forward` in inference mode exactly: PyTorch's symmetric explicit
 * padding is a zeroPadding2d before a 'valid' conv (tf's 'same' pads strided convs
 * asymmetrically), the max pool's padding is zeros too (its input follows a ReLU, so zeros are
 * never above the window's real values, as -inf padding is not), BatchNorm eps 1e-5 with the
 * running statistics.
 *
 * The linear probe's heads take L2-normalised features. tfjs has no normalisation layer, but its
 * Dot layer with `normalize: true` L2-normalises both inputs along the dot axis: the features are
 * dotted with the head's unit weight columns (a constant made by a Dense with a zero kernel, on a
 * Dense(1) with a zero kernel), and a Dense with the columns' norms on its diagonal, the head's
 * bias and a softmax gives the probabilities. (Dot normalises by sqrt(max(sum x^2, 1e-7)), the
 * probe by max(norm, 1e-12): the same for any feature norm above 3e-4.)
 */

export const classifierFormat = 'jigclu-classifier-v1';
export const classifierFiles = ['model.json', 'weights.bin', 'labels.json'] as const;

/** What labels.json of a saved classifier holds. */
export interface ClassifierLabels {
  format: typeof classifierFormat;
  createdBy: 'JigClu Studio';
  createdAt: string;
  /** Class names in the order of the model's output columns. */
  classes: string[];
  input: {
    size: number;
    channels: 3;
    layout: 'NHWC';
    dtype: 'float32';
    colorOrder: 'RGB';
    preprocessing: {
      description: string;
      resize: string;
      crop: string;
      /** Bytes are multiplied by this first (1 / 255). */
      scale: number;
      /** Then, per channel (R, G, B): (x - mean) / std. */
      mean: [number, number, number];
      std: [number, number, number];
    };
  };
  output: { kind: 'softmax-probabilities'; shape: [null, number] };
  model: { topology: 'model.json'; weights: 'weights.bin'; arch: string; width: number; features: number; head: LinearHead['input'] };
  /** Where the classifier came from (mode, checkpoint, validation accuracy, ...), as given to saveClassifier. */
  source: Record<string, unknown>;
}

export interface SaveClassifierInfo {
  /** Class names in head order (one per head class). */
  classNames: string[];
  /** Input side in pixels (the job's `size`). */
  size: number;
  /** Anything worth keeping about the origin: mode, checkpoint, random init, validation accuracy, labels per class. */
  source?: Record<string, unknown>;
}

const bnEpsilon = 1e-5;

function preprocessing(size: number): ClassifierLabels['input']['preprocessing'] {
  return {
    description:
      `Decode the image (EXIF orientation applied, alpha composited on white, converted to 8-bit sRGB RGB); resize it so that its shorter side is ${size} px ` +
      `keeping the aspect ratio (Lanczos3, each side rounded); take the centre ${size}x${size} pixels (offsets round((side - ${size}) / 2)); ` +
      `divide the bytes by 255; subtract the per-channel mean and divide by the per-channel std (ImageNet's, RGB order); ` +
      `lay out as float32 NHWC [n, ${size}, ${size}, 3].`,
    resize: `shorter side to ${size} px, aspect ratio kept, Lanczos3 (like torchvision's Resize(${size}), which is bilinear)`,
    crop: `centre ${size}x${size} (like torchvision's CenterCrop(${size}))`,
    scale: 1 / 255,
    mean: [...imagenetMean],
    std: [...imagenetStd],
  };
}

interface BlockPlan {
  prefix: string;
  /** [name, kernel, stride] of each conv in order. */
  convs: [string, number, number][];
  downsample: boolean;
  stride: number;
}

/** The block layout of a ResNet, read from its parameter names (torchvision's). */
function blockPlan(backbone: ResNet): BlockPlan[] {
  const names = backbone.params.variables;
  const bottleneck = backbone.spec.arch === 'resnet50';
  const plan: BlockPlan[] = [];
  for (let stage = 1; stage <= 4; stage += 1) {
    for (let index = 0; names.has(`layer${stage}.${index}.conv1.weight`); index += 1) {
      const prefix = `layer${stage}.${index}`;
      const stride = index === 0 && stage > 1 ? 2 : 1;
      const convs: BlockPlan['convs'] = [];
      for (let c = 1; names.has(`${prefix}.conv${c}.weight`); c += 1) {
        const kernel = names.get(`${prefix}.conv${c}.weight`)!.shape[0]!;
        // torchvision v1.5: the stride sits on the bottleneck's 3x3 conv, on a basic block's first.
        convs.push([`conv${c}`, kernel, c === (bottleneck ? 2 : 1) ? stride : 1]);
      }
      plan.push({ prefix, convs, downsample: names.has(`${prefix}.downsample.0.weight`), stride });
    }
  }
  return plan;
}

/**
 * The layers model of a backbone and a head (weights copied in), for `size` x `size` inputs:
 * preprocessed NHWC images in, softmax probabilities out. The caller disposes it.
 */
export function buildClassifierModel(backbone: ResNet, head: LinearHead, size: number): LayersModel {
  if (head.dim !== backbone.outChannels) throw new RangeError(`the head takes ${head.dim}-d features but the backbone gives ${backbone.outChannels}`);
  const p = backbone.params;
  const weights: [string, tf.Tensor[]][] = [];
  const conv = (x: SymbolicTensor, name: string, kernel: number, stride: number, padding: number): SymbolicTensor => {
    const filter = p.get(`${name}.weight`);
    let y = x;
    if (padding > 0) y = layers.zeroPadding2d({ padding, name: `${name}.pad` }).apply(y) as SymbolicTensor;
    y = layers.conv2d({ name, filters: filter.shape[3]!, kernelSize: kernel, strides: stride, padding: 'valid', useBias: false, kernelInitializer: 'zeros' }).apply(y) as SymbolicTensor;
    weights.push([name, [filter]]);
    return y;
  };
  const batchNorm = (x: SymbolicTensor, name: string): SymbolicTensor => {
    const y = layers.batchNormalization({ name, axis: -1, epsilon: bnEpsilon, momentum: 0.9 }).apply(x) as SymbolicTensor;
    weights.push([name, ['weight', 'bias', 'running_mean', 'running_var'].map((what) => p.get(`${name}.${what}`))]);
    return y;
  };
  const relu = (x: SymbolicTensor, name: string): SymbolicTensor => layers.activation({ activation: 'relu', name }).apply(x) as SymbolicTensor;

  const image = layersInput({ shape: [size, size, 3], name: 'image', dtype: 'float32' });
  let y = relu(batchNorm(conv(image, 'conv1', 7, 2, 3), 'bn1'), 'relu');
  y = layers.zeroPadding2d({ padding: 1, name: 'maxpool.pad' }).apply(y) as SymbolicTensor;
  y = layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'valid', name: 'maxpool' }).apply(y) as SymbolicTensor;
  for (const block of blockPlan(backbone)) {
    const identity = block.downsample ? batchNorm(conv(y, `${block.prefix}.downsample.0`, 1, block.stride, 0), `${block.prefix}.downsample.1`) : y;
    let out = y;
    block.convs.forEach(([name, kernel, stride], i) => {
      out = conv(out, `${block.prefix}.${name}`, kernel, stride, (kernel - 1) / 2);
      out = batchNorm(out, `${block.prefix}.bn${i + 1}`);
      if (i < block.convs.length - 1) out = relu(out, `${block.prefix}.relu${i + 1}`);
    });
    y = relu(layers.add({ name: `${block.prefix}.add` }).apply([out, identity]) as SymbolicTensor, `${block.prefix}.relu`);
  }
  const pooled = layers.globalAveragePooling2d({ name: 'avgpool' }).apply(y) as SymbolicTensor;

  const { dim, classes } = head;
  let probabilities: SymbolicTensor;
  const headWeights: [string, tf.Tensor[]][] = [];
  if (head.input === 'pooled') {
    probabilities = layers.dense({ units: classes, activation: 'softmax', name: 'fc' }).apply(pooled) as SymbolicTensor;
    headWeights.push(['fc', [tf.tensor2d(head.weights, [dim, classes]), tf.tensor1d(head.bias)]]);
  } else {
    // Unit columns of W and their norms: logits = (x / |x|) . w_c = |w_c| ((x / |x|) . (w_c / |w_c|)).
    const norms = new Float32Array(classes);
    for (let c = 0; c < classes; c += 1) {
      let sum = 0;
      for (let j = 0; j < dim; j += 1) sum += head.weights[j * classes + c]! ** 2;
      norms[c] = Math.sqrt(sum);
    }
    const directions = head.weights.map((w, i) => (norms[i % classes]! > 0 ? w / norms[i % classes]! : 0));
    const diagonal = new Float32Array(classes * classes);
    for (let c = 0; c < classes; c += 1) diagonal[c * classes + c] = norms[c]!;
    const zero = layers.dense({ units: 1, useBias: false, kernelInitializer: 'zeros', name: 'fc.zero' }).apply(pooled) as SymbolicTensor;
    let columns = layers.dense({ units: dim * classes, kernelInitializer: 'zeros', name: 'fc.directions' }).apply(zero) as SymbolicTensor;
    columns = layers.reshape({ targetShape: [dim, classes], name: 'fc.directions.reshape' }).apply(columns) as SymbolicTensor;
    const cosine = layers.dot({ axes: [1, 1], normalize: true, name: 'fc.cosine' }).apply([pooled, columns]) as SymbolicTensor;
    probabilities = layers.dense({ units: classes, activation: 'softmax', name: 'fc' }).apply(cosine) as SymbolicTensor;
    headWeights.push(['fc.zero', [tf.zeros([dim, 1])]]);
    headWeights.push(['fc.directions', [tf.zeros([1, dim * classes]), tf.tensor1d(directions)]]);
    headWeights.push(['fc', [tf.tensor2d(diagonal, [classes, classes]), tf.tensor1d(head.bias)]]);
  }
  const built = layersModel({ inputs: image, outputs: probabilities, name: 'jigclu_classifier' });
  try {
    for (const [name, values] of [...weights, ...headWeights]) built.getLayer(name).setWeights(values);
  } catch (error) {
    built.dispose();
    throw error;
  } finally {
    for (const [, values] of headWeights) for (const tensor of values) tensor.dispose();
  }
  return built;
}

function errorCode(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? (error as Error).message;
}

/**
 * Writes a classifier to `dir` (created if needed): model.json + weights.bin (tfjs layers
 * format) and labels.json, each atomically. Returns the file names written.
 */
export async function saveClassifier(dir: string, backbone: ResNet, head: LinearHead, info: SaveClassifierInfo): Promise<string[]> {
  if (info.classNames.length !== head.classes) throw new RangeError(`the head has ${head.classes} classes but ${info.classNames.length} class names were given`);
  if (!Number.isInteger(info.size) || info.size < 32) throw new RangeError(`size must be a whole number of at least 32 px, got ${info.size}`);
  const built = buildClassifierModel(backbone, head, info.size);
  let artifacts: tf.io.ModelArtifacts | undefined;
  try {
    await built.save(
      tf.io.withSaveHandler(async (saved) => {
        artifacts = saved;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
  } finally {
    built.dispose();
  }
  if (!artifacts?.weightData || !artifacts.weightSpecs) throw new Error('tfjs did not hand over the model weights to save');
  const weightData = tf.io.CompositeArrayBuffer.join(artifacts.weightData);
  const labels: ClassifierLabels = {
    format: classifierFormat,
    createdBy: 'JigClu Studio',
    createdAt: new Date().toISOString(),
    classes: [...info.classNames],
    input: { size: info.size, channels: 3, layout: 'NHWC', dtype: 'float32', colorOrder: 'RGB', preprocessing: preprocessing(info.size) },
    output: { kind: 'softmax-probabilities', shape: [null, head.classes] },
    model: { topology: 'model.json', weights: 'weights.bin', arch: backbone.spec.arch, width: backbone.spec.width, features: backbone.outChannels, head: head.input },
    source: info.source ?? {},
  };
  const modelJson = {
    format: 'layers-model',
    generatedBy: artifacts.generatedBy,
    convertedBy: artifacts.convertedBy ?? null,
    modelTopology: artifacts.modelTopology,
    weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }],
    userDefinedMetadata: { jigclu: { format: classifierFormat, classes: labels.classes, size: info.size } },
  };
  fs.mkdirSync(dir, { recursive: true });
  // Weights first and labels.json last: a folder with labels.json is complete.
  writeFileAtomic(path.join(dir, 'weights.bin'), Buffer.from(weightData));
  writeFileAtomic(path.join(dir, 'model.json'), JSON.stringify(modelJson));
  writeFileAtomic(path.join(dir, 'labels.json'), `${JSON.stringify(labels, null, 2)}\n`);
  return [...classifierFiles];
}

export interface LoadedClassifier {
  model: LayersModel;
  classes: string[];
  size: number;
  labels: ClassifierLabels;
  dispose(): void;
}

/** Loads a classifier written by saveClassifier; errors name the file at fault and what to do. */
export async function loadClassifier(dir: string): Promise<LoadedClassifier> {
  const what = 'a classifier folder written by `jigclu finetune --out` or the app (model.json, weights.bin, labels.json)';
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new Error(`${dir} is not a folder: give ${what}.`);
  const read = (name: string): Buffer => {
    const file = path.join(dir, name);
    try {
      return fs.readFileSync(file);
    } catch (error) {
      const code = errorCode(error);
      if (code === 'ENOENT') {
        throw new Error(`${file} is missing: ${dir} is not a complete JigClu classifier. Give ${what}, or save the classifier again.`, { cause: error });
      }
      throw new Error(`${file} cannot be read (${code}).`, { cause: error });
    }
  };
  const parse = (name: string): unknown => {
    const text = read(name).toString('utf8');
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      throw new Error(`${path.join(dir, name)} is not valid JSON (${(error as Error).message}): the file is corrupt; save the classifier again.`, { cause: error });
    }
  };
  const labels = parse('labels.json') as Partial<ClassifierLabels> | null;
  if (!labels || typeof labels !== 'object' || labels.format !== classifierFormat) {
    throw new Error(`${path.join(dir, 'labels.json')} is not a JigClu classifier's (format '${classifierFormat}' expected): give ${what}.`);
  }
  const classes = labels.classes;
  const size = labels.input?.size;
  if (!Array.isArray(classes) || classes.length < 2 || !classes.every((name) => typeof name === 'string') || !Number.isInteger(size)) {
    throw new Error(`${path.join(dir, 'labels.json')} is corrupt: it needs 'classes' (2 or more names) and 'input.size'; save the classifier again.`);
  }
  const modelJson = parse('model.json') as Partial<tf.io.ModelJSON> | null;
  const manifest = modelJson?.weightsManifest;
  if (!modelJson || modelJson.format !== 'layers-model' || !modelJson.modelTopology || !Array.isArray(manifest) || manifest.length === 0) {
    throw new Error(`${path.join(dir, 'model.json')} is not a TF.js layers model (format 'layers-model' with a topology and a weights manifest): save the classifier again.`);
  }
  const weightSpecs = manifest.flatMap((group) => group.weights);
  const buffers = manifest.flatMap((group) => group.paths).map((name) => read(name));
  const weightData = tf.io.CompositeArrayBuffer.join(buffers.map((buffer) => buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength) as ArrayBuffer));
  const expected = weightSpecs.reduce((sum, spec) => sum + spec.shape.reduce((a, b) => a * b, 1) * 4, 0);
  if (weightData.byteLength !== expected) {
    throw new Error(`${path.join(dir, manifest[0]!.paths[0]!)} holds ${weightData.byteLength} bytes but model.json describes ${expected}: the weights are truncated or from another model; save the classifier again.`);
  }
  let model: LayersModel;
  try {
    model = await loadLayersModel(tf.io.fromMemory({ modelTopology: modelJson.modelTopology, weightSpecs, weightData, format: modelJson.format, generatedBy: modelJson.generatedBy }));
  } catch (error) {
    throw new Error(`${path.join(dir, 'model.json')} could not be loaded as a TF.js layers model (${(error as Error).message}): save the classifier again.`, { cause: error });
  }
  const outputs = model.outputs[0]!.shape;
  if (outputs[outputs.length - 1] !== classes.length) {
    model.dispose();
    throw new Error(`${path.join(dir, 'model.json')} has ${String(outputs[outputs.length - 1])} outputs but labels.json names ${classes.length} classes: the files do not belong together; save the classifier again.`);
  }
  return { model, classes: [...classes], size: size!, labels: labels as ClassifierLabels, dispose: () => model.dispose() };
}

export interface FilePrediction {
  /** Index into the files given. */
  index: number;
  predicted: number;
  confidence: number;
  /** Softmax probabilities, one per class. */
  probabilities: Float32Array;
}

export interface PredictFilesResult {
  predictions: FilePrediction[];
  /** Files that could not be decoded (index into the files given), with why. */
  skipped: { index: number; file: string; reason: string }[];
}

export interface PredictFilesOptions {
  /** Images per forward pass (32). */
  batch?: number;
  /** Called after each batch with the files done so far. */
  onProgress?(done: number, total: number): void;
}

/**
 * Classifies image files with a loaded classifier: each file decoded and preprocessed as
 * labels.json describes (the classify job's own preprocessing), in batches. Files that fail
 * to decode are reported in `skipped`, not thrown.
 */
export async function predictFiles(loaded: LoadedClassifier, files: string[], options: PredictFilesOptions = {}): Promise<PredictFilesResult> {
  const batch = Math.max(1, options.batch ?? 32);
  const { size } = loaded;
  const classes = loaded.classes.length;
  const predictions: FilePrediction[] = [];
  const skipped: PredictFilesResult['skipped'] = [];
  for (let offset = 0; offset < files.length; offset += batch) {
    const chunk = files.slice(offset, offset + batch);
    const decoded = await Promise.all(
      chunk.map(async (file, i): Promise<FloatImage | undefined> => {
        try {
          const image = await decodeImage(file, { shortSide: size });
          return toFloatImage(image.data, image.width, image.height);
        } catch (error) {
          skipped.push({ index: offset + i, file, reason: (error as Error).message });
          return undefined;
        }
      }),
    );
    const kept = decoded.flatMap((image, i) => (image ? [{ image, index: offset + i }] : []));
    if (kept.length > 0) {
      const pixels = evalBatch(
        kept.map(({ image }) => image),
        size,
      );
      const output = tf.tidy(() => loaded.model.predict(tf.tensor4d(pixels, [kept.length, size, size, 3])) as tf.Tensor);
      const values = (await output.data()) as Float32Array;
      output.dispose();
      kept.forEach(({ index }, row) => {
        const probabilities = values.slice(row * classes, (row + 1) * classes);
        let best = 0;
        for (let c = 1; c < classes; c += 1) if (probabilities[c]! > probabilities[best]!) best = c;
        predictions.push({ index, predicted: best, confidence: probabilities[best]!, probabilities });
      });
    }
    options.onProgress?.(Math.min(offset + batch, files.length), files.length);
  }
  skipped.sort((a, b) => a.index - b.index);
  return { predictions, skipped };
}

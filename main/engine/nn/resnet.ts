import * as tf from '../backend/tfjs';
import { isHostMemoryBackend } from '../backend/host-memory';
import { fusedBatchNormTraining, type BatchNormEpilogue } from './batchnorm-fused';
import { conv2d, type ConvGradMode } from './conv';
import { maxPool } from './ops';

/**
 * ResNet-18 and ResNet-50 with torchvision's layout and parameter names (conv1, bn1,
 * layer1.0.conv1, ..., downsample.0/1), so weights can be exchanged with PyTorch. Tensors are
 * NHWC; conv filters are stored HWIO [kh, kw, in, out] (PyTorch: OIHW, transposed on export).
 * BatchNorm keeps running_mean / running_var like PyTorch (momentum 0.1, eps 1e-5, the running
 * variance updated with the unbiased batch variance).
 */

export type Arch = 'resnet18' | 'resnet50';

export interface ResNetSpec {
  arch: Arch;
  /** Width multiplier: every layer's channels are round(torchvision's * width), at least 1. */
  width: number;
}

/** A BatchNorm's batch statistics from a training forward pass, applied after the step. */
export interface BatchNormUpdate {
  prefix: string;
  mean: tf.Tensor1D;
  variance: tf.Tensor1D;
  /** Elements per channel in the batch (for the unbiased variance). */
  count: number;
}

export interface ForwardOptions {
  training: boolean;
  /** Training only: receives each BatchNorm's batch statistics (kept tensors; caller disposes). */
  batchNormUpdates?: BatchNormUpdate[];
  convGrad: ConvGradMode;
}

const bnMomentum = 0.1;
const bnEpsilon = 1e-5;

/** Block layout of each architecture: blocks per stage and whether blocks are bottlenecks. */
const layouts: Record<Arch, { blocks: [number, number, number, number]; bottleneck: boolean }> = {
  resnet18: { blocks: [2, 2, 2, 2], bottleneck: false },
  resnet50: { blocks: [3, 4, 6, 3], bottleneck: true },
};

/** A named parameter set, in a stable order (the order of creation, like PyTorch's state_dict). */
export class Parameters {
  readonly variables = new Map<string, tf.Variable>();
  /** Names of the running statistics (not trained by the optimizer). */
  readonly buffers = new Set<string>();

  add(name: string, value: tf.Tensor, trainable: boolean): tf.Variable {
    if (this.variables.has(name)) throw new Error(`duplicate parameter ${name}`);
    const variable = tf.variable(value, trainable, `${name}_${Math.random().toString(36).slice(2, 8)}`);
    value.dispose();
    this.variables.set(name, variable);
    if (!trainable) this.buffers.add(name);
    return variable;
  }

  get(name: string): tf.Variable {
    const variable = this.variables.get(name);
    if (!variable) throw new Error(`no parameter ${name}`);
    return variable;
  }

  /** The trainable parameters, in order. */
  trainable(): [string, tf.Variable][] {
    return [...this.variables].filter(([name]) => !this.buffers.has(name));
  }

  /** Number of trainable scalars. */
  count(): number {
    return this.trainable().reduce((sum, [, v]) => sum + v.size, 0);
  }

  dispose(): void {
    for (const variable of this.variables.values()) variable.dispose();
    this.variables.clear();
    this.buffers.clear();
  }
}

/** A deterministic seed sequence for initialisers. */
export class SeedSequence {
  constructor(private seed: number) {}

  next(): number {
    this.seed = (Math.imul(this.seed ^ 0x9e3779b9, 0x85ebca6b) + 0x27d4eb2f) >>> 0;
    return this.seed % 2147483647;
  }
}

/** torchvision's conv init: kaiming_normal_(mode='fan_out', nonlinearity='relu'). */
function kaimingConv(kh: number, kw: number, cin: number, cout: number, seeds: SeedSequence): tf.Tensor4D {
  const std = Math.sqrt(2 / (cout * kh * kw));
  return tf.randomNormal([kh, kw, cin, cout], 0, std, 'float32', seeds.next());
}

/** PyTorch's nn.Linear default init: U(-1/sqrt(in), 1/sqrt(in)) for weight and bias. Weight [in, out]. */
export function addLinear(params: Parameters, name: string, cin: number, cout: number, seeds: SeedSequence): void {
  const bound = 1 / Math.sqrt(cin);
  params.add(`${name}.weight`, tf.randomUniform([cin, cout], -bound, bound, 'float32', seeds.next()), true);
  params.add(`${name}.bias`, tf.randomUniform([cout], -bound, bound, 'float32', seeds.next()), true);
}

function addBatchNorm(params: Parameters, name: string, channels: number): void {
  params.add(`${name}.weight`, tf.ones([channels]), true);
  params.add(`${name}.bias`, tf.zeros([channels]), true);
  params.add(`${name}.running_mean`, tf.zeros([channels]), false);
  params.add(`${name}.running_var`, tf.ones([channels]), false);
}

function channels(base: number, width: number): number {
  return Math.max(1, Math.round(base * width));
}

interface Block {
  prefix: string;
  stride: number;
  /** Convs in order: [name, kernel, stride, padding]. */
  convs: [string, number, number, number][];
  downsample: boolean;
}

/** A ResNet backbone (no fc): NHWC images in, the last feature map [n, h/32, w/32, outChannels] out. */
export class ResNet {
  readonly params = new Parameters();
  readonly outChannels: number;
  private readonly blocks: Block[] = [];

  constructor(
    readonly spec: ResNetSpec,
    seed: number,
  ) {
    const seeds = new SeedSequence(seed);
    const { blocks, bottleneck } = layouts[spec.arch];
    const expansion = bottleneck ? 4 : 1;
    const stem = channels(64, spec.width);
    this.params.add('conv1.weight', kaimingConv(7, 7, 3, stem, seeds), true);
    addBatchNorm(this.params, 'bn1', stem);
    let inplanes = stem;
    blocks.forEach((count, stage) => {
      const planes = channels(64 * 2 ** stage, spec.width);
      for (let index = 0; index < count; index += 1) {
        const prefix = `layer${stage + 1}.${index}`;
        const stride = index === 0 && stage > 0 ? 2 : 1;
        const out = planes * expansion;
        const convs: Block['convs'] = bottleneck
          ? [
              ['conv1', 1, 1, 0],
              ['conv2', 3, stride, 1], // torchvision v1.5: the stride sits on the 3x3 conv
              ['conv3', 1, 1, 0],
            ]
          : [
              ['conv1', 3, stride, 1],
              ['conv2', 3, 1, 1],
            ];
        const widths = bottleneck ? [inplanes, planes, planes, out] : [inplanes, planes, out];
        convs.forEach(([name, kernel], i) => {
          this.params.add(`${prefix}.${name}.weight`, kaimingConv(kernel, kernel, widths[i]!, widths[i + 1]!, seeds), true);
          addBatchNorm(this.params, `${prefix}.bn${i + 1}`, widths[i + 1]!);
        });
        const downsample = stride !== 1 || inplanes !== out;
        if (downsample) {
          this.params.add(`${prefix}.downsample.0.weight`, kaimingConv(1, 1, inplanes, out, seeds), true);
          addBatchNorm(this.params, `${prefix}.downsample.1`, out);
        }
        this.blocks.push({ prefix, stride, convs, downsample });
        inplanes = out;
      }
    });
    this.outChannels = inplanes;
  }

  /** x: [n, h, w, 3] normalized images -> [n, h/32, w/32, outChannels]. */
  forward(x: tf.Tensor4D, options: ForwardOptions): tf.Tensor4D {
    const p = this.params;
    let y = conv2d(x, p.get('conv1.weight') as tf.Tensor4D, 2, 3, options.convGrad);
    y = this.batchNorm(y, 'bn1', options, { relu: true });
    y = maxPool(y, 3, 2, 1, options.convGrad);
    for (const block of this.blocks) {
      const identity = block.downsample
        ? this.batchNorm(conv2d(y, p.get(`${block.prefix}.downsample.0.weight`) as tf.Tensor4D, block.stride, 0, options.convGrad), `${block.prefix}.downsample.1`, options)
        : y;
      let out = y;
      block.convs.forEach(([name, , stride, padding], i) => {
        out = conv2d(out, p.get(`${block.prefix}.${name}.weight`) as tf.Tensor4D, stride, padding, options.convGrad);
        // The ReLU, and after the last conv the shortcut and the ReLU, go with the BatchNorm.
        const last = i === block.convs.length - 1;
        out = this.batchNorm(out, `${block.prefix}.bn${i + 1}`, options, last ? { residual: identity, relu: true } : { relu: true });
      });
      y = out;
    }
    return y;
  }

  /** BatchNorm `prefix` on x, then the epilogue: relu(bn(x) [+ residual]). */
  private batchNorm(x: tf.Tensor4D, prefix: string, options: ForwardOptions, epilogue: BatchNormEpilogue = {}): tf.Tensor4D {
    const gamma = this.params.get(`${prefix}.weight`) as tf.Tensor1D;
    const beta = this.params.get(`${prefix}.bias`) as tf.Tensor1D;
    if (!options.training) {
      const normalized = tf.batchNorm4d(x, this.params.get(`${prefix}.running_mean`) as tf.Tensor1D, this.params.get(`${prefix}.running_var`) as tf.Tensor1D, beta, gamma, bnEpsilon);
      return applyEpilogue(normalized, epilogue);
    }
    const { y, mean, variance } = batchNormTraining(x, gamma, beta, { epilogue });
    if (options.batchNormUpdates) {
      options.batchNormUpdates.push({ prefix, mean: tf.keep(mean), variance: tf.keep(variance), count: x.shape[0] * x.shape[1] * x.shape[2] });
    } else {
      mean.dispose();
      variance.dispose();
    }
    return y;
  }

  /** Applies batch statistics to the running ones (PyTorch semantics) and disposes them. */
  applyBatchNormUpdates(updates: BatchNormUpdate[]): void {
    tf.tidy(() => {
      for (const update of updates) {
        const runningMean = this.params.get(`${update.prefix}.running_mean`);
        const runningVar = this.params.get(`${update.prefix}.running_var`);
        const unbiased = update.variance.mul(update.count / Math.max(1, update.count - 1));
        runningMean.assign(runningMean.mul(1 - bnMomentum).add(update.mean.mul(bnMomentum)));
        runningVar.assign(runningVar.mul(1 - bnMomentum).add(unbiased.mul(bnMomentum)));
      }
    });
    for (const update of updates) {
      update.mean.dispose();
      update.variance.dispose();
    }
  }
}

/**
 * Training-mode BatchNorm over N, H, W with the batch statistics, and its gradient written out
 * (the standard closed form), so the backward pass is a few broadcast element-wise ops and two
 * channel reductions. tfjs's own FusedBatchNorm gradient tiles mean, variance and scale to the
 * input's full shape, which took a third of a training step on wasm.
 *   y = gamma * xhat + beta,  xhat = (x - mean) / sqrt(var + eps)
 *   dx = gamma / sqrt(var + eps) / N * (N dy - sum(dy) - xhat * sum(dy * xhat))
 *   dgamma = sum(dy * xhat),  dbeta = sum(dy)
 * Returns y and (not differentiated) the batch mean and biased variance, for the running stats.
 * On wasm and cpu ('fused', the default there) the same formulas run as two kernels written as
 * loops over the tensors' memory (batchnorm-fused.ts); 'ops' is the tfjs-op form below, used on
 * the other engines.
 */
export function batchNormTraining(
  x: tf.Tensor4D,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  { form = isHostMemoryBackend(tf.getBackend()) ? 'fused' : 'ops', epilogue = {} }: { form?: 'fused' | 'ops'; epilogue?: BatchNormEpilogue } = {},
): { y: tf.Tensor4D; mean: tf.Tensor1D; variance: tf.Tensor1D } {
  if (form === 'fused') return fusedBatchNormTraining(x, gamma, beta, bnEpsilon, epilogue);
  const normalized = batchNormOps(x, gamma, beta);
  return { ...normalized, y: applyEpilogue(normalized.y, epilogue) };
}

/** relu(y [+ residual]) as tfjs ops (the fused kernels' epilogue on the other engines). */
function applyEpilogue(y: tf.Tensor4D, { residual, relu }: BatchNormEpilogue): tf.Tensor4D {
  const sum = residual ? (tf.add(y, residual) as tf.Tensor4D) : y;
  return relu ? tf.relu(sum) : sum;
}

/** The BatchNorm above as tfjs ops, with its closed-form gradient. */
function batchNormOps(x: tf.Tensor4D, gamma: tf.Tensor1D, beta: tf.Tensor1D): { y: tf.Tensor4D; mean: tf.Tensor1D; variance: tf.Tensor1D } {
  let mean!: tf.Tensor1D;
  let variance!: tf.Tensor1D;
  const count = x.shape[0] * x.shape[1] * x.shape[2];
  const normalize = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [input, g, b] = args as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D];
    const save = args[3] as tf.GradSaveFunc;
    const moments = tf.moments(input, [0, 1, 2]);
    mean = tf.keep(moments.mean as tf.Tensor1D);
    variance = tf.keep(moments.variance as tf.Tensor1D);
    const invStd = tf.rsqrt(tf.add(variance, bnEpsilon)) as tf.Tensor1D;
    const scale = tf.mul(g, invStd);
    const shift = tf.sub(b, tf.mul(mean, scale));
    save([input, g, mean, invStd]);
    return {
      value: tf.add(tf.mul(input, scale), shift) as tf.Tensor4D,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [savedX, savedGamma, savedMean, savedInvStd] = saved as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D];
        const grad = dy as tf.Tensor4D;
        const xhat = tf.mul(tf.sub(savedX, savedMean), savedInvStd);
        const sumDy = tf.sum(grad, [0, 1, 2]);
        const sumDyXhat = tf.sum(tf.mul(grad, xhat), [0, 1, 2]);
        const k = tf.div(tf.mul(savedGamma, savedInvStd), count);
        // dx = k * (N dy - sum(dy) - xhat * sum(dy xhat))
        const inner = tf.sub(tf.sub(tf.mul(grad, count), sumDy), tf.mul(xhat, sumDyXhat));
        return [tf.mul(inner, k), sumDyXhat, sumDy];
      },
    };
  });
  const y = normalize(x, gamma, beta) as tf.Tensor4D;
  return { y, mean, variance };
}

/** Global average pooling: [n, h, w, c] -> [n, c]. */
export function globalAveragePool(x: tf.Tensor4D): tf.Tensor2D {
  return tf.mean(x, [1, 2]) as tf.Tensor2D;
}

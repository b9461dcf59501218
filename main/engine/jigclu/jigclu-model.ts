import * as tf from '../backend/tfjs';
import { matMul } from '../nn/matmul';
import type { PretrainConfig } from '../../common/pretrain-config';
import type { ConvGradMode } from '../nn/conv';
import { locationLoss, supCluLoss } from './losses';
import { decouple } from './decouple';
import { addLinear, Parameters, ResNet, SeedSequence, type BatchNormUpdate } from '../nn/resnet';

/** Loss values of one step. */
export interface StepLosses {
  total: number;
  cluster: number;
  location: number;
  /** Batch-level: the location head's argmax is the patch's true location. */
  locationAccuracy?: number;
  /** Batch-level: each patch's most similar other patch (cluster head) comes from the same image. */
  clusterAccuracy?: number;
}

/** The batch-level accuracies of `StepLosses` from embeddings and location logits (no gradient). */
export function batchAccuracies(embeddings: tf.Tensor2D, locationLogits: tf.Tensor2D, clusterLabels: tf.Tensor1D, locationLabels: tf.Tensor1D): { location: tf.Scalar; cluster: tf.Scalar } {
  return tf.tidy(() => {
    // Off the path to the loss: variableGrads prunes these ops from the backward pass.
    const z = embeddings;
    const n = z.shape[0];
    const location = tf.mean(tf.cast(tf.equal(tf.argMax(locationLogits, 1), tf.cast(locationLabels, 'int32')), 'float32')) as tf.Scalar;
    // Cosine similarity with every other patch (self pushed below every real value).
    const similarity = tf.sub(matMul(z, z, false, true), tf.mul(tf.eye(n), 4));
    const nearest = tf.argMax(similarity, 1);
    const labels = tf.cast(clusterLabels, 'int32');
    const cluster = tf.mean(tf.cast(tf.equal(tf.gather(labels, nearest), labels), 'float32')) as tf.Scalar;
    return { location, cluster };
  });
}

/** Per-patch outputs for the montage inspector: predicted location and embedding. */
export interface PatchOutputs {
  /** [N] argmax of the location head. */
  predictedLocation: Int32Array;
  /** [N, projectionDim] L2-normalised cluster embeddings. */
  embeddings: Float32Array;
}

/**
 * The JigClu network: a ResNet backbone whose last feature map is enlarged bilinearly to 8 x 8
 * and average-pooled to m x m, as the reference does (one cell per patch: the parameter-free
 * decoupling, decouple.ts), a cluster head
 * Linear(d, d) -> ReLU -> Linear(d, 128) -> L2 norm, and a location head Linear(d, m*m).
 */
export class JigCluModel {
  readonly backbone: ResNet;
  readonly heads = new Parameters();

  constructor(
    readonly config: Pick<PretrainConfig, 'arch' | 'width' | 'grid' | 'projectionDim' | 'temperature' | 'alpha' | 'beta' | 'seed' | 'decoupling'>,
  ) {
    this.backbone = new ResNet({ arch: config.arch, width: config.width }, config.seed);
    const d = this.backbone.outChannels;
    const seeds = new SeedSequence(config.seed ^ 0x5bd1e995);
    addLinear(this.heads, 'cluster_head.0', d, d, seeds);
    addLinear(this.heads, 'cluster_head.2', d, config.projectionDim, seeds);
    addLinear(this.heads, 'location_head', d, config.grid * config.grid, seeds);
  }

  /** Every variable, backbone first, in a stable order (checkpoints rely on it). */
  allParameters(): [string, tf.Variable][] {
    return [...this.backbone.params.variables, ...this.heads.variables];
  }

  /** The trainable variables, in a stable order. */
  trainable(): [string, tf.Variable][] {
    return [...this.backbone.params.trainable(), ...this.heads.trainable()];
  }

  /**
   * Patch features: montages [n, S, S, 3] -> [n*m*m, d], row k = montage b, cell c (row-major)
   * at k = b*m*m + c, matching the jigsaw batch's label order.
   */
  patchFeatures(montages: tf.Tensor4D, training: boolean, convGrad: ConvGradMode, updates?: BatchNormUpdate[]): tf.Tensor2D {
    const m = this.config.grid;
    const map = this.backbone.forward(montages, { training, convGrad, batchNormUpdates: updates });
    const cells = decouple(map, m, this.config.decoupling);
    return tf.reshape(cells, [montages.shape[0] * m * m, this.backbone.outChannels]);
  }

  /** Cluster head with L2 normalisation: [N, d] -> [N, projectionDim]. */
  clusterEmbeddings(features: tf.Tensor2D): tf.Tensor2D {
    const h = tf.relu(tf.add(matMul(features, this.heads.get('cluster_head.0.weight') as tf.Tensor2D), this.heads.get('cluster_head.0.bias')));
    const z = tf.add(matMul(h, this.heads.get('cluster_head.2.weight') as tf.Tensor2D), this.heads.get('cluster_head.2.bias')) as tf.Tensor2D;
    // F.normalize(dim=1): z / max(||z||, 1e-12)
    return tf.div(z, tf.maximum(tf.norm(z, 2, 1, true), 1e-12)) as tf.Tensor2D;
  }

  locationLogits(features: tf.Tensor2D): tf.Tensor2D {
    return tf.add(matMul(features, this.heads.get('location_head.weight') as tf.Tensor2D), this.heads.get('location_head.bias')) as tf.Tensor2D;
  }

  /** The training objective: alpha * cluster loss + beta * location loss, with both parts. */
  losses(
    montages: tf.Tensor4D,
    clusterLabels: tf.Tensor1D,
    locationLabels: tf.Tensor1D,
    convGrad: ConvGradMode,
    updates?: BatchNormUpdate[],
  ): { total: tf.Scalar; cluster: tf.Scalar; location: tf.Scalar; accuracies: { location: tf.Scalar; cluster: tf.Scalar } } {
    const features = this.patchFeatures(montages, true, convGrad, updates);
    const embeddings = this.clusterEmbeddings(features);
    const logits = this.locationLogits(features);
    const cluster = supCluLoss(embeddings, clusterLabels, this.config.temperature);
    const location = locationLoss(logits, locationLabels);
    const total = tf.add(tf.mul(cluster, this.config.alpha), tf.mul(location, this.config.beta)) as tf.Scalar;
    return { total, cluster, location, accuracies: batchAccuracies(embeddings, logits, clusterLabels, locationLabels) };
  }

  /** Inference-mode outputs per patch, for the montage inspector. */
  async inspect(montages: tf.Tensor4D, convGrad: ConvGradMode): Promise<PatchOutputs> {
    const [predicted, embeddings] = tf.tidy(() => {
      const features = this.patchFeatures(montages, false, convGrad);
      return [tf.argMax(this.locationLogits(features), 1), this.clusterEmbeddings(features)];
    });
    try {
      return { predictedLocation: (await predicted.data()) as Int32Array, embeddings: (await embeddings.data()) as Float32Array };
    } finally {
      predicted.dispose();
      embeddings.dispose();
    }
  }

  dispose(): void {
    this.backbone.params.dispose();
    this.heads.dispose();
  }
}

import { UMAP } from 'umap-js';
import { Rng } from '../../data/rng';
import { checkFeatureMatrix, rowsForMetric, squaredRowNorms, type FeatureMetric } from './feature-matrix';
import * as tf from '../backend/tfjs';

/**
 * 2-D maps and pair searches over backbone features (issue 6, "clusters and embedding map"):
 * PCA, UMAP, near-duplicate pairs and outlier scores. Features are `n` rows of `dim` floats,
 * row-major; every function refuses non-finite features with a clear error and disposes every
 * tensor it makes.
 */

export type ProjectionMetric = FeatureMetric;

/** Floats in one block of scores on tfjs (rows are chunked to fit). */
const blockFloats = 1 << 22;

/**
 * Distance between rows i and j of the original features, in float64: Euclidean, or 1 - cos as
 * ||a/|a| - b/|b|||² / 2 (no cancellation: identical directions give exactly 0; a zero row is
 * at 1 from everything). `norms` are the rows' (unsquared) norms, for 'cosine'.
 */
function exactDistance(features: Float32Array, i: number, j: number, dim: number, metric: ProjectionMetric, norms: Float64Array): number {
  let sum = 0;
  if (metric === 'euclidean') {
    for (let t = 0; t < dim; t += 1) sum += (features[i * dim + t]! - features[j * dim + t]!) ** 2;
    return Math.sqrt(sum);
  }
  const ni = norms[i]!;
  const nj = norms[j]!;
  if (!(ni > 0) || !(nj > 0)) return 1;
  for (let t = 0; t < dim; t += 1) sum += (features[i * dim + t]! / ni - features[j * dim + t]! / nj) ** 2;
  return sum / 2;
}

/** [dim, count] transpose of `count` rows starting at `start`. */
function transposeRows(rows: Float32Array, start: number, count: number, dim: number): Float32Array {
  const out = new Float32Array(count * dim);
  for (let i = 0; i < count; i += 1) for (let t = 0; t < dim; t += 1) out[t * count + i] = rows[(start + i) * dim + t]!;
  return out;
}

// ---------------------------------------------------------------------------------------------
// PCA

export interface PcaResult {
  /** n rows of (x, y): the centred rows projected on the first two principal components. */
  coordinates: Float32Array;
  /** The two components, unit length, dim floats each (2 x dim, row-major). */
  components: Float32Array;
  /** Share of the total variance along each component (0 when there is no variance). */
  explainedVariance: [number, number];
}

/**
 * The two leading eigenvectors of a symmetric positive semi-definite matrix (d x d, float64):
 * subspace (block power) iteration on two vectors from a fixed seed, a Rayleigh-Ritz rotation
 * of the 2-D subspace each step (so two equal leading eigenvalues converge too), until the
 * subspace residual ||A Q - Q B|| is below 1e-10 ||B|| or 1,000 steps.
 */
function topTwoEigen(a: Float64Array, d: number): { vectors: [Float64Array, Float64Array]; values: [number, number] } {
  const rng = new Rng(0x9ca);
  let q0: Float64Array = Float64Array.from({ length: d }, () => rng.normal());
  let q1: Float64Array = Float64Array.from({ length: d }, () => rng.normal());
  const dot = (x: Float64Array, y: Float64Array) => {
    let s = 0;
    for (let i = 0; i < d; i += 1) s += x[i]! * y[i]!;
    return s;
  };
  const multiply = (x: Float64Array) => {
    const out = new Float64Array(d);
    for (let r = 0; r < d; r += 1) {
      let s = 0;
      const o = r * d;
      for (let c = 0; c < d; c += 1) s += a[o + c]! * x[c]!;
      out[r] = s;
    }
    return out;
  };
  /** Gram-Schmidt in place; a column that vanishes becomes zero. */
  const orthonormalise = (x: Float64Array, y: Float64Array) => {
    const nx = Math.sqrt(dot(x, x));
    if (nx > 0) for (let i = 0; i < d; i += 1) x[i]! /= nx;
    else x.fill(0);
    const p = dot(x, y);
    for (let i = 0; i < d; i += 1) y[i]! -= p * x[i]!;
    const ny = Math.sqrt(dot(y, y));
    if (ny > 1e-150 && ny > 1e-12 * nx) for (let i = 0; i < d; i += 1) y[i]! /= ny;
    else y.fill(0);
  };
  orthonormalise(q0, q1);
  let values: [number, number] = [0, 0];
  for (let step = 0; step < 1000; step += 1) {
    const z0 = multiply(q0);
    const z1 = multiply(q1);
    // Rayleigh-Ritz: B = Q^T A Q, rotate Q to B's eigenvectors.
    const b00 = dot(q0, z0);
    const b01 = dot(q0, z1);
    const b11 = dot(q1, z1);
    const mid = (b00 + b11) / 2;
    const radius = Math.hypot((b00 - b11) / 2, b01);
    values = [mid + radius, mid - radius];
    let c = 1;
    let s = 0;
    if (Math.abs(b01) > 1e-300) {
      const x = values[0] - b11;
      const norm = Math.hypot(x, b01);
      c = x / norm;
      s = b01 / norm;
    } else if (b11 > b00) {
      c = 0;
      s = 1;
    }
    const r0 = new Float64Array(d);
    const r1 = new Float64Array(d);
    const rz0 = new Float64Array(d);
    const rz1 = new Float64Array(d);
    for (let i = 0; i < d; i += 1) {
      r0[i] = c * q0[i]! + s * q1[i]!;
      r1[i] = -s * q0[i]! + c * q1[i]!;
      rz0[i] = c * z0[i]! + s * z1[i]!;
      rz1[i] = -s * z0[i]! + c * z1[i]!;
    }
    let residual = 0;
    for (let i = 0; i < d; i += 1) residual += (rz0[i]! - values[0] * r0[i]!) ** 2 + (rz1[i]! - values[1] * r1[i]!) ** 2;
    if (Math.sqrt(residual) <= 1e-10 * Math.max(Math.abs(values[0]), 1e-300) || values[0] <= 0) {
      q0 = r0;
      q1 = r1;
      break;
    }
    q0 = rz0;
    q1 = rz1;
    orthonormalise(q0, q1);
  }
  return { vectors: [q0, q1], values: [Math.max(values[0], 0), Math.max(values[1], 0)] };
}

/** Flips `v` so its largest-magnitude entry (the first of equals) is positive. */
function fixSign(v: Float64Array): void {
  let best = 0;
  for (let i = 1; i < v.length; i += 1) if (Math.abs(v[i]!) > Math.abs(v[best]!)) best = i;
  if (v[best]! < 0) for (let i = 0; i < v.length; i += 1) v[i] = -v[i]!;
}

/**
 * PCA to two dimensions. The rows are centred (float64 mean); the dim x dim covariance is
 * accumulated on tfjs (one [dim, rows] x [rows, dim] matMul per chunk of rows, summed in float64); its two leading
 * eigenvectors come from subspace iteration in float64 (deterministic start); each component's
 * sign is fixed so its largest-magnitude loading is positive, so the map never flips between
 * runs. The coordinates are the centred rows times the components (tfjs matMul).
 */
export function pca(features: Float32Array, n: number, dim: number): PcaResult {
  checkFeatureMatrix('PCA', features, n, dim);
  const coordinates = new Float32Array(n * 2);
  const components = new Float32Array(2 * dim);
  if (n === 0) return { coordinates, components, explainedVariance: [0, 0] };
  const mean = new Float64Array(dim);
  for (let i = 0; i < n; i += 1) for (let t = 0; t < dim; t += 1) mean[t]! += features[i * dim + t]!;
  for (let t = 0; t < dim; t += 1) mean[t]! /= n;
  const meanTensor = tf.tensor1d(Float32Array.from(mean));
  try {
    const chunkRows = Math.max(1, Math.floor(blockFloats / dim));
    // Small chunks for the covariance: their transpose stays in cache.
    const covarianceRows = Math.max(1, Math.floor((1 << 18) / dim));
    const covariance = new Float64Array(dim * dim);
    for (let start = 0; start < n; start += covarianceRows) {
      const count = Math.min(covarianceRows, n - start);
      // Centred and transposed here: tfjs's transpose, and its matMul with transposeA, are slow on wasm.
      const centred = new Float32Array(count * dim);
      const transposed = new Float32Array(count * dim);
      for (let i = 0; i < count; i += 1) {
        for (let t = 0; t < dim; t += 1) {
          const v = features[(start + i) * dim + t]! - mean[t]!;
          centred[i * dim + t] = v;
          transposed[t * count + i] = v;
        }
      }
      const block = tf.tidy(() => tf.matMul(tf.tensor2d(transposed, [dim, count]), tf.tensor2d(centred, [count, dim])));
      const values = block.dataSync();
      block.dispose();
      for (let i = 0; i < values.length; i += 1) covariance[i]! += values[i]!;
    }
    // Symmetrise (float32 blocks are symmetric only up to rounding) and scale.
    for (let r = 0; r < dim; r += 1) {
      for (let c = r; c < dim; c += 1) {
        const v = (covariance[r * dim + c]! + covariance[c * dim + r]!) / 2 / Math.max(n - 1, 1);
        covariance[r * dim + c] = v;
        covariance[c * dim + r] = v;
      }
    }
    let total = 0;
    for (let t = 0; t < dim; t += 1) total += covariance[t * dim + t]!;
    const { vectors, values } = topTwoEigen(covariance, dim);
    for (const v of vectors) fixSign(v);
    components.set(vectors[0], 0);
    components.set(vectors[1], dim);
    const projected = tf.tidy(() => {
      const basis = tf.tensor2d(transposeRows(components, 0, 2, dim), [dim, 2]);
      const parts: tf.Tensor[] = [];
      for (let start = 0; start < n; start += chunkRows) {
        const count = Math.min(chunkRows, n - start);
        parts.push(tf.matMul(tf.sub(tf.tensor2d(features.subarray(start * dim, (start + count) * dim), [count, dim]), meanTensor), basis));
      }
      return parts.length === 1 ? parts[0]! : tf.concat(parts, 0);
    });
    coordinates.set(projected.dataSync());
    projected.dispose();
    const explainedVariance: [number, number] = total > 0 ? [values[0] / total, values[1] / total] : [0, 0];
    return { coordinates, components, explainedVariance };
  } finally {
    meanTensor.dispose();
  }
}

/** PCA coordinates only: n rows of (x, y). See `pca`. */
export function pca2d(features: Float32Array, n: number, dim: number): Float32Array {
  return pca(features, n, dim).coordinates;
}

// ---------------------------------------------------------------------------------------------
// Near-duplicate pairs

export interface NearDuplicatePair {
  /** Row indices, a < b. */
  a: number;
  b: number;
  /** Euclidean distance, or 1 - cos for 'cosine' (float64, from the original rows). */
  distance: number;
}

/** Rows per block of the pair search (a [block, block] score matrix is 4M floats). */
const pairBlock = 2048;

/**
 * Pairs of rows closer than `threshold` (Euclidean distance, or 1 - cos for 'cosine'), the
 * closest `maxPairs` (10,000) of them, sorted by distance (then a, then b). A result of exactly
 * `maxPairs` pairs may have left farther ones out.
 *
 * All pairs are scored on tfjs in [2048, 2048] blocks of the upper triangle (one matMul each:
 * a·b, or 2a·b - ||b||² for 'euclidean'); only the rows of a block whose best score could pass
 * are read back, and every candidate is re-checked in float64, with a margin on the float32
 * filter so no true pair is missed. This is O(n² dim): about a minute for 100,000 x 128 on the
 * wasm backend, under a second for 10,000.
 */
export function nearDuplicatePairs(
  features: Float32Array,
  n: number,
  dim: number,
  threshold: number,
  metric: ProjectionMetric,
  maxPairs = 10_000,
): NearDuplicatePair[] {
  checkFeatureMatrix('Near-duplicate search', features, n, dim);
  if (!(threshold >= 0)) throw new RangeError(`Near-duplicate search: threshold must be >= 0, got ${threshold}.`);
  if (!Number.isInteger(maxPairs) || maxPairs < 0) throw new RangeError(`Near-duplicate search: maxPairs must be a non-negative integer, got ${maxPairs}.`);
  if (n < 2 || threshold === 0 || maxPairs === 0) return [];
  const rows = rowsForMetric(features, n, dim, metric);
  const euclidean = metric === 'euclidean';
  const norms = squaredRowNorms(rows, n, dim);
  const featureNorms = euclidean ? norms : squaredRowNorms(features, n, dim).map(Math.sqrt);
  let maxNorm = 0;
  for (let i = 0; i < n; i += 1) maxNorm = Math.max(maxNorm, norms[i]!);
  // A score beats `need[r]` iff the pair may be closer than the threshold (with a float32 margin).
  const need = new Float32Array(n);
  for (let i = 0; i < n; i += 1) {
    need[i] = euclidean ? norms[i]! - threshold * threshold - 1e-4 * (norms[i]! + maxNorm) - 1e-6 : 1 - threshold - 1e-4;
  }
  let pairs: NearDuplicatePair[] = [];
  let limit = threshold;
  const order = (x: NearDuplicatePair, y: NearDuplicatePair) => x.distance - y.distance || x.a - y.a || x.b - y.b;
  const prune = () => {
    pairs.sort(order);
    if (pairs.length >= maxPairs) {
      pairs = pairs.slice(0, maxPairs);
      limit = Math.min(limit, pairs[maxPairs - 1]!.distance);
    }
  };

  const blocks: { start: number; count: number; rows: tf.Tensor2D; columns: tf.Tensor2D; bias: tf.Tensor1D | null }[] = [];
  let lowerMask: tf.Tensor2D | null = null;
  try {
    for (let start = 0; start < n; start += pairBlock) {
      const count = Math.min(pairBlock, n - start);
      const columns = transposeRows(rows, start, count, dim);
      if (euclidean) for (let i = 0; i < columns.length; i += 1) columns[i]! *= 2;
      blocks.push({
        start,
        count,
        rows: tf.tensor2d(rows.subarray(start * dim, (start + count) * dim), [count, dim]),
        columns: tf.tensor2d(columns, [dim, count]),
        bias: euclidean ? tf.tensor1d(Float32Array.from(norms.subarray(start, start + count), (v) => -v)) : null,
      });
    }
    // -inf on and below the diagonal of a diagonal block: each pair is scored once, never with itself.
    const size = Math.min(pairBlock, n);
    const mask = new Float32Array(size * size);
    for (let r = 0; r < size; r += 1) for (let c = 0; c <= r; c += 1) mask[r * size + c] = -Infinity;
    lowerMask = tf.tensor2d(mask, [size, size]);

    for (const row of blocks) {
      const rowNeed = need.subarray(row.start, row.start + row.count);
      for (const column of blocks) {
        if (column.start < row.start) continue;
        const diagonal = column.start === row.start;
        const scores = tf.tidy(() => {
          let s = (column.bias ? tf.fused.matMul({ a: row.rows, b: column.columns, bias: column.bias }) : tf.matMul(row.rows, column.columns)) as tf.Tensor2D;
          if (diagonal) s = tf.add(s, lowerMask!.slice([0, 0], [row.count, column.count])) as tf.Tensor2D;
          return s;
        });
        try {
          const best = tf.tidy(() => tf.max(scores, 1));
          const bestValues = best.dataSync();
          best.dispose();
          const hits: number[] = [];
          for (let r = 0; r < row.count; r += 1) if (bestValues[r]! > rowNeed[r]!) hits.push(r);
          if (!hits.length) continue;
          const picked = tf.tidy(() => tf.gather(scores, tf.tensor1d(hits, 'int32')));
          const values = picked.dataSync();
          picked.dispose();
          hits.forEach((r, h) => {
            const a = row.start + r;
            for (let c = 0; c < column.count; c += 1) {
              if (!(values[h * column.count + c]! > rowNeed[r]!)) continue;
              const b = column.start + c;
              const distance = exactDistance(features, a, b, dim, metric, featureNorms);
              if (distance < limit || (distance === limit && distance < threshold)) pairs.push({ a, b, distance });
            }
          });
          if (pairs.length >= 2 * maxPairs) prune();
        } finally {
          scores.dispose();
        }
      }
    }
  } finally {
    for (const block of blocks) tf.dispose([block.rows, block.columns, ...(block.bias ? [block.bias] : [])]);
    lowerMask?.dispose();
  }
  prune();
  return pairs;
}

// ---------------------------------------------------------------------------------------------
// Outliers

export interface OutlierScores {
  /** Each point's z-score: (distance - mean) / standard deviation, within its cluster when clusters are given. */
  scores: Float32Array;
  /** 1 for an outlier: z-score above `zThreshold`. */
  outliers: Uint8Array;
  /** How many outliers. */
  count: number;
}

/**
 * Outliers among points by their distance to their own cluster centre (k-means `distances`):
 * each distance becomes a z-score against the mean and (population) standard deviation of the
 * distances in the same cluster (all points when `assignments` is left out), and a point is an
 * outlier when its z-score is above `zThreshold` (3: beyond mean + 3 sd). Clusters with fewer
 * than 3 points, or no spread, give z = 0 (no outliers).
 */
export function outlierScores(distances: Float32Array, assignments?: ArrayLike<number>, options: { zThreshold?: number } = {}): OutlierScores {
  const n = distances.length;
  if (assignments && assignments.length !== n) {
    throw new RangeError(`outlierScores: ${n} distances but ${assignments.length} assignments.`);
  }
  const zThreshold = options.zThreshold ?? 3;
  const groupOf = (i: number) => (assignments ? assignments[i]! : 0);
  const stats = new Map<number, { count: number; sum: number; squares: number }>();
  for (let i = 0; i < n; i += 1) {
    const group = groupOf(i);
    const entry = stats.get(group) ?? { count: 0, sum: 0, squares: 0 };
    entry.count += 1;
    entry.sum += distances[i]!;
    stats.set(group, entry);
  }
  for (let i = 0; i < n; i += 1) {
    const entry = stats.get(groupOf(i))!;
    entry.squares += (distances[i]! - entry.sum / entry.count) ** 2;
  }
  const scores = new Float32Array(n);
  const outliers = new Uint8Array(n);
  let count = 0;
  for (let i = 0; i < n; i += 1) {
    const { count: size, sum, squares } = stats.get(groupOf(i))!;
    const sd = Math.sqrt(squares / size);
    const z = size >= 3 && sd > 1e-12 * Math.max(1, Math.abs(sum / size)) ? (distances[i]! - sum / size) / sd : 0;
    scores[i] = z;
    if (z > zThreshold) {
      outliers[i] = 1;
      count += 1;
    }
  }
  return { scores, outliers, count };
}

// ---------------------------------------------------------------------------------------------
// UMAP

export interface Umap2dOptions {
  seed: number;
  /** After each epoch (and once with 0 before the first); 'stop' ends the run with the layout so far. */
  onEpoch?(epoch: number, total: number): void | 'stop';
  /** Neighbours per point, the point itself included (15); at most n - 1. */
  nNeighbors?: number;
  /** 'cosine' (default: backbone features are compared by angle) or 'euclidean'. */
  metric?: ProjectionMetric;
  /** Optimisation epochs (umap-js picks 500 up to 2,500 points, down to 200 above 7,500). */
  nEpochs?: number;
  /** How tightly points may pack (umap-js's 0.1). */
  minDist?: number;
  /** Up to this many points the neighbours are exact, from tfjs matMuls (20,000); above it umap-js's own approximate NN-descent. */
  exactNeighborsUpTo?: number;
}

/**
 * Exact k nearest neighbours (the point itself first, at distance 0) of every row on tfjs: one
 * [rows, n] score block per chunk of rows and tf.topk. Distances are Euclidean or 1 - cos.
 */
function exactNeighbors(rows: Float32Array, n: number, dim: number, k: number, metric: ProjectionMetric): { indices: number[][]; distances: number[][] } {
  const euclidean = metric === 'euclidean';
  const norms = squaredRowNorms(rows, n, dim);
  const indices: number[][] = [];
  const distances: number[][] = [];
  const columns = transposeRows(rows, 0, n, dim);
  if (euclidean) for (let i = 0; i < columns.length; i += 1) columns[i]! *= 2;
  const all = tf.tensor2d(columns, [dim, n]);
  const bias = euclidean ? tf.tensor1d(Float32Array.from(norms, (v) => -v)) : null;
  try {
    const chunkRows = Math.max(1, Math.floor(blockFloats / n));
    for (let start = 0; start < n; start += chunkRows) {
      const count = Math.min(chunkRows, n - start);
      const [values, found] = tf.tidy(() => {
        const block = tf.tensor2d(rows.subarray(start * dim, (start + count) * dim), [count, dim]);
        const scores = bias ? tf.fused.matMul({ a: block, b: all, bias }) : tf.matMul(block, all);
        const top = tf.topk(scores, k);
        return [top.values, top.indices];
      });
      const v = values.dataSync();
      const f = found.dataSync();
      tf.dispose([values, found]);
      for (let r = 0; r < count; r += 1) {
        const self = start + r;
        const ids = [self];
        const ds = [0];
        for (let j = 0; j < k && ids.length < k; j += 1) {
          const other = f[r * k + j]!;
          if (other === self) continue;
          ids.push(other);
          ds.push(euclidean ? Math.sqrt(Math.max(0, norms[self]! - v[r * k + j]!)) : Math.max(0, 1 - v[r * k + j]!));
        }
        indices.push(ids);
        distances.push(ds);
      }
    }
  } finally {
    all.dispose();
    bias?.dispose();
  }
  return { indices, distances };
}

/** Lets other work run (progress messages, a cancel) between epochs. */
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * UMAP to two dimensions with umap-js, deterministic for a seed: umap-js draws every random
 * number from the `random` function it is given, here our seeded `Rng`. Up to
 * `exactNeighborsUpTo` points the k-nearest-neighbour graph is exact (tfjs); above it umap-js
 * builds it with NN-descent (also seeded). The layout is optimised epoch by epoch (umap-js's
 * `initializeFit` + `step()`), reporting each epoch to `onEpoch` and yielding to the event loop
 * about every 50 ms so a cancel can arrive; 'stop' returns the layout so far. With 3 points or
 * fewer there is nothing to lay out and the PCA coordinates are returned.
 */
export async function umap2d(features: Float32Array, n: number, dim: number, options: Umap2dOptions): Promise<Float32Array> {
  checkFeatureMatrix('UMAP', features, n, dim);
  if (n <= 3) return pca2d(features, n, dim);
  const metric = options.metric ?? 'cosine';
  const nNeighbors = Math.max(2, Math.min(options.nNeighbors ?? 15, n - 1));
  const rng = new Rng(options.seed);
  const umap = new UMAP({
    nComponents: 2,
    nNeighbors,
    random: () => rng.next(),
    ...(options.nEpochs !== undefined ? { nEpochs: options.nEpochs } : {}),
    ...(options.minDist !== undefined ? { minDist: options.minDist } : {}),
    ...(metric === 'cosine' ? { distanceFn: cosineDistance } : {}),
  });
  const rows = rowsForMetric(features, n, dim, metric);
  const data: number[][] = [];
  for (let i = 0; i < n; i += 1) data.push(Array.from(rows.subarray(i * dim, (i + 1) * dim)));
  if (n <= (options.exactNeighborsUpTo ?? 20_000)) {
    const { indices, distances } = exactNeighbors(rows, n, dim, nNeighbors, metric);
    umap.setPrecomputedKNN(indices, distances);
  }
  const total = umap.initializeFit(data);
  if (options.onEpoch?.(0, total) !== 'stop') {
    let lastYield = performance.now();
    for (let epoch = 1; epoch <= total; epoch += 1) {
      umap.step();
      if (options.onEpoch?.(epoch, total) === 'stop') break;
      if (performance.now() - lastYield > 50) {
        await yieldToEventLoop();
        lastYield = performance.now();
      }
    }
  }
  const embedding = umap.getEmbedding();
  const out = new Float32Array(n * 2);
  for (let i = 0; i < n; i += 1) {
    out[i * 2] = embedding[i]![0]!;
    out[i * 2 + 1] = embedding[i]![1]!;
  }
  return out;
}

/** 1 - cos of two rows that are already unit length. */
function cosineDistance(x: number[], y: number[]): number {
  let dot = 0;
  for (let i = 0; i < x.length; i += 1) dot += x[i]! * y[i]!;
  return Math.max(0, 1 - dot);
}

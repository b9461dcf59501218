import { Rng } from '../../data/rng';
import { checkFeatureMatrix, rowsForMetric, squaredRowNorms, type FeatureMetric } from './feature-matrix';
import * as tf from '../backend/tfjs';

/**
 * k-means over backbone features (issue 6, "clusters and embedding map").
 *
 * - Seeding: greedy k-means++ (scikit-learn's default): each new seed is the best of
 *   2 + floor(ln k) candidates drawn by D² sampling, every draw from our seeded `Rng`, so a seed
 *   fixes the result. (Plain k-means++ often puts two seeds in one of a few well-separated
 *   blobs.) When there are more than `kmeansSeedingSample` (20,000) points, the seeds are chosen
 *   among a deterministic random sample of that many (the first 20,000 of a seeded permutation):
 *   seeding costs k x (2 + ln k) passes over the points it seeds on, and 20,000 points already
 *   cover every cluster big enough to matter. The candidates' distances are one matMul on tfjs.
 * - Lloyd iterations: each iteration moves every centre to the mean of its points, then assigns
 *   every point to its nearest centre. The assignment (the O(n·k·dim) part) runs on tfjs as one
 *   fused matMul per chunk of rows: argmin over centres of ||c||² - 2 x·c (||x||² is the same
 *   for every centre), with the rows chunked so the [rows, k] block stays near 4M floats. The
 *   centre update is JavaScript over per-cluster float64 sums that only the rows that changed
 *   cluster update (O(changed·dim), a few % of the rows after the first iterations): tfjs's
 *   unsortedSegmentSum is k masked passes over the data on cpu and absent on wasm, and a
 *   one-hot matMul would cost as much as the assignment itself.
 * - Empty clusters (a centre that lost all its points) are re-seeded with the point farthest
 *   from its own centre (ties: the lowest index), which then leaves its old cluster, as
 *   scikit-learn does.
 * - 'cosine' is spherical k-means: the rows are L2-normalised, every centre is re-normalised
 *   after each update, and the distance is 1 - cos. 'euclidean' is plain k-means; its
 *   `inertia` is the sum of squared distances (as scikit-learn's) and its `distances` are the
 *   (unsquared) Euclidean distances.
 * - Stopping: after `maxIterations` (50), when no assignment changed, when the centres moved
 *   less than `tolerance` (1e-4) x the mean per-dimension variance of the data in total squared
 *   shift (scikit-learn's rule; 0 turns it off), or when `onIteration` returns 'stop'.
 *
 * `kmeansNaive` is the same algorithm (same draws, same update, same stopping) with every
 * distance as a plain JavaScript triple loop: the benchmark's baseline and the tests' reference.
 * The two give the same result up to float ties (tfjs computes in float32).
 */

export type KmeansMetric = FeatureMetric;

export interface KmeansOptions {
  k: number;
  seed: number;
  metric: KmeansMetric;
  /** Lloyd iterations at most (50); 0 assigns the points to the k-means++ seeds and stops. */
  maxIterations?: number;
  /** Relative tolerance on the centres' total squared shift (1e-4); 0 runs until no point moves. */
  tolerance?: number;
  /** Called after each iteration with the inertia of its assignment; 'stop' ends the run there. */
  onIteration?(iteration: number, inertia: number): void | 'stop';
}

export interface KmeansResult {
  /** The cluster of each point, 0..k-1. */
  assignments: Int32Array;
  /** k rows of `dim`: the centres (unit length for 'cosine'). */
  centroids: Float32Array;
  /** Each point's distance to its centre: Euclidean distance, or 1 - cos for 'cosine'. */
  distances: Float32Array;
  /** Sum over points of the squared Euclidean distance (or of 1 - cos) to their centre. */
  inertia: number;
  /** Lloyd iterations run. */
  iterations: number;
  /** True when it stopped because nothing moved (or moved less than the tolerance). */
  converged: boolean;
}

/** Points k-means++ seeds on at most; above it, a seeded sample of this many. */
export const kmeansSeedingSample = 20_000;

/** Floats in one [rows, k] block of the tfjs assignment (the rows are chunked to fit). */
const blockFloats = 1 << 22;

/** A default k for n points: round(sqrt(n / 2)) clamped to [2, 50], and never more than n. */
export function suggestK(n: number): number {
  const count = Math.max(0, Math.floor(n));
  return Math.min(count, Math.max(2, Math.min(50, Math.round(Math.sqrt(count / 2)))));
}

function validate(features: Float32Array, n: number, dim: number, options: KmeansOptions): void {
  checkFeatureMatrix('k-means', features, n, dim);
  const { k } = options;
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`k-means: k must be a positive integer, got ${k}.`);
  if (k > n) throw new RangeError(`k-means: k = ${k} is more than the number of points (${n}); choose k <= ${n}.`);
  if (options.metric !== 'cosine' && options.metric !== 'euclidean') {
    throw new RangeError(`k-means: metric must be 'cosine' or 'euclidean', got ${String(options.metric)}.`);
  }
  const maxIterations = options.maxIterations ?? 50;
  if (!Number.isInteger(maxIterations) || maxIterations < 0) {
    throw new RangeError(`k-means: maxIterations must be a non-negative integer, got ${maxIterations}.`);
  }
  const tolerance = options.tolerance ?? 1e-4;
  if (!(tolerance >= 0)) throw new RangeError(`k-means: tolerance must be >= 0, got ${tolerance}.`);
}

/** Squared Euclidean distance (or 1 - dot for 'cosine') between row `i` of `a` and row `j` of `b`, in float64. */
function pairDistance(a: Float32Array, i: number, b: Float32Array, j: number, dim: number, metric: KmeansMetric): number {
  const ao = i * dim;
  const bo = j * dim;
  let sum = 0;
  if (metric === 'euclidean') {
    for (let t = 0; t < dim; t += 1) {
      const diff = a[ao + t]! - b[bo + t]!;
      sum += diff * diff;
    }
    return sum;
  }
  for (let t = 0; t < dim; t += 1) sum += a[ao + t]! * b[bo + t]!;
  return Math.max(0, 1 - sum);
}

/**
 * The distance work of k-means, done either on tfjs or in plain JavaScript. Distances are
 * squared Euclidean, or 1 - cos on unit rows.
 */
interface Backend {
  /** Holds the rows for the Lloyd iterations. */
  assigner(rows: Float32Array, n: number): Assigner;
  /** Holds the seeding sample. */
  seeder(sample: Float32Array, count: number): Seeder;
}

interface Assigner {
  /** Each row's nearest of the k centres (the first on a tie) into `labels`, its distance into `nearest`. */
  assign(centroids: Float32Array, k: number, labels: Int32Array, nearest: Float32Array): void;
  dispose(): void;
}

interface Seeder {
  /** The distance of every sample row to each of m centres, centre-major: [m, count]. */
  distances(centres: Float32Array, m: number): ArrayLike<number>;
  dispose(): void;
}

/** First index whose cumulative weight exceeds `target` (the last index if none does). */
function searchCumulative(cumulative: Float64Array, target: number): number {
  let lo = 0;
  let hi = cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cumulative[mid]! > target) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * Greedy k-means++ (scikit-learn's): each new seed is the best, by the resulting total distance,
 * of 2 + floor(ln k) candidates drawn with probability proportional to the distance to the
 * nearest seed so far. `seeder` holds the `count` sample rows (`sample`, row-major).
 */
function greedyKmeansPlusPlus(sample: Float32Array, count: number, dim: number, k: number, seeder: Seeder, rng: Rng): Float32Array {
  const trials = 2 + Math.floor(Math.log(k));
  const centroids = new Float32Array(k * dim);
  const rowOf = (i: number) => sample.subarray(i * dim, (i + 1) * dim);
  const first = rng.int(count);
  centroids.set(rowOf(first), 0);
  const closest = Float64Array.from(seeder.distances(rowOf(first), 1));
  const cumulative = new Float64Array(count);
  const candidates = new Int32Array(trials);
  const candidateRows = new Float32Array(trials * dim);
  for (let c = 1; c < k; c += 1) {
    let potential = 0;
    for (let i = 0; i < count; i += 1) {
      potential += closest[i]!;
      cumulative[i] = potential;
    }
    for (let t = 0; t < trials; t += 1) {
      candidates[t] = searchCumulative(cumulative, rng.next() * potential);
      candidateRows.set(rowOf(candidates[t]!), t * dim);
    }
    const distances = seeder.distances(candidateRows, trials);
    let best = 0;
    let bestPotential = Infinity;
    for (let t = 0; t < trials; t += 1) {
      let total = 0;
      const o = t * count;
      for (let i = 0; i < count; i += 1) total += Math.min(closest[i]!, distances[o + i]!);
      if (total < bestPotential) {
        bestPotential = total;
        best = t;
      }
    }
    const o = best * count;
    for (let i = 0; i < count; i += 1) closest[i] = Math.min(closest[i]!, distances[o + i]!);
    centroids.set(rowOf(candidates[best]!), c * dim);
  }
  return centroids;
}

function meanVariance(rows: Float32Array, n: number, dim: number): number {
  const mean = new Float64Array(dim);
  const squares = new Float64Array(dim);
  for (let i = 0; i < n; i += 1) {
    for (let t = 0; t < dim; t += 1) {
      const v = rows[i * dim + t]!;
      mean[t]! += v;
      squares[t]! += v * v;
    }
  }
  let total = 0;
  for (let t = 0; t < dim; t += 1) total += Math.max(0, squares[t]! / n - (mean[t]! / n) ** 2);
  return total / dim;
}

/**
 * Per-cluster sums (float64) and counts of the rows, kept up to date by moving only the rows
 * that changed cluster: after the first few iterations few do, so an update costs far less
 * than a pass over all rows.
 */
class ClusterSums {
  readonly sums: Float64Array;
  readonly counts: Int32Array;

  constructor(
    private readonly rows: Float32Array,
    private readonly dim: number,
    k: number,
    labels: Int32Array,
  ) {
    this.sums = new Float64Array(k * dim);
    this.counts = new Int32Array(k);
    for (let i = 0; i < labels.length; i += 1) this.add(i, labels[i]!, 1);
  }

  private add(i: number, c: number, sign: 1 | -1): void {
    const { rows, dim, sums } = this;
    this.counts[c]! += sign;
    const so = c * dim;
    const ro = i * dim;
    for (let t = 0; t < dim; t += 1) sums[so + t]! += sign * rows[ro + t]!;
  }

  /** Row `i` leaves cluster `from` for cluster `to`. */
  move(i: number, from: number, to: number): void {
    this.add(i, from, -1);
    this.add(i, to, 1);
  }
}

/**
 * Moves each centre to the mean of its rows; an empty cluster first takes the row farthest from
 * its centre (which leaves its old cluster: `labels` and `sums` change). Returns the total
 * squared shift of the centres.
 */
function updateCentroids(sums: ClusterSums, dim: number, metric: KmeansMetric, labels: Int32Array, nearest: Float32Array, centroids: Float32Array): number {
  const { counts } = sums;
  const k = counts.length;
  let taken: Uint8Array | undefined;
  for (let c = 0; c < k; c += 1) {
    if (counts[c] !== 0) continue;
    taken ??= new Uint8Array(labels.length);
    let far = -1;
    for (let i = 0; i < labels.length; i += 1) if (!taken[i] && (far < 0 || nearest[i]! > nearest[far]!)) far = i;
    if (far < 0) break;
    taken[far] = 1;
    sums.move(far, labels[far]!, c);
    labels[far] = c;
  }
  let shift = 0;
  const centre = new Float64Array(dim);
  for (let c = 0; c < k; c += 1) {
    const count = counts[c]!;
    if (count === 0) continue; // lost its only row to an empty cluster: keep the old centre
    let norm = 0;
    for (let t = 0; t < dim; t += 1) {
      centre[t] = sums.sums[c * dim + t]! / count;
      norm += centre[t]! * centre[t]!;
    }
    if (metric === 'cosine') {
      norm = Math.sqrt(norm);
      if (!(norm > 0)) continue; // opposite rows cancelled out: keep the old centre
      for (let t = 0; t < dim; t += 1) centre[t]! /= norm;
    }
    for (let t = 0; t < dim; t += 1) {
      const next = Math.fround(centre[t]!);
      shift += (next - centroids[c * dim + t]!) ** 2;
      centroids[c * dim + t] = next;
    }
  }
  return shift;
}

/** Seeding, Lloyd iterations and the final distances, the distance work done by `backend`. */
function run(features: Float32Array, n: number, dim: number, options: KmeansOptions, makeBackend: (dim: number, metric: KmeansMetric) => Backend): KmeansResult {
  validate(features, n, dim, options);
  const { k, metric } = options;
  const rows = rowsForMetric(features, n, dim, metric);
  const maxIterations = options.maxIterations ?? 50;
  const tolerance = options.tolerance ?? 1e-4;
  const threshold = tolerance > 0 ? tolerance * meanVariance(rows, n, dim) : 0;
  const rng = new Rng(options.seed);
  const backend = makeBackend(dim, metric);

  // Seeding, on a seeded sample when there are many points.
  const sampleSize = Math.min(n, Math.max(kmeansSeedingSample, k));
  let sample = rows;
  if (sampleSize < n) {
    const picked = rng.permutation(n).subarray(0, sampleSize).sort();
    sample = new Float32Array(sampleSize * dim);
    for (let s = 0; s < sampleSize; s += 1) sample.set(rows.subarray(picked[s]! * dim, (picked[s]! + 1) * dim), s * dim);
  }
  const seeder = backend.seeder(sample, sampleSize);
  let centroids: Float32Array;
  try {
    centroids = greedyKmeansPlusPlus(sample, sampleSize, dim, k, seeder, rng);
  } finally {
    seeder.dispose();
  }

  const engine = backend.assigner(rows, n);
  try {

    let labels = new Int32Array(n);
    let next = new Int32Array(n);
    const nearest = new Float32Array(n);
    engine.assign(centroids, k, labels, nearest);
    const sums = new ClusterSums(rows, dim, k, labels);
    let iterations = 0;
    let converged = false;
    while (iterations < maxIterations) {
      iterations += 1;
      const shift = updateCentroids(sums, dim, metric, labels, nearest, centroids);
      engine.assign(centroids, k, next, nearest);
      let changed = 0;
      for (let i = 0; i < n; i += 1) {
        if (next[i] === labels[i]) continue;
        changed += 1;
        sums.move(i, labels[i]!, next[i]!);
      }
      [labels, next] = [next, labels];
      let inertia = 0;
      for (let i = 0; i < n; i += 1) inertia += nearest[i]!;
      converged = changed === 0 || shift <= threshold;
      if (options.onIteration?.(iterations, inertia) === 'stop' || converged) break;
    }

    const distances = new Float32Array(n);
    let inertia = 0;
    for (let i = 0; i < n; i += 1) {
      const d = pairDistance(rows, i, centroids, labels[i]!, dim, metric);
      inertia += d;
      distances[i] = metric === 'euclidean' ? Math.sqrt(d) : d;
    }
    return { assignments: labels, centroids, distances, inertia, iterations, converged };
  } finally {
    engine.dispose();
  }
}

/**
 * The assignment on tfjs: the rows live as tensors (chunks of rows such that a [rows, k] block
 * is at most `blockFloats`) for the whole run; each call uploads one [dim, k] weight matrix
 * (already transposed: wasm's matMul is several times slower with transposeB) and, for
 * 'euclidean', a bias: ||c||² - 2 x·c is one fused matMul, ||x||² is added back in JavaScript.
 */
class TfAssigner implements Assigner {
  private readonly chunks: { start: number; rows: tf.Tensor2D }[] = [];
  private readonly squaredNorms: Float64Array | null;

  constructor(
    rows: Float32Array,
    n: number,
    private readonly dim: number,
    private readonly metric: KmeansMetric,
    k: number,
  ) {
    const chunkRows = Math.max(1, Math.floor(blockFloats / Math.max(k, dim)));
    try {
      for (let start = 0; start < n; start += chunkRows) {
        const count = Math.min(chunkRows, n - start);
        this.chunks.push({ start, rows: tf.tensor2d(rows.subarray(start * dim, (start + count) * dim), [count, dim]) });
      }
    } catch (error) {
      this.dispose();
      throw error;
    }
    this.squaredNorms = metric === 'euclidean' ? squaredRowNorms(rows, n, dim) : null;
  }

  assign(centroids: Float32Array, k: number, labels: Int32Array, nearest: Float32Array): void {
    const { dim, squaredNorms: norms } = this;
    const euclidean = this.metric === 'euclidean';
    const weights = new Float32Array(dim * k);
    const bias = new Float32Array(k);
    for (let c = 0; c < k; c += 1) {
      let norm = 0;
      for (let t = 0; t < dim; t += 1) {
        const v = centroids[c * dim + t]!;
        weights[t * k + c] = euclidean ? -2 * v : v;
        norm += v * v;
      }
      bias[c] = norm;
    }
    const w = tf.tensor2d(weights, [dim, k]);
    const b = euclidean ? tf.tensor1d(bias) : null;
    try {
      for (const { start, rows } of this.chunks) {
        const [index, value] = tf.tidy(() => {
          if (!b) {
            const scores = tf.matMul(rows, w);
            return [tf.argMax(scores, 1), tf.max(scores, 1)];
          }
          const scores = tf.fused.matMul({ a: rows, b: w, bias: b });
          return [tf.argMin(scores, 1), tf.min(scores, 1)];
        });
        try {
          labels.set(index.dataSync() as Int32Array, start);
          const values = value.dataSync();
          for (let i = 0; i < values.length; i += 1) {
            nearest[start + i] = Math.max(0, norms ? norms[start + i]! + values[i]! : 1 - values[i]!);
          }
        } finally {
          index.dispose();
          value.dispose();
        }
      }
    } finally {
      w.dispose();
      b?.dispose();
    }
  }

  dispose(): void {
    for (const { rows } of this.chunks) rows.dispose();
    this.chunks.length = 0;
  }
}

/**
 * Seeding distances on tfjs: the sample lives transposed, [dim, count], so each call is one
 * [m, dim] x [dim, count] matMul whose packed right-hand side the backend can reuse, with
 * ||x||² as the bias for 'euclidean' (||c||² is added in JavaScript).
 */
class TfSeeder implements Seeder {
  private readonly transposed: tf.Tensor2D;
  private readonly bias: tf.Tensor1D | null = null;

  constructor(
    sample: Float32Array,
    private readonly count: number,
    private readonly dim: number,
    private readonly metric: KmeansMetric,
  ) {
    const transposed = new Float32Array(count * dim);
    for (let i = 0; i < count; i += 1) for (let t = 0; t < dim; t += 1) transposed[t * count + i] = sample[i * dim + t]!;
    const bias = metric === 'euclidean' ? Float32Array.from(squaredRowNorms(sample, count, dim)) : null;
    this.transposed = tf.tensor2d(transposed, [dim, count]);
    if (bias) this.bias = tf.tensor1d(bias);
  }

  distances(centres: Float32Array, m: number): Float32Array {
    const { count, dim } = this;
    const euclidean = this.metric === 'euclidean';
    const scores = tf.tidy(() => {
      const c = tf.tensor2d(centres.subarray(0, m * dim), [m, dim]);
      return this.bias ? tf.fused.matMul({ a: tf.mul(c, -2), b: this.transposed, bias: this.bias }) : tf.matMul(c, this.transposed);
    });
    const out = new Float32Array(scores.dataSync());
    scores.dispose();
    for (let c = 0; c < m; c += 1) {
      let norm = 0;
      if (euclidean) for (let t = 0; t < dim; t += 1) norm += centres[c * dim + t]! * centres[c * dim + t]!;
      for (let i = c * count; i < (c + 1) * count; i += 1) out[i] = Math.max(0, euclidean ? out[i]! + norm : 1 - out[i]!);
    }
    return out;
  }

  dispose(): void {
    this.transposed.dispose();
    this.bias?.dispose();
  }
}

/** Distances as plain JavaScript loops (float64 sums): the naive baseline. */
class JsBackend implements Backend {
  constructor(
    private readonly dim: number,
    private readonly metric: KmeansMetric,
  ) {}

  assigner(rows: Float32Array, n: number): Assigner {
    const { dim, metric } = this;
    return {
      assign(centroids: Float32Array, k: number, labels: Int32Array, nearest: Float32Array): void {
        for (let i = 0; i < n; i += 1) {
          let best = Infinity;
          let bestC = 0;
          for (let c = 0; c < k; c += 1) {
            const d = pairDistance(rows, i, centroids, c, dim, metric);
            if (d < best) {
              best = d;
              bestC = c;
            }
          }
          labels[i] = bestC;
          nearest[i] = best;
        }
      },
      dispose() {},
    };
  }

  seeder(sample: Float32Array, count: number): Seeder {
    const { dim, metric } = this;
    return {
      distances(centres: Float32Array, m: number): Float64Array {
        const out = new Float64Array(m * count);
        for (let c = 0; c < m; c += 1) for (let i = 0; i < count; i += 1) out[c * count + i] = pairDistance(sample, i, centres, c, dim, metric);
        return out;
      },
      dispose() {},
    };
  }
}

/**
 * k-means of `n` rows of `dim` features (row-major) into `options.k` clusters, the distance
 * work on the current tfjs backend. Synchronous; every tensor it makes is disposed, also when
 * it throws (or `onIteration` throws). Throws a RangeError for k > n, non-finite features or a
 * size mismatch.
 */
export function kmeans(features: Float32Array, n: number, dim: number, options: KmeansOptions): KmeansResult {
  return run(features, n, dim, options, (d, metric) => ({
    assigner: (rows, count) => new TfAssigner(rows, count, d, metric, options.k),
    seeder: (sample, count) => new TfSeeder(sample, count, d, metric),
  }));
}

/**
 * The same k-means with every distance as a plain JavaScript triple loop (float64 sums): same
 * seeds, same updates, so the same result as `kmeans` up to float ties. The benchmark baseline.
 */
export function kmeansNaive(features: Float32Array, n: number, dim: number, options: KmeansOptions): KmeansResult {
  return run(features, n, dim, options, (d, metric) => new JsBackend(d, metric));
}

/**
 * A feature matrix: n rows of dim float32 features, row-major, as extractFeatures returns them.
 * k-means, the projections (PCA, near duplicates, UMAP) and the linear probe all read one; the
 * checks and row operations they share live here.
 */

/** The distance the rows are compared by. */
export type FeatureMetric = 'cosine' | 'euclidean';

/**
 * Throws a RangeError naming `what` unless `features` holds n x dim finite numbers (n >= 0,
 * dim >= 1 integers): a NaN from a diverged backbone is caught here, not as a strange result.
 */
export function checkFeatureMatrix(what: string, features: Float32Array, n: number, dim: number): void {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`${what}: n must be a non-negative integer, got ${n}.`);
  if (!Number.isInteger(dim) || dim < 1) throw new RangeError(`${what}: dim must be a positive integer, got ${dim}.`);
  if (features.length !== n * dim) {
    throw new RangeError(`${what}: expected n x dim = ${n} x ${dim} = ${n * dim} features, got ${features.length}.`);
  }
  for (let i = 0; i < features.length; i += 1) {
    const value = features[i]!;
    if (!Number.isFinite(value)) {
      throw new RangeError(
        `${what}: the features hold ${value} at row ${Math.floor(i / dim)}, column ${i % dim}; every feature must be a finite number.`,
      );
    }
  }
}

/** An L2-normalised copy of the rows (a zero row stays zero). */
export function l2NormalizedRows(features: Float32Array, n: number, dim: number): Float32Array {
  const out = new Float32Array(features.length);
  for (let i = 0; i < n; i += 1) {
    const o = i * dim;
    let norm = 0;
    for (let t = 0; t < dim; t += 1) norm += features[o + t]! * features[o + t]!;
    norm = Math.sqrt(norm);
    if (norm > 0) for (let t = 0; t < dim; t += 1) out[o + t] = features[o + t]! / norm;
  }
  return out;
}

/** The rows as the metric sees them: the features for 'euclidean', an L2-normalised copy for 'cosine'. */
export function rowsForMetric(features: Float32Array, n: number, dim: number, metric: FeatureMetric): Float32Array {
  return metric === 'euclidean' ? features : l2NormalizedRows(features, n, dim);
}

/** Squared norms of the first `count` rows, in float64. */
export function squaredRowNorms(rows: Float32Array, count: number, dim: number): Float64Array {
  const out = new Float64Array(count);
  for (let i = 0; i < count; i += 1) {
    let sum = 0;
    for (let t = 0; t < dim; t += 1) sum += rows[i * dim + t]! * rows[i * dim + t]!;
    out[i] = sum;
  }
  return out;
}

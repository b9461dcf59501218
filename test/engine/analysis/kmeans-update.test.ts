import { describe, expect, it } from 'vitest';
import { Rng } from '../../../main/data/rng';
import { ClusterSums, kmeansNaive, updateCentroids, type KmeansMetric, type KmeansOptions } from '../../../main/engine/analysis/kmeans';

/**
 * The k-means update on its own (issue 16, mutation testing of the training core): the centroid
 * update on hand-made cases (empty clusters re-seeded with the farthest row not yet taken, a
 * cluster that lost its only row, unit-length 'cosine' centres, the shift), and the Lloyd loop
 * of `kmeansNaive` against a naive re-implementation of the documented algorithm from the same
 * seeds (every assignment, centre, iteration count and stopping reason). Plain JavaScript, no
 * tfjs backend: it runs in about a second, so `npm run test:mutation -- kmeans-update` can run
 * it once per mutant.
 */

/** Squared Euclidean distance, or 1 - dot for 'cosine' (unit rows), in float64. */
function distance(a: ArrayLike<number>, b: ArrayLike<number>, metric: KmeansMetric): number {
  let sum = 0;
  for (let t = 0; t < a.length; t += 1) sum += metric === 'euclidean' ? (a[t]! - b[t]!) ** 2 : a[t]! * b[t]!;
  return metric === 'euclidean' ? sum : Math.max(0, 1 - sum);
}

const rowsOf = (flat: ArrayLike<number>, dim: number) => Array.from({ length: flat.length / dim }, (_, i) => Array.from(flat).slice(i * dim, (i + 1) * dim));

/** The nearest centre of each row (the first on a tie) and its float32 distance. */
function assign(rows: number[][], centres: number[][], metric: KmeansMetric): { labels: number[]; nearest: number[] } {
  const labels: number[] = [];
  const nearest: number[] = [];
  for (const row of rows) {
    let best = Infinity;
    let bestC = 0;
    centres.forEach((centre, c) => {
      const d = distance(row, centre, metric);
      if (d < best) {
        best = d;
        bestC = c;
      }
    });
    labels.push(bestC);
    nearest.push(Math.fround(best));
  }
  return { labels, nearest };
}

/**
 * The documented update, written out: empty clusters in order take the farthest row not taken
 * yet (ties: the lowest index), then every centre with rows moves to their mean (unit length for
 * 'cosine'); a centre without rows, or with a zero 'cosine' mean, stays. Returns the shift.
 */
let reseeded = 0;
function referenceUpdate(rows: number[][], labels: number[], nearest: number[], centres: number[][], metric: KmeansMetric): number {
  const k = centres.length;
  const taken = new Set<number>();
  for (let c = 0; c < k; c += 1) {
    if (labels.some((label) => label === c)) continue;
    let far = -1;
    for (let i = 0; i < rows.length; i += 1) if (!taken.has(i) && (far < 0 || nearest[i]! > nearest[far]!)) far = i;
    taken.add(far);
    labels[far] = c;
    reseeded += 1;
  }
  let shift = 0;
  for (let c = 0; c < k; c += 1) {
    const members = rows.filter((_, i) => labels[i] === c);
    if (members.length === 0) continue;
    const mean = centres[c]!.map((_, t) => members.reduce((sum, row) => sum + row[t]!, 0) / members.length);
    const length = Math.hypot(...mean);
    if (metric === 'cosine' && length === 0) continue;
    const next = mean.map((v) => Math.fround(metric === 'cosine' ? v / length : v));
    next.forEach((v, t) => (shift += (v - centres[c]![t]!) ** 2));
    centres[c] = next;
  }
  return shift;
}

/** Lloyd's iterations from the given seeds, as documented in main/engine/analysis/kmeans.ts. */
function referenceLloyd(rows: number[][], seeds: number[][], metric: KmeansMetric, maxIterations: number, tolerance: number) {
  const dim = rows[0]!.length;
  let variance = 0;
  for (let t = 0; t < dim; t += 1) {
    const mean = rows.reduce((sum, row) => sum + row[t]!, 0) / rows.length;
    variance += rows.reduce((sum, row) => sum + (row[t]! - mean) ** 2, 0) / rows.length;
  }
  const threshold = tolerance * (variance / dim);
  const centres = seeds.map((seed) => [...seed]);
  let { labels, nearest } = assign(rows, centres, metric);
  const inertias: number[] = [];
  let iterations = 0;
  let converged = false;
  while (iterations < maxIterations) {
    iterations += 1;
    const shift = referenceUpdate(rows, labels, nearest, centres, metric);
    const next = assign(rows, centres, metric);
    const changed = next.labels.filter((label, i) => label !== labels[i]).length;
    ({ labels, nearest } = next);
    inertias.push(nearest.reduce((sum, d) => sum + d, 0));
    converged = changed === 0 || shift <= threshold;
    if (converged) break;
  }
  const inertia = rows.reduce((sum, row, i) => sum + distance(row, centres[labels[i]!]!, metric), 0);
  return { labels, centres, iterations, converged, inertias, inertia };
}

/** Unit rows for 'cosine' (as kmeans works on them). */
function prepared(features: Float32Array, dim: number, metric: KmeansMetric): number[][] {
  const rows = rowsOf(features, dim);
  if (metric === 'euclidean') return rows;
  return rows.map((row) => {
    const length = Math.hypot(...row);
    return row.map((v) => Math.fround(v / length));
  });
}

/** `kmeansNaive` against `referenceLloyd` from the same seeds (kmeans with 0 iterations returns its seeds). */
function compareWithReference(features: Float32Array, dim: number, options: KmeansOptions) {
  const n = features.length / dim;
  const seeds = rowsOf(kmeansNaive(features, n, dim, { ...options, maxIterations: 0 }).centroids, dim);
  const inertias: number[] = [];
  const got = kmeansNaive(features, n, dim, { ...options, onIteration: (_, inertia) => void inertias.push(inertia) });
  const want = referenceLloyd(prepared(features, dim, options.metric), seeds, options.metric, options.maxIterations ?? 50, options.tolerance ?? 1e-4);
  expect(Array.from(got.assignments)).toEqual(want.labels);
  expect(got.iterations).toBe(want.iterations);
  expect(got.converged).toBe(want.converged);
  expect(inertias).toHaveLength(want.inertias.length);
  inertias.forEach((inertia, i) => expect(inertia).toBeCloseTo(want.inertias[i]!, 3));
  rowsOf(got.centroids, dim).forEach((centre, c) => centre.forEach((v, t) => expect(v).toBeCloseTo(want.centres[c]![t]!, 6)));
  expect(got.inertia).toBeCloseTo(want.inertia, 3);
  // Each row's distance to its centre: Euclidean (not squared), or 1 - cos.
  const rows = prepared(features, dim, options.metric);
  got.distances.forEach((d, i) => {
    const squared = distance(rows[i]!, want.centres[want.labels[i]!]!, options.metric);
    expect(d).toBeCloseTo(options.metric === 'euclidean' ? Math.sqrt(squared) : squared, 5);
  });
  return { got, want };
}

/** `perBlob` points around each of `blobs` centres N(0, spread²), noise N(0, 1), interleaved. */
function blobs(count: number, perBlob: number, dim: number, spread: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const centres = Array.from({ length: count }, () => Array.from({ length: dim }, () => spread * rng.normal()));
  return Float32Array.from({ length: count * perBlob * dim }, (_, j) => centres[Math.floor(j / dim) % count]![j % dim]! + rng.normal());
}

/** The centroid update of `rows` (flat, `dim` wide) with these labels, distances and centres. */
function update(flat: number[], dim: number, k: number, labels: number[], nearest: number[], centres: number[], metric: KmeansMetric = 'euclidean') {
  const rows = Float32Array.from(flat);
  const labelArray = Int32Array.from(labels);
  const sums = new ClusterSums(rows, dim, k, labelArray);
  const centroids = Float32Array.from(centres);
  const shift = updateCentroids(sums, dim, metric, labelArray, Float32Array.from(nearest), centroids);
  return { labels: Array.from(labelArray), centroids: Array.from(centroids), shift, sums, rows };
}

describe('ClusterSums', () => {
  it('holds each cluster’s count and float64 sum, and moves a row between clusters', () => {
    const rows = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
    const sums = new ClusterSums(rows, 2, 3, Int32Array.from([0, 2, 0, 2]));
    expect(Array.from(sums.counts)).toEqual([2, 0, 2]);
    expect(Array.from(sums.sums)).toEqual([6, 8, 0, 0, 10, 12]);
    sums.move(3, 2, 1);
    expect(Array.from(sums.counts)).toEqual([2, 1, 1]);
    expect(Array.from(sums.sums)).toEqual([6, 8, 7, 8, 3, 4]);
  });
});

describe('updateCentroids', () => {
  it('moves every centre to the mean of its rows and returns the total squared shift', () => {
    const { centroids, shift, labels } = update([0, 0, 2, 0, 10, 4, 12, 8], 2, 2, [0, 0, 1, 1], [1, 1, 8, 8], [1, 1, 10, 5]);
    expect(labels).toEqual([0, 0, 1, 1]);
    expect(centroids).toEqual([1, 0, 11, 6]);
    expect(shift).toBe(1 + 1 + 1);
  });

  it('re-seeds an empty cluster with the row farthest from its centre, which leaves its old cluster', () => {
    // 1-D rows 0, 1, 10 all in cluster 0 (centre 0); cluster 1 is empty.
    const { labels, centroids, shift, sums } = update([0, 1, 10], 1, 2, [0, 0, 0], [0, 1, 100], [0, 50]);
    expect(labels).toEqual([0, 0, 1]);
    expect(Array.from(sums.counts)).toEqual([2, 1]);
    expect(centroids).toEqual([0.5, 10]);
    expect(shift).toBe(0.25 + 1600);
  });

  it('takes the farthest row even when it is row 0, and the lowest index on a tie', () => {
    expect(update([9, 1, 4], 1, 2, [0, 0, 0], [81, 1, 16], [0, 0]).labels).toEqual([1, 0, 0]);
    // Every row at distance 0 (rows on duplicate centres): row 0 is taken.
    expect(update([3, 3, 3], 1, 2, [0, 0, 0], [0, 0, 0], [3, 3]).labels).toEqual([1, 0, 0]);
    expect(update([0, 5, 5, 1], 1, 2, [0, 0, 0, 0], [0, 25, 25, 1], [0, 0]).labels).toEqual([0, 1, 0, 0]);
  });

  it('gives two empty clusters two different rows: the farthest, then the farthest not taken', () => {
    const { labels, centroids } = update([0, 8, 1, 6], 1, 3, [0, 0, 0, 0], [0, 64, 1, 36], [0, 100, 200]);
    expect(labels).toEqual([0, 1, 0, 2]);
    expect(centroids).toEqual([0.5, 8, 6]);
  });

  it('keeps the old centre of a cluster that lost its only row to an earlier empty cluster', () => {
    // Cluster 2 is empty and takes row 2, the only row of cluster 1 (processed before it): cluster 1 stays empty.
    const lost = update([0, 1, 9], 1, 3, [0, 0, 1], [0, 1, 4], [0, 7, -3]);
    expect(lost.labels).toEqual([0, 0, 2]);
    expect(Array.from(lost.sums.counts)).toEqual([2, 0, 1]);
    expect(lost.centroids).toEqual([0.5, 7, 9]);
    expect(lost.shift).toBe(0.25 + 144);
  });

  it('re-seeds a later cluster emptied by an earlier re-seeding, with another row', () => {
    // Cluster 1 is empty and takes row 2, the only row of cluster 2, which then takes row 1.
    const { labels, centroids } = update([0, 1, 9], 1, 3, [0, 0, 2], [0, 1, 4], [0, 7, 9]);
    expect(labels).toEqual([0, 2, 1]);
    expect(centroids).toEqual([0, 9, 1]);
  });

  it("scales 'cosine' centres to unit length, and keeps the old centre where the rows cancel out", () => {
    const { centroids, shift } = update([1, 0, 0, 1, 0.6, 0.8, -0.6, -0.8], 2, 2, [0, 0, 1, 1], [0.3, 0.3, 0, 0], [1, 0, 0, 1], 'cosine');
    expect(centroids[0]).toBeCloseTo(Math.SQRT1_2, 7);
    expect(centroids[1]).toBeCloseTo(Math.SQRT1_2, 7);
    expect(centroids.slice(2)).toEqual([0, 1]);
    expect(shift).toBeCloseTo((Math.SQRT1_2 - 1) ** 2 + Math.SQRT1_2 ** 2, 6);
    const unit = update([3, 4, 6, 8], 2, 1, [0, 0], [0, 0], [0, 0], 'cosine').centroids;
    expect(unit[0]).toBeCloseTo(0.6, 7);
    expect(unit[1]).toBeCloseTo(0.8, 7);
  });

  it("agrees with the naive update on random rows with empty clusters ('euclidean' and 'cosine')", () => {
    const rng = new Rng(3);
    for (const metric of ['euclidean', 'cosine'] as const) {
      for (let trial = 0; trial < 20; trial += 1) {
        const n = 12;
        const dim = 3;
        const k = 5;
        const flat = Array.from({ length: n * dim }, () => Math.fround(rng.normal()));
        // Only clusters 0..2 have rows: 3 and 4 are empty.
        const labels = Array.from({ length: n }, () => rng.int(3));
        const nearest = Array.from({ length: n }, () => Math.fround(rng.next() * 4));
        const centres = Array.from({ length: k * dim }, () => Math.fround(rng.normal()));
        const got = update(flat, dim, k, labels, nearest, centres, metric);
        const wantCentres = rowsOf(centres, dim);
        const wantLabels = [...labels];
        const wantShift = referenceUpdate(rowsOf(flat, dim), wantLabels, nearest, wantCentres, metric);
        expect(got.labels).toEqual(wantLabels);
        got.centroids.forEach((v, j) => expect(v).toBeCloseTo(wantCentres[Math.floor(j / dim)]![j % dim]!, 6));
        expect(got.shift).toBeCloseTo(wantShift, 5);
      }
    }
  });
});

describe("kmeansNaive's Lloyd loop against the algorithm written out", () => {
  // Overlapping blobs (6 clusters for 4 blobs): 10 ('euclidean') and 9 ('cosine') iterations
  // until no row moves, 5 and 4 with tolerance 0.05.
  const sets = { euclidean: blobs(4, 30, 5, 1, 22), cosine: blobs(4, 30, 5, 1, 21) };
  const data = sets.euclidean;

  it.each(['euclidean', 'cosine'] as const)('runs until no row moves with tolerance 0 (%s)', (metric) => {
    const { got } = compareWithReference(sets[metric], 5, { k: 6, seed: 1, metric, tolerance: 0 });
    expect(got.converged).toBe(true);
    expect(got.iterations).toBeGreaterThan(5);
  });

  it.each(['euclidean', 'cosine'] as const)('stops when the centres move less than the tolerance x the mean variance, while rows still move (%s)', (metric) => {
    // A loose tolerance stops it before the assignments settle (the tolerance-0 run goes on).
    const loose = compareWithReference(sets[metric], 5, { k: 6, seed: 1, metric, tolerance: 0.05 }).got;
    const strict = kmeansNaive(sets[metric], 120, 5, { k: 6, seed: 1, metric, tolerance: 0 });
    expect(loose.converged).toBe(true);
    expect(loose.iterations).toBeLessThan(strict.iterations);
  });

  it('agrees for many seeds, k and tolerances, empty clusters included', () => {
    // 12 rows on 4 points and 4 rows near them, in 7 or 10 clusters: k-means++ puts several
    // seeds on one point, and the centres that get no row are re-seeded.
    const rng = new Rng(5);
    const points = [[0, 0], [1, 0], [0, 3], [4, 4]];
    const crowded = Float32Array.from(
      Array.from({ length: 16 }, (_, i) => points[rng.int(4)]!.map((v) => (i % 4 === 3 ? v + 0.3 * rng.normal() : v))).flat(),
    );
    reseeded = 0;
    for (let seed = 1; seed <= 6; seed += 1) {
      for (const tolerance of [0, 1e-4, 0.05]) {
        compareWithReference(crowded, 2, { k: 10, seed, metric: 'euclidean', tolerance });
        compareWithReference(crowded.map((v) => v + 0.5), 2, { k: 7, seed, metric: 'cosine', tolerance });
      }
    }
    expect(reseeded, 'empty clusters re-seeded by the reference').toBeGreaterThan(20);
  });

  it('stops at maxIterations without converging', () => {
    const { got } = compareWithReference(data, 5, { k: 6, seed: 1, metric: 'euclidean', tolerance: 0, maxIterations: 2 });
    expect(got.iterations).toBe(2);
    expect(got.converged).toBe(false);
  });

  it("stops where onIteration returns 'stop', not converged", () => {
    const seen: number[] = [];
    const onIteration = (i: number) => {
      seen.push(i);
      return i === 2 ? 'stop' : undefined;
    };
    const stopped = kmeansNaive(data, 120, 5, { k: 6, seed: 1, metric: 'euclidean', tolerance: 0, onIteration });
    expect(seen).toEqual([1, 2]);
    expect(stopped.iterations).toBe(2);
    expect(stopped.converged).toBe(false);
  });

  it('returns the seeds, not converged, with maxIterations 0', () => {
    const seedsOnly = kmeansNaive(data, 120, 5, { k: 4, seed: 1, metric: 'euclidean', maxIterations: 0 });
    expect(seedsOnly.iterations).toBe(0);
    expect(seedsOnly.converged).toBe(false);
    const rows = rowsOf(data, 5);
    const seeds = rowsOf(seedsOnly.centroids, 5);
    for (const seed of seeds) expect(rows.some((row) => row.every((v, t) => v === seed[t]))).toBe(true);
    const { labels } = assign(rows, seeds, 'euclidean');
    expect(Array.from(seedsOnly.assignments)).toEqual(labels);
  });

  it('converges in one iteration when a re-seeded duplicate centre does not move (tolerance 0)', () => {
    // Rows 5, 0, 5 with k = 3: two seeds on 5; the empty one takes row 0 (distance 0 from its
    // centre), no centre moves, and row 0 then goes back: shift 0 <= 0 stops the run.
    const result = kmeansNaive(Float32Array.from([5, 5, 0, 0, 5, 5]), 3, 2, { k: 3, seed: 1, metric: 'euclidean', tolerance: 0 });
    expect(result.iterations).toBe(1);
    expect(result.converged).toBe(true);
    expect(result.inertia).toBe(0);
  });
});

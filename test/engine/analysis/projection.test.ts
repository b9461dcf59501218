import * as tf from '../../../main/engine/backend/tfjs';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { afterAll, describe, expect, it } from 'vitest';
import { Rng } from '../../../main/data/rng';
import { wasmDirectory } from '../../../main/engine/backend/backend';
import { nearDuplicatePairs, outlierScores, pca, pca2d, umap2d, type NearDuplicatePair, type ProjectionMetric } from '../../../main/engine/analysis/projection';

async function useBackend(name: 'cpu' | 'wasm'): Promise<void> {
  if (name === 'wasm') setWasmPaths(wasmDirectory());
  expect(await tf.setBackend(name), `backend ${name} initialised`).toBe(true);
  await tf.ready();
}

afterAll(() => useBackend('cpu'));

function unit(v: number[]): number[] {
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
}

function correlation(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const n = x.length;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i += 1) {
    mx += x[i]! / n;
    my += y[i]! / n;
  }
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i += 1) {
    sxy += (x[i]! - mx) * (y[i]! - my);
    sxx += (x[i]! - mx) ** 2;
    syy += (y[i]! - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}

/** n points: mean offset + 8 s1 u + 3 s2 w + N(0, 0.5²) noise, s1, s2 ~ N(0, 1), u ⟂ w unit directions in `dim`-D. */
function stretched(n: number, dim: number, seed: number) {
  const rng = new Rng(seed);
  const u = unit(Array.from({ length: dim }, () => rng.normal()));
  const raw = Array.from({ length: dim }, () => rng.normal());
  const along = raw.reduce((s, v, i) => s + v * u[i]!, 0);
  const w = unit(raw.map((v, i) => v - along * u[i]!));
  const offset = Array.from({ length: dim }, () => 5 * rng.normal());
  const features = new Float32Array(n * dim);
  for (let i = 0; i < n; i += 1) {
    const s1 = 8 * rng.normal();
    const s2 = 3 * rng.normal();
    for (let t = 0; t < dim; t += 1) features[i * dim + t] = offset[t]! + s1 * u[t]! + s2 * w[t]! + 0.5 * rng.normal();
  }
  return { features, u, w };
}

/** Projections of the centred rows on `direction`. */
function projectOn(features: Float32Array, n: number, dim: number, direction: number[]): Float64Array {
  const mean = new Float64Array(dim);
  for (let i = 0; i < n; i += 1) for (let t = 0; t < dim; t += 1) mean[t]! += features[i * dim + t]! / n;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i += 1) for (let t = 0; t < dim; t += 1) out[i]! += (features[i * dim + t]! - mean[t]!) * direction[t]!;
  return out;
}

describe.each(['cpu', 'wasm'] as const)('pca on the %s backend', (backend) => {
  it('recovers the stretched directions, deterministically, with a fixed sign', async () => {
    await useBackend(backend);
    const n = 600;
    const dim = 20;
    const { features, u, w } = stretched(n, dim, 3);
    const before = tf.memory().numTensors;
    const result = pca(features, n, dim);
    expect(tf.memory().numTensors).toBe(before);
    const xs = Array.from({ length: n }, (_, i) => result.coordinates[2 * i]!);
    const ys = Array.from({ length: n }, (_, i) => result.coordinates[2 * i + 1]!);
    expect(Math.abs(correlation(xs, projectOn(features, n, dim, u)))).toBeGreaterThan(0.99);
    expect(Math.abs(correlation(ys, projectOn(features, n, dim, w)))).toBeGreaterThan(0.95);
    const [v1, v2] = [result.components.subarray(0, dim), result.components.subarray(dim)];
    expect(Math.abs(v1.reduce((s, v, i) => s + v * u[i]!, 0))).toBeGreaterThan(0.99);
    expect(Math.abs(v1.reduce((s, v, i) => s + v * v2[i]!, 0))).toBeLessThan(1e-5);
    for (const v of [v1, v2]) {
      expect(Math.hypot(...v)).toBeCloseTo(1, 5);
      const largest = v.reduce((best, x) => (Math.abs(x) > Math.abs(best) ? x : best), 0);
      expect(largest).toBeGreaterThan(0);
    }
    // Variance 64 and 9 along u and w, 0.25 in each of the 20 dimensions: 64.25 / 78.0 and 9.25 / 78.0.
    expect(result.explainedVariance[0]).toBeGreaterThan(0.7);
    expect(result.explainedVariance[1]).toBeGreaterThan(0.08);
    expect(result.explainedVariance[0] + result.explainedVariance[1]).toBeLessThanOrEqual(1);
    expect(Array.from(pca2d(features, n, dim))).toEqual(Array.from(result.coordinates));
  });
});

describe('pca', () => {
  it('gives the exact answer on a small example', async () => {
    await useBackend('cpu');
    // Centred already; covariance diag(8/3, 2/3): components e1, e2, coordinates = the points.
    const features = new Float32Array([-2, 0, 2, 0, 0, -1, 0, 1]);
    const result = pca(features, 4, 2);
    expect(Array.from(result.coordinates).map((v) => Math.round(v * 1e6) / 1e6 + 0)).toEqual([-2, 0, 2, 0, 0, -1, 0, 1]);
    expect(result.explainedVariance[0]).toBeCloseTo(0.8, 6);
    expect(result.explainedVariance[1]).toBeCloseTo(0.2, 6);
  });

  it('handles degenerate input: no points, identical points, one dimension; refuses NaN', async () => {
    await useBackend('cpu');
    expect(pca2d(new Float32Array(0), 0, 3)).toHaveLength(0);
    expect(Array.from(pca2d(new Float32Array([1, 2, 1, 2, 1, 2]), 3, 2))).toEqual([0, 0, 0, 0, 0, 0]);
    const line = pca2d(new Float32Array([1, 2, 3, 4]), 4, 1);
    expect(Array.from(line)).toEqual([-1.5, 0, -0.5, 0, 0.5, 0, 1.5, 0]);
    expect(() => pca2d(new Float32Array([1, NaN]), 1, 2)).toThrow(/NaN at row 0, column 1/);
  });
});

/** Every pair closer than `threshold`, by brute force in float64. */
function bruteForcePairs(features: Float32Array, n: number, dim: number, threshold: number, metric: ProjectionMetric): NearDuplicatePair[] {
  const pairs: NearDuplicatePair[] = [];
  for (let a = 0; a < n; a += 1) {
    for (let b = a + 1; b < n; b += 1) {
      let dot = 0;
      let na = 0;
      let nb = 0;
      let sq = 0;
      for (let t = 0; t < dim; t += 1) {
        const x = features[a * dim + t]!;
        const y = features[b * dim + t]!;
        dot += x * y;
        na += x * x;
        nb += y * y;
        sq += (x - y) ** 2;
      }
      const distance = metric === 'euclidean' ? Math.sqrt(sq) : 1 - dot / Math.sqrt(na * nb);
      if (distance < threshold) pairs.push({ a, b, distance });
    }
  }
  return pairs.sort((x, y) => x.distance - y.distance || x.a - y.a || x.b - y.b);
}

describe('nearDuplicatePairs', () => {
  it.each(['euclidean', 'cosine'] as const)('finds planted duplicates across blocks (%s)', async (metric) => {
    await useBackend('wasm');
    const n = 2_500; // two blocks of rows: diagonal and off-diagonal blocks
    const dim = 8;
    const rng = new Rng(5);
    const features = new Float32Array(n * dim).map(() => rng.normal());
    const planted: [number, number][] = [
      [5, 6],
      [10, 2_300],
      [2_100, 2_200],
      [100, 2_047],
      [2_046, 2_048],
    ];
    for (const [a, b] of planted) for (let t = 0; t < dim; t += 1) features[b * dim + t] = features[a * dim + t]! + (a === 100 ? 0 : 1e-3 * rng.normal());
    const before = tf.memory().numTensors;
    const pairs = nearDuplicatePairs(features, n, dim, metric === 'euclidean' ? 0.05 : 1e-4, metric);
    expect(tf.memory().numTensors).toBe(before);
    expect(pairs.map(({ a, b }) => [a, b]).sort((x, y) => x[0]! - y[0]! || x[1]! - y[1]!)).toEqual([...planted].sort((x, y) => x[0] - y[0]));
    expect(pairs[0]).toEqual({ a: 100, b: 2_047, distance: 0 });
    for (let i = 1; i < pairs.length; i += 1) expect(pairs[i]!.distance).toBeGreaterThanOrEqual(pairs[i - 1]!.distance);
    // The cap keeps the closest.
    expect(nearDuplicatePairs(features, n, dim, metric === 'euclidean' ? 0.05 : 1e-4, metric, 2)).toEqual(pairs.slice(0, 2));
  });

  it.each(['euclidean', 'cosine'] as const)('returns exactly the pairs below the threshold (%s, against brute force)', async (metric) => {
    await useBackend('cpu');
    const n = 300;
    const dim = 4;
    const rng = new Rng(8);
    const features = new Float32Array(n * dim).map(() => 3 + rng.normal());
    const threshold = metric === 'euclidean' ? 0.6 : 0.005;
    const expected = bruteForcePairs(features, n, dim, threshold, metric);
    expect(expected.length).toBeGreaterThan(20);
    const pairs = nearDuplicatePairs(features, n, dim, threshold, metric);
    // The same pairs; the order may differ between distances equal up to float rounding.
    const byIndex = (list: NearDuplicatePair[]) => [...list].sort((x, y) => x.a - y.a || x.b - y.b);
    expect(byIndex(pairs).map(({ a, b }) => [a, b])).toEqual(byIndex(expected).map(({ a, b }) => [a, b]));
    byIndex(pairs).forEach((pair, i) => expect(pair.distance).toBeCloseTo(byIndex(expected)[i]!.distance, 6));
    for (let i = 1; i < pairs.length; i += 1) expect(pairs[i]!.distance).toBeGreaterThanOrEqual(pairs[i - 1]!.distance);
    expect(nearDuplicatePairs(features, n, dim, threshold, metric, 10)).toEqual(pairs.slice(0, 10));
  });

  it('returns nothing for fewer than two points or a zero threshold', async () => {
    await useBackend('cpu');
    expect(nearDuplicatePairs(new Float32Array([1, 2]), 1, 2, 1, 'euclidean')).toEqual([]);
    expect(nearDuplicatePairs(new Float32Array([1, 2, 1, 2]), 2, 2, 0, 'euclidean')).toEqual([]);
    expect(nearDuplicatePairs(new Float32Array([1, 2, 1, 2]), 2, 2, 0.1, 'euclidean')).toEqual([{ a: 0, b: 1, distance: 0 }]);
  });
});

describe('outlierScores', () => {
  it('flags distances beyond mean + 3 sd, within each cluster when given', () => {
    const distances = new Float32Array(40).map((_, i) => 1 + (i % 5) * 0.01);
    distances[7] = 5;
    const global = outlierScores(distances);
    expect(global.count).toBe(1);
    expect(global.outliers[7]).toBe(1);
    expect(global.scores[7]).toBeGreaterThan(3);

    // Cluster 1's distances are all around 10: large globally, ordinary within their cluster.
    const assignments = new Int32Array(40).map((_, i) => (i < 20 ? 0 : 1));
    for (let i = 20; i < 40; i += 1) distances[i] = 10 + (i % 3) * 0.1;
    const byCluster = outlierScores(distances, assignments);
    expect(Array.from(byCluster.outliers.keys()).filter((i) => byCluster.outliers[i])).toEqual([7]);
    expect(outlierScores(new Float32Array([1, 1, 1])).count).toBe(0);
    expect(() => outlierScores(new Float32Array(2), [0])).toThrow(/2 distances but 1 assignments/);
  });
});

describe('umap2d', () => {
  /** 3 blobs of 100 points in 10-D, centres 10 apart, noise N(0, 1). */
  function blobs() {
    const rng = new Rng(21);
    const dim = 10;
    const centres = Array.from({ length: 3 }, () => Array.from({ length: dim }, () => 4 * rng.normal()));
    const n = 300;
    const features = new Float32Array(n * dim);
    const labels = new Int32Array(n);
    for (let i = 0; i < n; i += 1) {
      labels[i] = i % 3;
      for (let t = 0; t < dim; t += 1) features[i * dim + t] = centres[i % 3]![t]! + rng.normal();
    }
    return { features, labels, n, dim };
  }

  function separation(xy: Float32Array, labels: Int32Array): { intra: number; inter: number } {
    let intra = 0;
    let inter = 0;
    let intraCount = 0;
    let interCount = 0;
    for (let i = 0; i < labels.length; i += 1) {
      for (let j = i + 1; j < labels.length; j += 1) {
        const d = Math.hypot(xy[2 * i]! - xy[2 * j]!, xy[2 * i + 1]! - xy[2 * j + 1]!);
        if (labels[i] === labels[j]) {
          intra += d;
          intraCount += 1;
        } else {
          inter += d;
          interCount += 1;
        }
      }
    }
    return { intra: intra / intraCount, inter: inter / interCount };
  }

  it('is deterministic for a seed and keeps blobs apart', async () => {
    await useBackend('cpu');
    const { features, labels, n, dim } = blobs();
    const epochs: number[] = [];
    const before = tf.memory().numTensors;
    const first = await umap2d(features, n, dim, { seed: 7, nEpochs: 200, onEpoch: (epoch, total) => void epochs.push(epoch, total) });
    expect(tf.memory().numTensors).toBe(before);
    expect(epochs.slice(0, 4)).toEqual([0, 200, 1, 200]);
    expect(epochs.at(-2)).toBe(200);
    expect(first).toHaveLength(2 * n);
    const again = await umap2d(features, n, dim, { seed: 7, nEpochs: 200 });
    expect(Array.from(again)).toEqual(Array.from(first));
    const other = await umap2d(features, n, dim, { seed: 8, nEpochs: 200 });
    expect(Array.from(other)).not.toEqual(Array.from(first));
    for (const xy of [first, other]) {
      const { intra, inter } = separation(xy, labels);
      expect(intra).toBeLessThan(inter / 3);
    }
  });

  it("is deterministic with umap-js's own neighbour search too, and stops on 'stop'", async () => {
    await useBackend('cpu');
    const { features, labels, n, dim } = blobs();
    const options = { seed: 3, nEpochs: 100, metric: 'euclidean' as const, exactNeighborsUpTo: 0 };
    const first = await umap2d(features, n, dim, options);
    expect(Array.from(await umap2d(features, n, dim, options))).toEqual(Array.from(first));
    const { intra, inter } = separation(first, labels);
    expect(intra).toBeLessThan(inter / 3);

    let last = -1;
    const stopped = await umap2d(features, n, dim, {
      ...options,
      onEpoch: (epoch) => {
        last = epoch;
        return epoch === 10 ? 'stop' : undefined;
      },
    });
    expect(last).toBe(10);
    expect(stopped).toHaveLength(2 * n);
  });

  it('falls back to PCA for 3 points or fewer, and refuses NaN', async () => {
    await useBackend('cpu');
    const features = new Float32Array([0, 0, 1, 1, 2, 2]);
    expect(Array.from(await umap2d(features, 3, 2, { seed: 1 }))).toEqual(Array.from(pca2d(features, 3, 2)));
    await expect(umap2d(new Float32Array([0, NaN, 1, 1, 2, 2, 3, 3]), 4, 2, { seed: 1 })).rejects.toThrow(/NaN at row 0, column 1/);
  });
});

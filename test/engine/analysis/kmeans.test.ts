import * as tf from '../../../main/engine/backend/tfjs';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { afterAll, describe, expect, it } from 'vitest';
import { adjustedRandIndex } from '../../../main/common/cluster-metrics';
import { Rng } from '../../../main/data/rng';
import { wasmDirectory } from '../../../main/engine/backend/backend';
import { kmeans, kmeansNaive, kmeansSeedingSample, suggestK, type KmeansMetric, type KmeansOptions } from '../../../main/engine/analysis/kmeans';

async function useBackend(name: 'cpu' | 'wasm'): Promise<void> {
  if (name === 'wasm') setWasmPaths(wasmDirectory());
  expect(await tf.setBackend(name), `backend ${name} initialised`).toBe(true);
  await tf.ready();
}

afterAll(() => useBackend('cpu'));

/** `perBlob` points around each of `blobs` random centres (coordinates N(0, spread²)), noise N(0, 1). */
function gaussianBlobs(blobs: number, perBlob: number, dim: number, spread: number, seed: number) {
  const rng = new Rng(seed);
  const centres = Array.from({ length: blobs }, () => Array.from({ length: dim }, () => spread * rng.normal()));
  const n = blobs * perBlob;
  const features = new Float32Array(n * dim);
  const labels = new Int32Array(n);
  // Interleaved, so no cluster is a contiguous block of rows.
  for (let i = 0; i < n; i += 1) {
    const blob = i % blobs;
    labels[i] = blob;
    for (let t = 0; t < dim; t += 1) features[i * dim + t] = centres[blob]![t]! + rng.normal();
  }
  return { features, labels, n, dim };
}

const blobs = gaussianBlobs(5, 400, 16, 4, 7);
const metrics: KmeansMetric[] = ['euclidean', 'cosine'];

describe.each(['cpu', 'wasm'] as const)('kmeans on the %s backend', (backend) => {
  it.each(metrics)('recovers 5 Gaussian blobs in 16-D (2,000 points), %s', async (metric) => {
    await useBackend(backend);
    const before = tf.memory().numTensors;
    const result = kmeans(blobs.features, blobs.n, blobs.dim, { k: 5, seed: 1, metric });
    expect(tf.memory().numTensors).toBe(before);
    expect(adjustedRandIndex(result.assignments, blobs.labels)).toBeGreaterThan(0.95);
    expect(result.assignments).toHaveLength(blobs.n);
    expect(result.centroids).toHaveLength(5 * blobs.dim);
    expect(result.distances).toHaveLength(blobs.n);
    expect(result.converged).toBe(true);
    expect(result.iterations).toBeGreaterThanOrEqual(1);
    expect(result.iterations).toBeLessThanOrEqual(50);
    for (const a of result.assignments) expect(a >= 0 && a < 5).toBe(true);
    // The inertia is the sum of the squared distances (euclidean) or of the distances (cosine).
    let inertia = 0;
    for (const d of result.distances) inertia += metric === 'euclidean' ? d * d : d;
    expect(result.inertia).toBeCloseTo(inertia, 1);
    if (metric === 'cosine') {
      for (let c = 0; c < 5; c += 1) {
        const row = result.centroids.subarray(c * blobs.dim, (c + 1) * blobs.dim);
        expect(Math.hypot(...row)).toBeCloseTo(1, 5);
      }
    }
  });

  it.each(metrics)('gives the same assignments as kmeansNaive on small data, %s', async (metric) => {
    await useBackend(backend);
    const small = gaussianBlobs(4, 75, 8, 3, 11);
    const options: KmeansOptions = { k: 4, seed: 3, metric };
    const fast = kmeans(small.features, small.n, small.dim, options);
    const naive = kmeansNaive(small.features, small.n, small.dim, options);
    expect(Array.from(fast.assignments)).toEqual(Array.from(naive.assignments));
    expect(fast.iterations).toBe(naive.iterations);
    for (let i = 0; i < fast.centroids.length; i += 1) expect(fast.centroids[i]).toBeCloseTo(naive.centroids[i]!, 5);
    expect(fast.inertia).toBeCloseTo(naive.inertia, 3);
  });

  it('disposes every tensor, also when onIteration throws', async () => {
    await useBackend(backend);
    const before = tf.memory().numTensors;
    expect(() =>
      kmeans(blobs.features, blobs.n, blobs.dim, {
        k: 5,
        seed: 1,
        metric: 'euclidean',
        onIteration: () => {
          throw new Error('cancelled');
        },
      }),
    ).toThrow('cancelled');
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('kmeans', () => {
  it('is deterministic for a seed; other seeds may give other clusterings', async () => {
    await useBackend('cpu');
    // 8 clusters for 5 blobs: where the extra centres go depends on the seeding.
    const run = (seed: number) => kmeans(blobs.features, blobs.n, blobs.dim, { k: 8, seed, metric: 'euclidean' });
    const first = run(1);
    const again = run(1);
    expect(Array.from(again.assignments)).toEqual(Array.from(first.assignments));
    expect(Array.from(again.centroids)).toEqual(Array.from(first.centroids));
    expect(again.inertia).toBe(first.inertia);
    const others = [2, 3, 4, 5].map((seed) => run(seed));
    expect(others.some((other) => other.assignments.some((a, i) => a !== first.assignments[i]))).toBe(true);
  });

  it('reports each iteration, stops on "stop", and never lets the inertia grow (euclidean)', async () => {
    await useBackend('cpu');
    const data = gaussianBlobs(6, 100, 8, 1.5, 5);
    const seen: [number, number][] = [];
    const full = kmeans(data.features, data.n, data.dim, { k: 6, seed: 2, metric: 'euclidean', tolerance: 0, onIteration: (i, inertia) => void seen.push([i, inertia]) });
    expect(seen.map(([i]) => i)).toEqual(Array.from({ length: full.iterations }, (_, i) => i + 1));
    for (let i = 1; i < seen.length; i += 1) expect(seen[i]![1]).toBeLessThanOrEqual(seen[i - 1]![1] * (1 + 1e-5));
    expect(full.inertia).toBeCloseTo(seen.at(-1)![1], 0);

    let calls = 0;
    const stopped = kmeans(data.features, data.n, data.dim, {
      k: 6,
      seed: 2,
      metric: 'euclidean',
      onIteration: () => {
        calls += 1;
        return 'stop';
      },
    });
    expect(calls).toBe(1);
    expect(stopped.iterations).toBe(1);
    expect(stopped.converged).toBe(false);

    const seedsOnly = kmeans(data.features, data.n, data.dim, { k: 6, seed: 2, metric: 'euclidean', maxIterations: 0 });
    expect(seedsOnly.iterations).toBe(0);
    expect(seedsOnly.assignments).toHaveLength(data.n);
  });

  it('puts every point in its own cluster when k = n', async () => {
    await useBackend('cpu');
    const data = gaussianBlobs(3, 4, 5, 3, 9);
    const result = kmeans(data.features, data.n, data.dim, { k: data.n, seed: 4, metric: 'euclidean' });
    expect(new Set(result.assignments).size).toBe(data.n);
    expect(result.inertia).toBeCloseTo(0, 6);
  });

  it('survives duplicate points and more clusters than distinct points', async () => {
    await useBackend('cpu');
    const features = new Float32Array([0, 0, 0, 0, 0, 0, 5, 5]);
    const result = kmeans(features, 4, 2, { k: 3, seed: 1, metric: 'euclidean' });
    expect(result.assignments).toHaveLength(4);
    expect(result.inertia).toBeCloseTo(0, 6);
    for (const a of result.assignments) expect(a >= 0 && a < 3).toBe(true);
  });

  it(`seeds on a sample of ${kmeansSeedingSample} points when there are more`, async () => {
    await useBackend('cpu');
    const data = gaussianBlobs(3, 8_000, 4, 5, 13);
    const result = kmeans(data.features, data.n, data.dim, { k: 3, seed: 1, metric: 'euclidean' });
    expect(adjustedRandIndex(result.assignments, data.labels)).toBeGreaterThan(0.95);
  });

  it('refuses k > n, k < 1, a size mismatch and non-finite features with a clear error', async () => {
    await useBackend('cpu');
    const features = new Float32Array([0, 1, 2, 3, 4, 5]);
    const options = { seed: 1, metric: 'euclidean' } as const;
    expect(() => kmeans(features, 3, 2, { ...options, k: 4 })).toThrow(/k = 4 is more than the number of points \(3\)/);
    expect(() => kmeansNaive(features, 3, 2, { ...options, k: 4 })).toThrow(/k = 4 is more than the number of points/);
    expect(() => kmeans(features, 3, 2, { ...options, k: 0 })).toThrow(/k must be a positive integer/);
    expect(() => kmeans(features, 4, 2, { ...options, k: 2 })).toThrow(/expected n x dim = 4 x 2 = 8 features, got 6/);
    const withNaN = features.slice();
    withNaN[3] = NaN;
    expect(() => kmeans(withNaN, 3, 2, { ...options, k: 2 })).toThrow(/NaN at row 1, column 1.*finite/);
    const withInfinity = features.slice();
    withInfinity[4] = -Infinity;
    expect(() => kmeans(withInfinity, 3, 2, { ...options, k: 2, metric: 'cosine' })).toThrow(/-Infinity at row 2, column 0/);
  });
});

describe('suggestK', () => {
  it('is round(sqrt(n / 2)) clamped to [2, 50] and at most n', () => {
    expect(suggestK(0)).toBe(0);
    expect(suggestK(1)).toBe(1);
    expect(suggestK(2)).toBe(2);
    expect(suggestK(10)).toBe(2);
    expect(suggestK(200)).toBe(10);
    expect(suggestK(1_000)).toBe(22);
    expect(suggestK(5_000)).toBe(50);
    expect(suggestK(1_000_000)).toBe(50);
  });
});

import * as tf from '../../main/engine/backend/tfjs';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { afterAll, bench, describe } from 'vitest';
import { Rng } from '../../main/data/rng';
import { wasmDirectory } from '../../main/engine/backend/backend';
import { kmeans, kmeansNaive, type KmeansOptions } from '../../main/engine/analysis/kmeans';

/**
 * k-means speed (issue 6): 100,000 random 128-D features (N(0, 1)), k = 100, 20 Lloyd
 * iterations (tolerance 0), our tfjs k-means on the wasm backend (the best one here; cpu's
 * matMul is several times slower) against `kmeansNaive` (the same algorithm with every distance
 * a plain JavaScript loop) on the same data in the same run. The naive version takes seconds
 * per iteration, so it runs 3 iterations and its 20-iteration time is extrapolated: the whole
 * 3-iteration run plus 17 x its mean time per iteration after the first. The lines printed at
 * the end hold the seconds and the speed-up; vitest's own ratio compares the tfjs run with the
 * 3-iteration naive run, so it understates the speed-up.
 *
 * Run: npx vitest bench --run test/bench/kmeans.bench.ts
 */

const n = 100_000;
const dim = 128;
const k = 100;
const iterations = 20;
const naiveIterations = 3;

const rng = new Rng(1);
const features = new Float32Array(n * dim);
for (let i = 0; i < features.length; i += 1) features[i] = rng.normal();

const options: KmeansOptions = { k, seed: 1, metric: 'euclidean', maxIterations: iterations, tolerance: 0 };

interface Timed {
  total: number;
  /** Seconds from the start to each iteration's callback. */
  marks: number[];
  iterations: number;
  inertia: number;
}

function timed(fn: typeof kmeans, maxIterations: number): Timed {
  const marks: number[] = [];
  const started = performance.now();
  const result = fn(features, n, dim, { ...options, maxIterations, onIteration: () => void marks.push((performance.now() - started) / 1000) });
  return { total: (performance.now() - started) / 1000, marks, iterations: result.iterations, inertia: result.inertia };
}

const tfjsRuns: Timed[] = [];
let naiveRun: Timed | undefined;
let backend = '';

describe(`k-means, ${n.toLocaleString('en')} x ${dim}, k = ${k}, ${iterations} iterations`, () => {
  bench(
    'tfjs, wasm backend',
    () => {
      tfjsRuns.push(timed(kmeans, iterations));
    },
    {
      iterations: 3,
      time: 0,
      warmupIterations: 1,
      warmupTime: 0,
      setup: async () => {
        setWasmPaths(wasmDirectory());
        if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend did not initialise');
        await tf.ready();
        backend = tf.getBackend();
        tfjsRuns.length = 0;
      },
    },
  );
  bench(
    `naive JavaScript (baseline), only ${naiveIterations} iterations: see the extrapolated time printed below`,
    () => {
      naiveRun = timed(kmeansNaive, naiveIterations);
    },
    { iterations: 1, time: 0, warmupIterations: 0, warmupTime: 0 },
  );
});

afterAll(() => {
  if (!tfjsRuns.length || !naiveRun) return;
  const tfjs = Math.min(...tfjsRuns.map((run) => run.total));
  const best = tfjsRuns.find((run) => run.total === tfjs)!;
  const tfjsPerIteration = (best.marks.at(-1)! - best.marks[0]!) / (best.marks.length - 1);
  const { marks } = naiveRun;
  const naivePerIteration = (marks.at(-1)! - marks[0]!) / (marks.length - 1);
  const naive = naiveRun.total + (iterations - naiveRun.iterations) * naivePerIteration;
  const s = (seconds: number) => `${seconds.toFixed(2)} s`;
  console.log(
    [
      '',
      `k-means ${n} x ${dim}, k = ${k}, euclidean, ${iterations} iterations, tolerance 0:`,
      `  tfjs (${backend} backend): ${s(tfjs)} (fastest of ${tfjsRuns.length} runs, the warm-up included; ${best.iterations} iterations; seeding + first iteration ${s(best.marks[0]!)}, then ${s(tfjsPerIteration)} per iteration; inertia ${best.inertia.toExponential(4)})`,
      `  naive JavaScript: ${s(naive)} for ${iterations} iterations, extrapolated from a ${naiveRun.iterations}-iteration run of ${s(naiveRun.total)} (seeding + first iteration ${s(marks[0]!)}, then ${s(naivePerIteration)} per iteration)`,
      `  speed-up: ${(naive / tfjs).toFixed(1)}x (per iteration: ${(naivePerIteration / tfjsPerIteration).toFixed(1)}x)`,
    ].join('\n'),
  );
});

/**
 * What `npm run test:mutation` mutates (the training core) and, per file, the narrow set of test
 * files that must kill its mutants. Parts of a file are given as line ranges found from their
 * declarations when the run starts, so the ranges follow the code as it moves.
 */
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..', '..');

/**
 * The lines of `file` from the first line matching `from` to the first line matching `to` after
 * it (after the line matching `through`, when given), both included, as Stryker's
 * `file:start-end` mutate range.
 */
function span(file, from, to, through = from) {
  const lines = fs.readFileSync(path.join(root, file), 'utf8').split('\n');
  const start = lines.findIndex((line) => from.test(line));
  if (start < 0) throw new Error(`${file}: no line matches ${from}`);
  const last = lines.findIndex((line, i) => i >= start && through.test(line));
  const end = lines.findIndex((line, i) => i > last && to.test(line));
  if (end < 0) throw new Error(`${file}: no line after ${start + 1} matches ${to}`);
  return `${file}:${start + 1}-${end + 1}`;
}

/** @returns {{ name: string, mutate: string[], tests: string[] }[]} */
export function mutationTargets() {
  return [
    { name: 'losses', mutate: ['main/engine/jigclu/losses.ts'], tests: ['test/engine/jigclu/losses.test.ts'] },
    {
      // SGD on every engine but the fused WebGPU branch (`if (fused) { ... }`): that branch runs only on
      // a WebGPU adapter, which webgpu.test.ts did not reach inside Stryker's sandbox here (its 6
      // mutants were not covered), so it is left out rather than counted as covered.
      name: 'sgd',
      mutate: [
        span('main/engine/nn/sgd.ts', /^export class Sgd/, /^ {4}tf\.tidy\(\(\) => \{/),
        span('main/engine/nn/sgd.ts', /^ {6}for \(const \[name, weight\] of params\)/, /^ {8}if \(!grad\) continue;/),
        span('main/engine/nn/sgd.ts', /^ {8}const d = this\.weightDecay/, /^}/),
      ],
      tests: ['test/engine/nn/sgd.test.ts'],
    },
    {
      // BatchNorm: its parameters, inference and training forward, closed-form gradient and running statistics.
      name: 'batchnorm',
      mutate: [
        span('main/engine/nn/resnet.ts', /^const bnMomentum/, /^const bnEpsilon/),
        span('main/engine/nn/resnet.ts', /^function addBatchNorm\(/, /^}/),
        span('main/engine/nn/resnet.ts', /^ {2}private batchNorm\(/, /^ {2}}/),
        span('main/engine/nn/resnet.ts', /^ {2}applyBatchNormUpdates\(/, /^ {2}}/),
        span('main/engine/nn/resnet.ts', /^export function batchNormTraining\(/, /^}/),
      ],
      tests: ['test/engine/nn/resnet.test.ts', 'test/engine/nn/sgd.test.ts', 'test/engine/jigclu/golden-steps.test.ts'],
    },
    {
      // Jigsaw batch building: patch geometry, per-patch augmentation and crop, the batch-wide shuffle and tiling.
      name: 'jigsaw',
      mutate: [span('main/data/jigsaw.ts', /^function axisSpans\(/, /^}/, /^function cropAndResize\(/)],
      tests: ['test/data/jigsaw.test.ts', 'test/data/reference.test.ts', 'test/engine/jigclu/feature-rows.test.ts'],
    },
    { name: 'decouple', mutate: ['main/engine/jigclu/decouple.ts'], tests: ['test/engine/jigclu/decouple.test.ts', 'test/engine/jigclu/feature-rows.test.ts'] },
    { name: 'knn', mutate: ['main/engine/analysis/knn.ts'], tests: ['test/engine/analysis/knn.test.ts'] },
    {
      // The k-means update: cluster sums, the centroid update (empty clusters included) and the Lloyd loop.
      name: 'kmeans-update',
      mutate: [span('main/engine/analysis/kmeans.ts', /^class ClusterSums/, /^\/\*\* Seeding, Lloyd iterations/), span('main/engine/analysis/kmeans.ts', /^ {4}let labels = new Int32Array\(n\);/, /^ {4}return \{ assignments/)],
      tests: ['test/engine/analysis/kmeans.test.ts'],
    },
  ];
}

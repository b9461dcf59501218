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
      // SGD on every engine but the fused WebGPU branch (`} else if (fused) { ... }`, and `fused`): that branch runs only on
      // a WebGPU adapter, which webgpu.test.ts did not reach inside Stryker's sandbox here (its 6
      // mutants were not covered), so it is left out rather than counted as covered. With it the
      // wasm/cpu kernel (sgd-host.ts), which sgd.test.ts checks bit for bit on both engines.
      name: 'sgd',
      mutate: [
        span('main/engine/nn/sgd.ts', /^export class Sgd/, /^ {10}next = hostSgdStep\(/),
        span('main/engine/nn/sgd.ts', /^ {8}\} else \{$/, /^}/),
        span('main/engine/backend/sgd-host.ts', /^function sgdMomentumKernel\(/, /^}/),
        // (Not its registration at import: tfjs's kernel registry outlives Stryker's module reloads.)
        span('main/engine/backend/sgd-host.ts', /^export function hostSgdReady\(/, /^}/, /^export function hostSgdStep\(/),
      ],
      tests: ['test/engine/nn/sgd.test.ts'],
    },
    {
      // BatchNorm: its parameters, inference and training forward (tfjs ops, and the fused kernels with
      // their ReLU / shortcut epilogue: JavaScript loops on cpu, WebAssembly SIMD on wasm), closed-form
      // gradient and running statistics.
      name: 'batchnorm',
      mutate: [
        span('main/engine/nn/resnet.ts', /^const bnMomentum/, /^const bnEpsilon/),
        span('main/engine/nn/resnet.ts', /^function addBatchNorm\(/, /^}/),
        span('main/engine/nn/resnet.ts', /^ {2}private batchNorm\(/, /^ {2}}/),
        span('main/engine/nn/resnet.ts', /^ {2}applyBatchNormUpdates\(/, /^ {2}}/),
        span('main/engine/nn/resnet.ts', /^export function batchNormTraining\(/, /^}/, /^function batchNormOps\(/),
        'main/engine/nn/batchnorm-fused.ts',
      ],
      // Its focused tests (naive loops, and the fused kernels against the ops on wasm and cpu; seconds
      // here): golden-steps.test.ts checks it against PyTorch in whole training steps, too slow to run
      // once per mutant on this machine.
      tests: ['test/engine/nn/batchnorm.test.ts', 'test/engine/nn/batchnorm-fused.test.ts'],
    },
    {
      // Jigsaw batch building: patch geometry, per-patch augmentation and crop, the batch-wide shuffle and tiling.
      name: 'jigsaw',
      mutate: [span('main/data/jigsaw.ts', /^function axisSpans\(/, /^}/, /^function cropAndResize\(/)],
      tests: ['test/data/jigsaw.test.ts', 'test/data/reference.test.ts', 'test/engine/jigclu/feature-rows.test.ts'],
    },
    // The decoupling against PyTorch's values (the committed fixture), its matrices and its kernel.
    { name: 'decouple', mutate: ['main/engine/jigclu/decouple.ts'], tests: ['test/engine/jigclu/decouple.test.ts'] },
    { name: 'knn', mutate: ['main/engine/analysis/knn.ts'], tests: ['test/engine/analysis/knn.test.ts'] },
    {
      // The k-means update: cluster sums, the centroid update (empty clusters included) and the
      // Lloyd loop, against the fast naive-reference tests (kmeans.test.ts's backends take ~40 min here).
      name: 'kmeans-update',
      mutate: [span('main/engine/analysis/kmeans.ts', /^export class ClusterSums/, /^\/\*\* Seeding, Lloyd iterations/), span('main/engine/analysis/kmeans.ts', /^ {4}let labels = new Int32Array\(n\);/, /^ {4}return \{ assignments/)],
      tests: ['test/engine/analysis/kmeans-update.test.ts'],
    },
  ];
}

import * as tf from '../../../main/engine/backend/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { baseTemperature, locationLoss, supCluLoss } from '../../../main/engine/jigclu/losses';
import { seeded, useCpuBackend } from '../../helpers/engine';

beforeAll(useCpuBackend);

/** The reference SupConLoss (one view), written loop by loop in plain numbers. */
function naiveSupClu(z: number[][], labels: number[], t: number): number {
  const n = z.length;
  const dot = (a: number[], b: number[]) => a.reduce((sum, v, i) => sum + v * b[i]!, 0);
  let total = 0;
  for (let i = 0; i < n; i += 1) {
    const logits = z.map((zj) => dot(z[i]!, zj) / t);
    const max = Math.max(...logits); // includes the diagonal, as the reference does
    const shifted = logits.map((l) => l - max);
    let denominator = 0;
    for (let k = 0; k < n; k += 1) if (k !== i) denominator += Math.exp(shifted[k]!);
    let sum = 0;
    let positives = 0;
    for (let j = 0; j < n; j += 1) {
      if (j === i || labels[j] !== labels[i]) continue;
      sum += shifted[j]! - Math.log(denominator);
      positives += 1;
    }
    total += -(t / baseTemperature) * (sum / positives);
  }
  return total / n;
}

function naiveCrossEntropy(logits: number[][], labels: number[]): number {
  let total = 0;
  logits.forEach((row, i) => {
    const max = Math.max(...row);
    const logSum = Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0)) + max;
    total += logSum - row[labels[i]!]!;
  });
  return total / logits.length;
}

/** n images x m*m patches, embeddings L2-normalised, labels in a shuffled order. */
function fixture(n: number, m: number, dim: number, seed: number): { z: number[][]; labels: number[] } {
  const random = seeded(seed);
  const labels = Array.from({ length: n * m * m }, (_, i) => Math.floor(i / (m * m)));
  for (let i = labels.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [labels[i], labels[j]] = [labels[j]!, labels[i]!];
  }
  const z = labels.map(() => {
    const v = Array.from({ length: dim }, () => random() * 2 - 1);
    const norm = Math.hypot(...v);
    return v.map((x) => x / norm);
  });
  return { z, labels };
}

describe('SupClu cluster loss', () => {
  for (const m of [2, 3]) {
    for (const t of [0.07, 0.3]) {
      it(`equals the loop-by-loop reference for m = ${m}, t = ${t} (to 1e-5)`, () => {
        const { z, labels } = fixture(6, m, 16, 100 * m + t * 100);
        const expected = naiveSupClu(z, labels, t);
        const actual = tf.tidy(() => supCluLoss(tf.tensor2d(z), tf.tensor1d(labels, 'int32'), t).dataSync()[0]!);
        expect(Math.abs(actual - expected) / Math.max(1, Math.abs(expected))).toBeLessThan(1e-5);
      });
    }
  }

  it('equals the reference for any labelling and any embedding norms (images with 1 to 5 patches)', () => {
    // SupConLoss is defined for any features and labels: groups of unequal size make each row's
    // denominator count, and rows of unequal norm make each row's max differ.
    const random = seeded(77);
    const labels = [0, 1, 1, 2, 2, 2, 2, 2, 3, 3, 3, 0];
    const z = labels.map(() => Array.from({ length: 5 }, () => (random() * 2 - 1) * (0.5 + random())));
    const expected = naiveSupClu(z, labels, 0.2);
    const actual = tf.tidy(() => supCluLoss(tf.tensor2d(z), tf.tensor1d(labels, 'int32'), 0.2).dataSync()[0]!);
    expect(Math.abs(actual - expected) / Math.abs(expected)).toBeLessThan(1e-5);
  });

  it('stays finite at the smallest temperature a run may use (t = 0.01: logits from -100 to 100)', () => {
    const { labels } = fixture(4, 2, 3, 5);
    // Half the patches point one way and half the other: logits of +-1 / t.
    const z = labels.map((_, i) => (i % 2 === 0 ? [1, 0, 0] : [-1, 0, 0]));
    const actual = tf.tidy(() => supCluLoss(tf.tensor2d(z), tf.tensor1d(labels, 'int32'), 0.01).dataSync()[0]!);
    expect(Number.isFinite(actual)).toBe(true);
    expect(Math.abs(actual - naiveSupClu(z, labels, 0.01)) / Math.abs(naiveSupClu(z, labels, 0.01))).toBeLessThan(1e-5);
  });

  it('is scaled by t / 0.07: the same logits give proportionally the same loss', () => {
    const { z, labels } = fixture(4, 2, 8, 9);
    // z scaled by sqrt(2) at t = 0.14 gives the same logits as z at t = 0.07, so the loss doubles.
    const at007 = tf.tidy(() => supCluLoss(tf.tensor2d(z), tf.tensor1d(labels, 'int32'), 0.07).dataSync()[0]!);
    const at014 = tf.tidy(() => supCluLoss(tf.mul(tf.tensor2d(z), Math.SQRT2) as tf.Tensor2D, tf.tensor1d(labels, 'int32'), 0.14).dataSync()[0]!);
    expect(at014 / at007).toBeCloseTo(2, 5);
  });

  it('is lower when patches of one image agree than when they do not', () => {
    const labels = [0, 0, 1, 1];
    const aligned = [[1, 0], [1, 0], [0, 1], [0, 1]];
    const crossed = [[1, 0], [0, 1], [1, 0], [0, 1]];
    const loss = (z: number[][]) => tf.tidy(() => supCluLoss(tf.tensor2d(z), tf.tensor1d(labels, 'int32'), 0.3).dataSync()[0]!);
    expect(loss(aligned)).toBeLessThan(loss(crossed));
  });

  it('has gradients equal to finite differences', () => {
    const { z, labels } = fixture(3, 2, 4, 3);
    const lossOf = (x: tf.Tensor2D) => supCluLoss(x, tf.tensor1d(labels, 'int32'), 0.3);
    const analytic = tf.tidy(() => tf.grad((x: tf.Tensor) => lossOf(x as tf.Tensor2D))(tf.tensor2d(z)).arraySync() as number[][]);
    const eps = 1e-3;
    for (const [i, j] of [[0, 0], [3, 2], [5, 1]] as const) {
      const plus = z.map((row) => [...row]);
      const minus = z.map((row) => [...row]);
      plus[i]![j]! += eps;
      minus[i]![j]! -= eps;
      const numeric = (naiveSupClu(plus, labels, 0.3) - naiveSupClu(minus, labels, 0.3)) / (2 * eps);
      expect(analytic[i]![j]!).toBeCloseTo(numeric, 2);
    }
  });
});

describe('location loss', () => {
  for (const m of [2, 3]) {
    it(`equals the loop-by-loop cross entropy for m = ${m}`, () => {
      const random = seeded(m);
      const logits = Array.from({ length: 10 }, () => Array.from({ length: m * m }, () => random() * 6 - 3));
      const labels = logits.map(() => Math.floor(random() * m * m));
      const actual = tf.tidy(() => locationLoss(tf.tensor2d(logits), tf.tensor1d(labels, 'int32')).dataSync()[0]!);
      expect(actual).toBeCloseTo(naiveCrossEntropy(logits, labels), 5);
    });
  }
});

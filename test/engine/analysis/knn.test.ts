import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolvePretrainConfig } from '../../../main/common/pretrain-config';
import { toFloatImage } from '../../../main/data/augment';
import { decodeImage } from '../../../main/data/decode';
import { evalBatch } from '../../../main/data/jigsaw';
import { knnEvaluate, type LabelledSet } from '../../../main/engine/jigclu/evaluate';
import { extractFeatures, knnAccuracy, knnPredict } from '../../../main/engine/analysis/knn';
import { loadMonitorImages, monitorAccuracy, type MonitorSet } from '../../../main/engine/jigclu/monitor';
import { ResNet } from '../../../main/engine/nn/resnet';
import * as tf from '../../../main/engine/backend/tfjs';
import { JigCluTrainer } from '../../../main/engine/jigclu/trainer';
import { seeded, useCpuBackend } from '../../helpers/engine';

beforeAll(useCpuBackend);

/**
 * The metrics that judge quality, against loops written from their definitions: weighted kNN
 * (InstDisc's monitor: the k most cosine-similar bank rows vote for their class with weight
 * exp(sim / t)), the features it runs on (inference-mode backbone, global average pool, L2
 * norm), knnEvaluate, and the training run's kNN monitor on a hand-made image set.
 */

/** Weighted kNN, loop by loop: sort the bank by similarity, the first k vote exp(sim / t). */
function naiveKnn(
  bank: number[][],
  bankLabels: number[],
  queries: number[][],
  classes: number,
  k: number,
  t: number,
): number[] {
  return queries.map((q) => {
    const ranked = bank
      .map((row, i) => ({ sim: row.reduce((s, v, j) => s + v * q[j]!, 0), label: bankLabels[i]! }))
      .sort((a, b) => b.sim - a.sim);
    const votes = new Array<number>(classes).fill(0);
    for (const { sim, label } of ranked.slice(0, Math.min(k, ranked.length)))
      votes[label]! += Math.exp(sim / t);
    return votes.indexOf(Math.max(...votes));
  });
}

function unitRows(count: number, dim: number, random: () => number): number[][] {
  return Array.from({ length: count }, () => {
    const v = Array.from({ length: dim }, () => random() * 2 - 1);
    const norm = Math.hypot(...v);
    return v.map((x) => x / norm);
  });
}

const flat = (rows: number[][]) => Float32Array.from(rows.flat());

describe('weighted kNN', () => {
  // 300 queries: more than one chunk of 256.
  const random = seeded(21);
  const dim = 6;
  const bank = unitRows(90, dim, random);
  const bankLabels = bank.map(() => Math.floor(random() * 5));
  const queries = unitRows(300, dim, random);

  for (const [k, t] of [
    [1, 0.1],
    [7, 0.1],
    [20, 0.05],
    [20, 1],
    [200, 0.1],
  ] as const) {
    it(`predicts what the loop does for k = ${k}, t = ${t}${k > 90 ? ' (k clamped to the 90 bank rows)' : ''}`, async () => {
      const expected = naiveKnn(bank, bankLabels, queries, 5, k, t);
      const predicted = await knnPredict(
        { features: flat(bank), labels: Int32Array.from(bankLabels) },
        flat(queries),
        dim,
        5,
        { k, temperature: t },
      );
      expect(Array.from(predicted)).toEqual(expected);
    });
  }

  it('the settings matter: k = 1, 7 and 200 and t = 0.05 and 1 do not all agree on these 300 queries', async () => {
    const answers = [
      [1, 0.1],
      [7, 0.1],
      [200, 0.05],
      [200, 1],
    ].map(([k, t]) => naiveKnn(bank, bankLabels, queries, 5, k!, t!).join(','));
    expect(new Set(answers).size).toBe(answers.length);
  });

  it('weights votes by exp(sim / t): one close neighbour outvotes two far ones at t = 0.1, not at t = 10', async () => {
    // Bank: class 0 at similarity 0.9 to the query, class 1 twice at similarity 0.1.
    const far = Math.sqrt(1 - 0.1 ** 2);
    const close = Math.sqrt(1 - 0.9 ** 2);
    const bankRows = [
      [0.9, close, 0],
      [0.1, 0, far],
      [0.1, -far, 0],
    ];
    const train = { features: flat(bankRows), labels: Int32Array.from([0, 1, 1]) };
    const query = Float32Array.from([1, 0, 0]);
    expect(Array.from(await knnPredict(train, query, 3, 2, { k: 3, temperature: 0.1 }))).toEqual([0]);
    expect(Array.from(await knnPredict(train, query, 3, 2, { k: 3, temperature: 10 }))).toEqual([1]);
    // With k = 1 only the nearest votes, whatever t is.
    expect(Array.from(await knnPredict(train, query, 3, 2, { k: 1, temperature: 10 }))).toEqual([0]);
  });

  it('knnAccuracy is the share of queries predicted right (0 with no queries), with k = 200 and t = 0.1 by default', async () => {
    const labels = queries.map((_, i) => i % 5);
    const expected = naiveKnn(bank, bankLabels, queries, 5, 200, 0.1);
    const right = expected.filter((p, i) => p === labels[i]).length;
    expect(
      await knnAccuracy(
        { features: flat(bank), labels: Int32Array.from(bankLabels) },
        { features: flat(queries), labels: Int32Array.from(labels) },
        dim,
        5,
      ),
    ).toBeCloseTo(right / 300, 10);
    expect(
      await knnAccuracy(
        { features: flat(bank), labels: Int32Array.from(bankLabels) },
        { features: new Float32Array(0), labels: new Int32Array(0) },
        dim,
        5,
      ),
    ).toBe(0);
  });

  it('leaves no tensor behind', async () => {
    const before = tf.memory().numTensors;
    await knnPredict({ features: flat(bank), labels: Int32Array.from(bankLabels) }, flat(queries), dim, 5);
    expect(tf.memory().numTensors).toBe(before);
  });
});

/** A small image set: `count` random 32 x 32 images, ImageNet-normalised NHWC. */
function randomImages(count: number, size: number, seed: number): Float32Array {
  const random = seeded(seed);
  return Float32Array.from({ length: count * size * size * 3 }, () => random() * 4 - 2);
}

describe('features and knnEvaluate', () => {
  const backbone = new ResNet({ arch: 'resnet18', width: 0.0625 }, 9);
  afterAll(() => backbone.params.dispose());

  it('extractFeatures is the L2-normalised global average of the inference-mode feature map, in batches', async () => {
    const images = randomImages(5, 32, 3);
    // Batches of 2: 2 + 2 + 1 images.
    const features = await extractFeatures(backbone, images, 5, 32, 2, 'fast');
    const d = backbone.outChannels;
    const map = tf.tidy(() =>
      backbone
        .forward(tf.tensor4d(images, [5, 32, 32, 3]), { training: false, convGrad: 'native' })
        .arraySync(),
    );
    for (let i = 0; i < 5; i += 1) {
      const pooled = new Array<number>(d).fill(0);
      const rows = map[i]!;
      const cells = rows.length * rows[0]!.length;
      for (const row of rows) for (const cell of row) cell.forEach((v, c) => (pooled[c]! += v / cells));
      const norm = Math.hypot(...pooled);
      for (let c = 0; c < d; c += 1) expect(features[i * d + c]!).toBeCloseTo(pooled[c]! / norm, 5);
    }
    // The defaults (batches of 64, the gradient mode irrelevant to a forward pass) give the same.
    expect(Array.from(await extractFeatures(backbone, images, 5, 32))).toEqual(Array.from(features));
  });

  it('knnEvaluate is weighted kNN of the train features voting for the test features', async () => {
    const make = (count: number, seed: number): LabelledSet => ({
      classNames: ['a', 'b', 'c'],
      labels: Int32Array.from({ length: count }, (_, i) => i % 3),
      images: randomImages(count, 32, seed),
      size: 32,
      rejected: 0,
    });
    const train = make(12, 4);
    const test = make(9, 5);
    const d = backbone.outChannels;
    const rows = async (set: LabelledSet) => {
      const features = await extractFeatures(backbone, set.images, set.labels.length, set.size, 64, 'fast');
      return Array.from({ length: set.labels.length }, (_, i) =>
        Array.from(features.subarray(i * d, (i + 1) * d)),
      );
    };
    for (const [k, t] of [
      [3, 0.1],
      [200, 0.5],
    ] as const) {
      const predicted = naiveKnn(await rows(train), Array.from(train.labels), await rows(test), 3, k, t);
      const accuracy = predicted.filter((p, i) => p === test.labels[i]).length / 9;
      expect(await knnEvaluate(backbone, train, test, 'fast', k, t), `k ${k}, t ${t}`).toBeCloseTo(
        accuracy,
        10,
      );
    }
  });
});

describe('the kNN monitor on a hand-made set', () => {
  let dir: string;
  const trainers: JigCluTrainer[] = [];
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-monitor-'));
  });
  afterAll(() => {
    trainers.forEach((t) => t.dispose());
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** A 48 x 40 PNG of random pixels around `colour` (the short side is resized to the evaluation size). */
  async function png(name: string, colour: [number, number, number], seed: number): Promise<string> {
    const random = seeded(seed);
    const pixels = Buffer.alloc(48 * 40 * 3);
    for (let i = 0; i < pixels.length; i += 1)
      pixels[i] = Math.max(0, Math.min(255, colour[i % 3]! + Math.floor(random() * 60) - 30));
    const file = path.join(dir, name);
    await sharp(pixels, { raw: { width: 48, height: 40, channels: 3 } })
      .png()
      .toFile(file);
    return file;
  }

  it('decodes the set, leaves out what fails to decode, and scores the queries against the bank', async () => {
    const red: [number, number, number] = [220, 40, 30];
    const blue: [number, number, number] = [30, 60, 220];
    const broken = path.join(dir, 'broken.png');
    fs.writeFileSync(broken, 'not an image');
    const set: MonitorSet = {
      files: [
        await png('r1.png', red, 1),
        await png('b1.png', blue, 2),
        broken,
        await png('r2.png', red, 3),
        await png('b2.png', blue, 4),
        await png('r3.png', red, 5),
        await png('b3.png', blue, 6),
      ],
      labels: [0, 1, 1, 0, 1, 0, 1],
      query: [false, false, true, false, false, true, true],
      classes: 2,
    };
    const config = resolvePretrainConfig('cpu-small', { width: 0.0625, seed: 2 });
    const monitor = await loadMonitorImages(set, 64);
    expect(monitor.skipped).toBe(1);
    expect(monitor.bank).toEqual({ index: [0, 1, 2, 3], labels: Int32Array.from([0, 1, 0, 1]) });
    expect(monitor.queries).toEqual({ index: [4, 5], labels: Int32Array.from([0, 1]) });
    // The images are the decoded files, short side resized and centre-cropped to 64.
    const decoded = await decodeImage(set.files[5]!, { shortSide: 64 });
    const expectedR3 = evalBatch([toFloatImage(decoded.data, decoded.width, decoded.height)], 64);
    expect(Array.from(monitor.images.subarray(4 * expectedR3.length, 5 * expectedR3.length))).toEqual(
      Array.from(expectedR3),
    );

    const trainer = new JigCluTrainer(config, 'fast');
    trainers.push(trainer);
    const d = trainer.model.backbone.outChannels;
    const features = await extractFeatures(trainer.model.backbone, monitor.images, 6, 64, 64, 'fast');
    const rows = Array.from({ length: 6 }, (_, i) => Array.from(features.subarray(i * d, (i + 1) * d)));
    const predicted = naiveKnn(rows.slice(0, 4), [0, 1, 0, 1], rows.slice(4), 2, 200, 0.1);
    const expected = predicted.filter((p, i) => p === [0, 1][i]).length / 2;
    expect(await monitorAccuracy(trainer, monitor)).toBeCloseTo(expected, 10);
    // Red and blue noise images are told apart even by random-init features.
    expect(await monitorAccuracy(trainer, monitor)).toBe(1);
    // And a monitor without queries scores 0 rather than dividing by zero.
    expect(
      await monitorAccuracy(trainer, { ...monitor, queries: { index: [], labels: new Int32Array(0) } }),
    ).toBe(0);
  });
});

import { afterAll, bench, describe } from 'vitest';
import { referenceAugmentation, type FloatImage } from '../../main/data/augment';
import { makeJigsawBatch, type JigsawConfig } from '../../main/data/jigsaw';
import { Rng } from '../../main/data/rng';

/**
 * Throughput of the data pipeline: one `makeJigsawBatch` call per op (n = 32 images cut into
 * 2 x 2 patches, each augmented with the reference pipeline, shuffled and tiled). vitest prints
 * batches/s as hz; images/s (= batches/s x 32) is printed at the end, by wall clock and per
 * CPU-second (the latter is steadier on a busy machine). It runs on one thread, so it has to
 * outpace training by a wide margin (> 1000 images/s for cpu-small).
 */
const n = 32;

function randomImages(count: number, size: number, seed: number): FloatImage[] {
  const rng = new Rng(seed);
  return Array.from({ length: count }, () => {
    const data = new Float32Array(size * size * 3);
    for (let i = 0; i < data.length; i++) data[i] = rng.next();
    return { data, width: size, height: size };
  });
}

const cases: { name: string; images: FloatImage[]; config: JigsawConfig }[] = [
  {
    name: 'cpu-small: crop 32 from 64x64 (64 px montages)',
    images: randomImages(n, 64, 1),
    config: { grid: 2, crop: 32, cross: 0.3, augmentation: referenceAugmentation },
  },
  {
    name: 'resnet18: crop 56 from 128x128 (112 px montages)',
    images: randomImages(n, 128, 2),
    config: { grid: 2, crop: 56, cross: 0.3, augmentation: referenceAugmentation },
  },
  {
    name: 'cpu-small, no augmentation (resize only)',
    images: randomImages(n, 64, 3),
    config: { grid: 2, crop: 32, cross: 0.3, augmentation: null },
  },
];

const timing = new Map<string, { ms: number; cpuMs: number; batches: number }>();

afterAll(() => {
  for (const [name, { ms, cpuMs, batches }] of timing) {
    const perSecond = (batches * 1000) / ms;
    const perCpuSecond = (batches * 1000) / cpuMs;
    console.log(
      `${name}: ${perSecond.toFixed(1)} batches/s, ${(perSecond * n).toFixed(0)} images/s wall; ` +
        `${(perCpuSecond * n).toFixed(0)} images per CPU-second (n = ${n}, one thread)`,
    );
  }
});

describe(`makeJigsawBatch, n = ${n}`, () => {
  for (const { name, images, config } of cases) {
    const rng = new Rng(7);
    let calls = 0;
    bench(
      name,
      () => {
        // The first calls run while V8 is still compiling: left out of the printed rates.
        if (calls++ < 10) {
          makeJigsawBatch(images, config, rng);
          return;
        }
        const start = performance.now();
        const cpu = process.cpuUsage();
        makeJigsawBatch(images, config, rng);
        const used = process.cpuUsage(cpu);
        const entry = timing.get(name) ?? { ms: 0, cpuMs: 0, batches: 0 };
        entry.ms += performance.now() - start;
        entry.cpuMs += (used.user + used.system) / 1000;
        entry.batches += 1;
        timing.set(name, entry);
      },
      { time: 3000, warmupIterations: 10 },
    );
  }
});

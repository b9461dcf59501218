import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, bench, describe } from 'vitest';
import { resolvePretrainConfig, type PresetName } from '../../main/common/pretrain-config';
import { wasmDirectory } from '../../main/engine/backend/backend';
import { extractFeatures } from '../../main/engine/analysis/knn';
import { ResNet } from '../../main/engine/nn/resnet';
import * as tf from '../../main/engine/backend/tfjs';

/**
 * Embedding throughput (issue: clusters): images/s of backbone features (inference-mode
 * forward pass, global average pool, L2 norm) per preset, at the size the app embeds at
 * (grid x crop), on the wasm engine (the best one here). Image decoding is not included.
 * vitest prints each preset's speed relative to cpu-small, measured in the same run.
 */
setWasmPaths(wasmDirectory());

const presetsUnderTest: [PresetName, number][] = [
  ['cpu-small', 64],
  ['resnet18', 16],
  ['paper', 4],
];
const measured = new Map<string, { images: number; seconds: number }>();

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
});

afterAll(() => {
  for (const [name, { images, seconds }] of measured) console.log(`embedding ${name}: ${(images / seconds).toFixed(1)} images/s`);
});

describe('embedding throughput on wasm', () => {
  for (const [preset, count] of presetsUnderTest) {
    const config = resolvePretrainConfig(preset);
    const size = config.grid * config.crop;
    // Built on first use (the warm-up call), once the wasm backend is ready.
    let backbone: ResNet | undefined;
    const images = new Float32Array(count * size * size * 3).map(() => Math.random() * 2 - 1);
    const name = `${preset}: ${count} images of ${size} px per call`;
    bench(
      name,
      async () => {
        if (!backbone) {
          backbone = new ResNet({ arch: config.arch, width: config.width }, 0);
          await extractFeatures(backbone, images, count, size, 32, 'fast');
          return;
        }
        const started = performance.now();
        await extractFeatures(backbone, images, count, size, 32, 'fast');
        const entry = measured.get(preset) ?? { images: 0, seconds: 0 };
        measured.set(preset, { images: entry.images + count, seconds: entry.seconds + (performance.now() - started) / 1000 });
      },
      { iterations: 3, warmupIterations: 1, time: 0 },
    );
  }
});

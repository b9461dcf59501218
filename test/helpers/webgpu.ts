import fs from 'node:fs';
import { createRequire } from 'node:module';
import { resolvePretrainConfig } from '../../main/common/pretrain-config';
import type { JigsawBatch } from '../../main/data/jigsaw';
import { seeded } from './engine';

/**
 * The WebGPU tests run on Chromium's SwiftShader (a Vulkan implementation on the CPU): this
 * machine has no GPU, and Dawn refuses Debian 12's lavapipe. Chromium is what the e2e tests
 * already install (.ci/run), and it ships the ICD.
 */
export const swiftShaderIcd = '/usr/lib/chromium/vk_swiftshader_icd.json';

/**
 * Why the WebGPU tests cannot run here (undefined when they can), printed with the skip. Points
 * the Vulkan loader at SwiftShader unless VK_ICD_FILENAMES already names a driver.
 */
export function webGpuUnavailableReason(): string | undefined {
  try {
    createRequire(import.meta.url).resolve('webgpu/package.json');
  } catch {
    return 'the optional webgpu package (Dawn) is not installed: run `npm install`.';
  }
  if (!process.env.VK_ICD_FILENAMES) {
    if (!fs.existsSync(swiftShaderIcd)) return `no SwiftShader Vulkan driver at ${swiftShaderIcd}: install Chromium (sudo apt-get install -y chromium).`;
    process.env.VK_ICD_FILENAMES = swiftShaderIcd;
  }
  return undefined;
}

/** Largest absolute difference over the largest magnitude of the reference (0 when both are 0). */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) return Number.POSITIVE_INFINITY;
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i += 1) {
    diff = Math.max(diff, Math.abs(actual[i]! - expected[i]!));
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  return scale === 0 ? diff : diff / scale;
}

/** `length` seeded values in [-scale, scale). */
export function seededValues(length: number, seed: number, scale = 1): Float32Array {
  const next = seeded(seed);
  return Float32Array.from({ length }, () => (next() * 2 - 1) * scale);
}

/**
 * cpu-small's architecture at a tiny width and size: 16 px patches, 32 px montages, batch 4
 * (below the app's 32 px minimum crop, so set directly rather than through the validation).
 * SwiftShader computes on the CPU, so the WebGPU tests keep to these shapes.
 */
export const tinyStepConfig = { ...resolvePretrainConfig('cpu-small'), width: 0.125, crop: 16, batch: 4, epochs: 2, seed: 3 };

/** A jigsaw batch of tinyStepConfig's shape: seeded montages and a seeded shuffle of the patches. */
export function tinyJigsawBatch(seed: number): JigsawBatch {
  const config = tinyStepConfig;
  const n = config.batch;
  const cells = config.grid * config.grid;
  const size = config.grid * config.crop;
  const next = seeded(seed);
  const permutation = Int32Array.from({ length: n * cells }, (_, i) => i);
  for (let i = permutation.length - 1; i > 0; i -= 1) {
    const j = Math.floor(next() * (i + 1));
    [permutation[i], permutation[j]] = [permutation[j]!, permutation[i]!];
  }
  return {
    n,
    grid: config.grid,
    crop: config.crop,
    size,
    montages: seededValues(n * size * size * 3, seed),
    clusterLabels: Int32Array.from(permutation, (p) => Math.floor(p / cells)),
    locationLabels: Int32Array.from(permutation, (p) => p % cells),
    permutation,
  };
}

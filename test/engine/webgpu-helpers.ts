import fs from 'node:fs';
import { createRequire } from 'node:module';

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

/**
 * The Chromium switches the desktop app sets so its compute window gets a WebGPU adapter
 * (electron/main.ts appends them before the app is ready; the compute-host tests launch
 * Chromium with the same ones). Chromium ships WebGPU on by default on Windows, macOS and
 * ChromeOS; on Linux it is on by default only for some GPUs (Intel Gen12+ since Chromium 144,
 * NVIDIA since 147) and elsewhere, as on Windows on Arm, behind --enable-unsafe-webgpu, which
 * also lifts Chromium's GPU blocklist for WebGPU. Measured with Debian's Chromium 156 headless:
 * without the switch requestAdapter() gives null; with it alone, an adapter (SwiftShader there,
 * as that machine has no GPU). Vulkan as Chromium's compositor (--enable-features=Vulkan) was
 * not needed for WebGPU there, so it is not set: it changes how every window is drawn.
 */
export function webGpuSwitches(platform: string, arch: string): string[] {
  if (platform === 'linux' || (platform === 'win32' && arch === 'arm64')) return ['enable-unsafe-webgpu'];
  return [];
}

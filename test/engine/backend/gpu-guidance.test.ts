import { describe, expect, it } from 'vitest';
import { chooseEngine } from '../../../main/engine/backend/backend';
import type { EngineCandidate } from '../../../main/common/engine';
import { classifyGpuFailure } from '../../../main/common/gpu-guidance';

const linux = { platform: 'linux', arch: 'x64' } as const;

describe('classifyGpuFailure', () => {
  it('says the package is not installed, with the npm command and the CUDA/cuDNN versions', () => {
    const g = classifyGpuFailure({
      ...linux,
      error: { code: 'ERR_MODULE_NOT_FOUND', message: "Cannot find package '@tensorflow/tfjs-node-gpu' imported from /app/out/main/engine-probe.js" },
    });
    expect(g.issue).toBe('not-installed');
    expect(g.install).toContain('npm install @tensorflow/tfjs-node-gpu');
    expect(g.install).toContain('CUDA 11.2');
    expect(g.install).toContain('cuDNN 8.1');
  });

  it('mentions the missing NVIDIA driver when the package is absent and no driver is loaded', () => {
    const g = classifyGpuFailure({ ...linux, nvidiaDriver: false, error: { code: 'MODULE_NOT_FOUND', message: "Cannot find module '@tensorflow/tfjs-node-gpu'" } });
    expect(g.issue).toBe('not-installed');
    expect(g.reason).toMatch(/no NVIDIA driver/);
  });

  it('finds a missing CUDA driver (libcuda)', () => {
    const g = classifyGpuFailure({
      ...linux,
      error: { message: 'libcuda.so.1: cannot open shared object file: No such file or directory' },
    });
    expect(g.issue).toBe('no-cuda-driver');
    expect(g.install).toMatch(/NVIDIA driver/);
  });

  it('finds the wrong CUDA runtime version (libcudart.so.11.0)', () => {
    const g = classifyGpuFailure({
      ...linux,
      error: { message: 'libcudart.so.11.0: cannot open shared object file: No such file or directory\n    at Module._extensions..node' },
    });
    expect(g.issue).toBe('wrong-cuda');
    expect(g.reason).toContain('CUDA 11.2');
    expect(g.reason).not.toContain('\n');
    expect(g.install).toContain('CUDA 11.2');
  });

  it('finds a missing or mismatched cuDNN (libcudnn.so.8)', () => {
    expect(classifyGpuFailure({ ...linux, error: { message: 'libcudnn.so.8: cannot open shared object file' } }).issue).toBe('wrong-cudnn');
    const g = classifyGpuFailure({
      ...linux,
      error: { message: 'Loaded runtime CuDNN library: 8.0.4 but source was compiled with: 8.1.0. CuDNN library needs to have matching major version' },
    });
    expect(g.issue).toBe('wrong-cudnn');
    expect(g.install).toContain('cuDNN 8.1');
  });

  it('reports any other load failure with its message', () => {
    const g = classifyGpuFailure({ ...linux, error: { message: 'The specified module could not be found: tfjs_binding.node' } });
    expect(g.issue).toBe('load-failed');
    expect(g.reason).toContain('tfjs_binding.node');
  });

  it('says macOS and Windows are not supported and points to tfjs-node', () => {
    for (const platform of ['darwin', 'win32']) {
      const g = classifyGpuFailure({ platform, arch: 'arm64', error: { code: 'ERR_MODULE_NOT_FOUND', message: "Cannot find package '@tensorflow/tfjs-node-gpu'" } });
      expect(g.issue).toBe('unsupported-platform');
      expect(g.install).toContain('@tensorflow/tfjs-node');
    }
  });

  it('is ok when the GPU engine loaded', () => {
    expect(classifyGpuFailure({ ...linux, error: null }).issue).toBe('ok');
  });
});

describe('the engine report carries the GPU guidance', () => {
  const guidance = classifyGpuFailure({ ...linux, error: { code: 'ERR_MODULE_NOT_FOUND', message: "Cannot find package '@tensorflow/tfjs-node-gpu'" } });
  const candidates: EngineCandidate[] = [
    { name: 'tfjs-node-gpu', available: false, reason: 'not installed', guidance },
    { name: 'tfjs-node', available: false, reason: 'not installed' },
    { name: 'wasm', available: true, reason: 'ok' },
    { name: 'cpu', available: true, reason: 'ok' },
  ];

  it('on auto: why the GPU is not used', () => {
    const report = chooseEngine(candidates, 'auto', 1);
    expect(report.chosen).toBe('wasm');
    expect(report.gpu?.issue).toBe('not-installed');
  });

  it('when the settings force a CPU engine: says so, and what the GPU would still need', () => {
    const report = chooseEngine(candidates, 'wasm', 1);
    expect(report.gpu?.issue).toBe('forced-cpu');
    expect(report.gpu?.reason).toMatch(/force a CPU engine.*not installed/);
    expect(report.gpu?.install).toContain('npm install');
    const withGpu = chooseEngine([{ name: 'tfjs-node-gpu', available: true, reason: 'ok' }, ...candidates.slice(1)], 'wasm', 1);
    expect(withGpu.chosen).toBe('wasm');
    expect(withGpu.gpu?.issue).toBe('forced-cpu');
    expect(chooseEngine([{ name: 'tfjs-node-gpu', available: true, reason: 'ok' }, ...candidates.slice(1)], 'auto', 1).gpu).toBeUndefined();
  });
});

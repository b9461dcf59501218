import { describe, expect, it } from 'vitest';
import { engineDisplayName, engineNames, type EngineCandidate, type EngineName, type GpuAdapterReport } from '../../../main/common/engine';
import { gpuBatchProblem, largestActivationBytes } from '../../../main/common/pretrain-config';
import { chooseEngine, probeEngines } from '../../../main/engine/backend/backend';

/** Candidates in contract order with the given engines available. */
function candidates(available: EngineName[]): EngineCandidate[] {
  return engineNames.map((name) => ({
    name,
    available: available.includes(name),
    reason: available.includes(name) ? `${name} works` : `${name} missing-because-test`,
  }));
}

describe('chooseEngine', () => {
  it.each<[EngineName[], EngineName]>([
    [['tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'], 'tfjs-node-gpu'],
    [['tfjs-node', 'wasm', 'cpu'], 'tfjs-node'],
    [['wasm', 'cpu'], 'wasm'],
    [['cpu'], 'cpu'],
    [['cpu', 'tfjs-node'], 'tfjs-node'],
  ])('auto with %j available picks %s', (available, expected) => {
    const report = chooseEngine(candidates(available), 'auto', 12);
    expect(report.chosen).toBe(expected);
    expect(report.requested).toBe('auto');
    expect(report.fallbackReason).toBeUndefined();
    expect(report.probeMs).toBe(12);
    expect(report.candidates).toEqual(candidates(available));
  });

  it('picks the best by engine order, not by the order of the candidate list', () => {
    const reversed = candidates(['tfjs-node', 'wasm', 'cpu']).reverse();
    expect(chooseEngine(reversed, 'auto', 0).chosen).toBe('tfjs-node');
  });

  it('uses a requested engine that is available, even when a better one is', () => {
    const report = chooseEngine(candidates(['tfjs-node', 'wasm', 'cpu']), 'cpu', 5);
    expect(report.chosen).toBe('cpu');
    expect(report.requested).toBe('cpu');
    expect(report.fallbackReason).toBeUndefined();
  });

  it('falls back from a requested engine that is unavailable, naming both and why', () => {
    const report = chooseEngine(candidates(['wasm', 'cpu']), 'tfjs-node-gpu', 5);
    expect(report.chosen).toBe('wasm');
    expect(report.requested).toBe('tfjs-node-gpu');
    expect(report.fallbackReason).toBeDefined();
    expect(report.fallbackReason).toContain('tfjs-node-gpu');
    expect(report.fallbackReason).toContain('wasm');
    expect(report.fallbackReason).toContain('tfjs-node-gpu missing-because-test');
  });

  it('falls back to the best available, here the last one', () => {
    const report = chooseEngine(candidates(['cpu']), 'wasm', 5);
    expect(report.chosen).toBe('cpu');
    expect(report.fallbackReason).toContain('wasm');
    expect(report.fallbackReason).toContain('cpu');
  });

  it('falls back when the requested engine was not probed at all', () => {
    const partial = candidates(['cpu']).filter((candidate) => candidate.name !== 'tfjs-node');
    const report = chooseEngine(partial, 'tfjs-node', 5);
    expect(report.chosen).toBe('cpu');
    expect(report.fallbackReason).toContain('tfjs-node');
  });
});

describe('chooseEngine with WebGPU', () => {
  const adapter = (software: boolean): GpuAdapterReport => ({
    vendor: software ? 'google' : 'nvidia',
    architecture: software ? 'swiftshader' : 'ada',
    device: software ? 'swiftshader-device-subzero-' : 'NVIDIA GeForce RTX 4090',
    description: software ? 'SwiftShader driver 5.0.0' : 'NVIDIA: 550.54.14',
    api: 'Vulkan',
    software,
    limits: { maxBufferSize: 2 ** 32, maxStorageBufferBindingSize: 2 ** 31 },
  });
  const withWebGpu = (available: EngineName[], software: boolean): EngineCandidate[] =>
    candidates(available).map((c) => (c.name === 'webgpu' ? { ...c, adapter: adapter(software), ...(software ? { onlyWhenAsked: true } : {}) } : c));

  it('picks a hardware adapter automatically, after the CUDA engine and before the CPU ones', () => {
    expect(chooseEngine(withWebGpu(['webgpu', 'tfjs-node', 'wasm', 'cpu'], false), 'auto', 0).chosen).toBe('webgpu');
    expect(chooseEngine(withWebGpu(['tfjs-node-gpu', 'webgpu', 'wasm', 'cpu'], false), 'auto', 0).chosen).toBe('tfjs-node-gpu');
  });

  it('never picks a software adapter automatically, but uses it when asked for', () => {
    const auto = chooseEngine(withWebGpu(['webgpu', 'wasm', 'cpu'], true), 'auto', 0);
    expect(auto.chosen).toBe('wasm');
    const asked = chooseEngine(withWebGpu(['webgpu', 'wasm', 'cpu'], true), 'webgpu', 0);
    expect(asked.chosen).toBe('webgpu');
    expect(asked.fallbackReason).toBeUndefined();
  });

  it('names the engine as a person reads it, and says training runs on the GPU through WebGPU', () => {
    const report = chooseEngine(withWebGpu(['webgpu', 'wasm', 'cpu'], false), 'auto', 0);
    expect(engineDisplayName(report)).toBe('WebGPU, NVIDIA GeForce RTX 4090 via Vulkan');
    expect(report.gpu?.issue).toBe('webgpu');
    expect(report.gpu?.reason).toMatch(/^Training runs on the GPU through WebGPU/);
    const software = chooseEngine(withWebGpu(['webgpu', 'wasm', 'cpu'], true), 'webgpu', 0);
    expect(engineDisplayName(software)).toBe('WebGPU, SwiftShader driver 5.0.0 via Vulkan (software adapter, no GPU)');
    expect(engineDisplayName(chooseEngine(candidates(['wasm', 'cpu']), 'auto', 0))).toBe('WebAssembly (CPU)');
  });

  it("adds WebGPU's reason and remedy to the guidance when no GPU engine is used", () => {
    const list = candidates(['wasm', 'cpu']).map((c) =>
      c.name === 'tfjs-node-gpu'
        ? { ...c, guidance: { issue: 'not-installed' as const, reason: 'tfjs-node-gpu is not installed.', install: 'Install CUDA.' } }
        : c.name === 'webgpu'
          ? { ...c, reason: 'No WebGPU adapter over Vulkan.', remedy: 'Install libvulkan1.' }
          : c,
    );
    const report = chooseEngine(list, 'auto', 0);
    expect(report.gpu?.reason).toContain('No WebGPU adapter over Vulkan.');
    expect(report.gpu?.install).toContain('Install libvulkan1.');
    expect(report.gpu?.install).toContain('Install CUDA.');
  });
});

describe('gpuBatchProblem', () => {
  const config = { arch: 'resnet18' as const, width: 1, grid: 2 as const, crop: 112, batch: 256 };
  it('passes a batch whose largest feature map fits the binding limit', () => {
    expect(largestActivationBytes(config)).toBe(4 * 256 * 112 * 112 * 64);
    expect(gpuBatchProblem(config, { maxBufferSize: 2 ** 32, maxStorageBufferBindingSize: 2 ** 31 })).toBeUndefined();
  });
  it('names the batch size, the limit and the batch that fits when it does not', () => {
    const problem = gpuBatchProblem(config, { maxBufferSize: 2 ** 28, maxStorageBufferBindingSize: 2 ** 27 });
    expect(problem).toContain('A batch of 256');
    expect(problem).toContain('limit of 128 MiB');
    expect(problem).toContain(`at most ${Math.floor(2 ** 27 / (4 * 112 * 112 * 64))}`);
  });
});

describe('probeEngines in this environment', () => {
  it('reports every engine, picks the first available one and explains every unavailable one', async () => {
    const report = await probeEngines('auto');

    expect(report.requested).toBe('auto');
    expect(report.fallbackReason).toBeUndefined();
    expect(report.candidates.map((candidate) => candidate.name)).toEqual([...engineNames]);
    expect(report.probeMs).toBeGreaterThan(0);

    // A software WebGPU adapter works but is never picked automatically.
    const firstAvailable = report.candidates.find((candidate) => candidate.available && !candidate.onlyWhenAsked);
    expect(firstAvailable).toBeDefined();
    expect(report.chosen).toBe(firstAvailable?.name);

    const cpu = report.candidates.find((candidate) => candidate.name === 'cpu');
    expect(cpu?.available).toBe(true);

    for (const candidate of report.candidates) {
      expect(typeof candidate.reason, candidate.name).toBe('string');
      expect(candidate.reason.trim().length, candidate.name).toBeGreaterThan(0);
    }
    for (const candidate of report.candidates.filter((c) => !c.available)) {
      // A native engine that is not usable says what to do about it.
      if (candidate.name === 'tfjs-node-gpu' || candidate.name === 'tfjs-node' || candidate.name === 'webgpu') {
        expect(candidate.remedy?.trim().length ?? 0, candidate.name).toBeGreaterThan(0);
      }
    }
  }, 60_000);
});

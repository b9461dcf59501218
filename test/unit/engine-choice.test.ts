import { describe, expect, it } from 'vitest';
import { engineNames, type EngineCandidate, type EngineName } from '../../main/common/engine';
import { chooseEngine, probeEngines } from '../../main/engine/backend';

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

describe('probeEngines in this environment', () => {
  it('reports every engine, picks the first available one and explains every unavailable one', async () => {
    const report = await probeEngines('auto');

    expect(report.requested).toBe('auto');
    expect(report.fallbackReason).toBeUndefined();
    expect(report.candidates.map((candidate) => candidate.name)).toEqual([...engineNames]);
    expect(report.probeMs).toBeGreaterThan(0);

    const firstAvailable = report.candidates.find((candidate) => candidate.available);
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
      if (candidate.name === 'tfjs-node-gpu' || candidate.name === 'tfjs-node') {
        expect(candidate.remedy?.trim().length ?? 0, candidate.name).toBeGreaterThan(0);
      }
    }
  }, 60_000);
});

import { describe, expect, it } from 'vitest';
import { evalSizeFor, presetNames, resolvePretrainConfig } from '../../main/common/pretrain-config';

/** The README's rule (Representation quality): a backbone is used at its patch size s, not the montage side. */
describe('evalSizeFor', () => {
  it('is the patch size of every preset and of a 3 x 3 grid, not the montage side', () => {
    for (const preset of presetNames) {
      const config = resolvePretrainConfig(preset);
      expect(evalSizeFor(config)).toBe(config.crop);
      expect(evalSizeFor(config)).toBeLessThan(config.grid * config.crop);
    }
    expect(evalSizeFor(resolvePretrainConfig('cpu-small', { grid: 3, crop: 32 }))).toBe(32);
  });
});

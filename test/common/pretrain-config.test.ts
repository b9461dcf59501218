import { describe, expect, it } from 'vitest';
import { ConfigError, parseStoredPretrainConfig, presets, resolvePretrainConfig, validatePretrainConfig } from '../../main/common/pretrain-config';

function refusal(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('pretraining presets', () => {
  it('match the reference settings (method doc): SGD lr 0.03 at any batch, momentum 0.9, wd 1e-4, c 0.3, m 2, 128-d, interpolating decoupling', () => {
    for (const preset of Object.values(presets)) {
      expect(preset).toMatchObject({ lr: 0.03, decoupling: 'interpolate', momentum: 0.9, weightDecay: 1e-4, cross: 0.3, grid: 2, projectionDim: 128, alpha: 1, beta: 1 });
    }
    expect(presets.paper).toMatchObject({ arch: 'resnet50', width: 1, crop: 112, temperature: 0.3, batch: 256, epochs: 200 });
    expect(presets['cpu-small']).toMatchObject({ arch: 'resnet18', width: 0.25, crop: 32, batch: 32 });
    expect(presets.resnet18).toMatchObject({ arch: 'resnet18', width: 1, crop: 64 });
  });

  it('lets every field be overridden', () => {
    const config = resolvePretrainConfig('paper', { batch: 64, temperature: 0.2, grid: 3, crop: 96, cross: 0.2, epochs: 5 });
    expect(config).toMatchObject({ preset: 'paper', batch: 64, temperature: 0.2, grid: 3, crop: 96, cross: 0.2, epochs: 5, arch: 'resnet50' });
  });

  it('refuses invalid values and combinations, naming the field', () => {
    expect(refusal(() => resolvePretrainConfig('cpu-small', { crop: 20 })).field).toBe('crop');
    expect(refusal(() => resolvePretrainConfig('cpu-small', { batch: 1 })).field).toBe('batch');
    expect(refusal(() => resolvePretrainConfig('cpu-small', { grid: 4 as 2 })).field).toBe('grid');
    expect(refusal(() => resolvePretrainConfig('cpu-small', { engine: 'cuda' as 'cpu' })).field).toBe('engine');
    expect(refusal(() => resolvePretrainConfig('cpu-small', { grid: 3, cross: 0.4 })).field).toBe('cross');
    expect(refusal(() => resolvePretrainConfig('cpu-small', { batch: 64 }, 10)).message).toMatch(/batch: a batch of 64 needs at least 64 images, but only 10/);
    expect(refusal(() => resolvePretrainConfig('huge' as 'paper')).field).toBe('preset');
  });

  it('with no images at all says to add images, not to lower the batch size', () => {
    const none = refusal(() => resolvePretrainConfig('cpu-small', {}, 0));
    expect(none.field).toBe('folders');
    expect(none.message).toBe('folders: there are no images to train on: add a folder of images, or choose folders that have some.');
    expect(validatePretrainConfig('cpu-small', { batch: 64 }, 0).errors).toEqual([
      { field: 'folders', message: 'there are no images to train on: add a folder of images, or choose folders that have some.' },
    ]);
  });

  it('reads a stored config of before the reference was followed as the rate it trained at, with adaptive pooling', () => {
    const { lr: _lr, decoupling: _decoupling, ...old } = presets['cpu-small'];
    expect(parseStoredPretrainConfig({ ...old, baseLr: 0.03 })).toEqual({ ...presets['cpu-small'], lr: 0.00375, decoupling: 'pool' });
    expect(parseStoredPretrainConfig({ ...old, baseLr: 0.03, batch: 256 })).toMatchObject({ lr: 0.03, decoupling: 'pool' });
    // Today's configs are read as they are.
    expect(parseStoredPretrainConfig(presets.paper)).toEqual(presets.paper);
    expect(() => parseStoredPretrainConfig({ ...old })).toThrow(/lr/);
  });
});

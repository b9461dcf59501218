import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '../../../main/engine/backend/tfjs';
import { resolvePretrainConfig } from '../../../main/common/pretrain-config';
import { imagenetMean, imagenetStd, type FloatImage } from '../../../main/data/augment';
import { makeJigsawBatch } from '../../../main/data/jigsaw';
import { Rng } from '../../../main/data/rng';
import { JigCluModel } from '../../../main/engine/jigclu/jigclu-model';
import { useCpuBackend } from '../../helpers/engine';

/**
 * Feature-row order (issue 16, item 2): row b*m*m + c of the patch features is montage b, cell c,
 * and the labels at b*m*m + c are that cell's source image and location. The pixels tie the
 * labels to the cell (each source image's regions have their own colour), and for m = 2 changing only
 * that cell changes that row most and no row of another montage (inference mode, so montages
 * do not share BatchNorm statistics). golden-steps.test.ts ties the same rows to PyTorch's.
 */

beforeAll(useCpuBackend);

const n = 3;

/** Image i: region (row r, column c) of an m x m split is coloured (i + 1) / 8, (r*m + c + 1) / 16. */
function coloured(grid: number): FloatImage[] {
  const side = 48;
  return Array.from({ length: n }, (_, i) => {
    const data = new Float32Array(side * side * 3);
    for (let y = 0; y < side; y += 1) {
      for (let x = 0; x < side; x += 1) {
        const location = Math.floor((y * grid) / side) * grid + Math.floor((x * grid) / side);
        data.set([(i + 1) / 8, (location + 1) / 16, 0.5], (y * side + x) * 3);
      }
    }
    return { data, width: side, height: side };
  });
}

function setUp(grid: 2 | 3) {
  const config = resolvePretrainConfig('cpu-small', { grid, crop: grid === 2 ? 32 : 64, cross: grid === 2 ? 0.3 : 0.1, width: 0.125, batch: n, projectionDim: 16 });
  const batch = makeJigsawBatch(coloured(grid), { grid, crop: config.crop, cross: config.cross, augmentation: null }, new Rng(7 + grid));
  return { config, batch, cells: grid * grid };
}

describe.each([2, 3] as const)('jigsaw labels with m = %i', (grid) => {
  it('label slot b*m*m + c with the source image and location whose colour fills montage b, cell c', () => {
    const { config, batch, cells } = setUp(grid);
    for (let b = 0; b < n; b += 1) {
      for (let c = 0; c < cells; c += 1) {
        const y = Math.floor(c / grid) * config.crop + config.crop / 2;
        const x = (c % grid) * config.crop + config.crop / 2;
        const at = ((b * batch.size + y) * batch.size + x) * 3;
        const red = batch.montages[at]! * imagenetStd[0] + imagenetMean[0];
        const green = batch.montages[at + 1]! * imagenetStd[1] + imagenetMean[1];
        expect(Math.round(red * 8) - 1, `source of montage ${b}, cell ${c}`).toBe(batch.clusterLabels[b * cells + c]);
        expect(Math.round(green * 16) - 1, `location of montage ${b}, cell ${c}`).toBe(batch.locationLabels[b * cells + c]);
      }
    }
  });
});

// For m = 2 (the reference's): with 3 x 3 cells a random-init network's response to one cell
// reaches its neighbours' rows about as much as its own row, so this part is for m = 2.
describe('patch features with m = 2', () => {
  const { config, batch, cells } = setUp(2);
  const model = new JigCluModel(config);
  afterAll(() => model.dispose());

  it('change row b*m*m + c most, and no row of another montage, when only montage b, cell c changes', () => {
    const features = (montages: Float32Array) =>
      tf.tidy(() => model.patchFeatures(tf.tensor4d(montages, [n, batch.size, batch.size, 3]), false, 'fast').arraySync() as number[][]);
    const base = features(batch.montages);
    expect(base.length).toBe(n * cells);
    for (let b = 0; b < n; b += 1) {
      for (let c = 0; c < cells; c += 1) {
        const changed = batch.montages.slice();
        const top = Math.floor(c / 2) * config.crop;
        const left = (c % 2) * config.crop;
        for (let y = top; y < top + config.crop; y += 1) changed.fill(2.5, ((b * batch.size + y) * batch.size + left) * 3, ((b * batch.size + y) * batch.size + left + config.crop) * 3);
        const moved = features(changed).map((row, r) => Math.hypot(...row.map((v, k) => v - base[r]![k]!)));
        const most = moved.indexOf(Math.max(...moved));
        expect(most, `montage ${b}, cell ${c}`).toBe(b * cells + c);
        moved.forEach((distance, r) => {
          if (Math.floor(r / cells) !== b) expect(distance, `row ${r} (montage ${Math.floor(r / cells)})`).toBe(0);
        });
      }
    }
  });
});

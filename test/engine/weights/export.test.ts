import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { exportBackbone, importBackbone } from '../../../main/engine/weights/export';
import { ResNet } from '../../../main/engine/nn/resnet';
import * as tf from '../../../main/engine/backend/tfjs';
import { useCpuBackend } from '../../helpers/engine';

beforeAll(useCpuBackend);

describe('backbone export (tfjs format)', () => {
  it('round-trips every weight and gives the same features', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-export-'));
    const net = new ResNet({ arch: 'resnet18', width: 0.125 }, 9);
    try {
      await exportBackbone(net, dir);
      const model = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
      expect(model.weightsManifest[0].weights.map((w: { name: string }) => w.name)).toContain('layer4.1.bn2.running_var');
      const loaded = importBackbone(dir);
      for (const [name, variable] of net.params.variables) {
        expect(Array.from(loaded.params.get(name).dataSync()), name).toEqual(Array.from(variable.dataSync()));
      }
      const x = tf.randomNormal([1, 64, 64, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
      const a = net.forward(x, { training: false, convGrad: 'native' });
      const b = loaded.forward(x, { training: false, convGrad: 'native' });
      expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
      tf.dispose([x, a, b]);
      loaded.params.dispose();
    } finally {
      net.params.dispose();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

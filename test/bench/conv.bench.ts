import * as tf from '../../main/engine/backend/tfjs';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { bench, describe } from 'vitest';
import { wasmDirectory } from '../../main/engine/backend/backend';
import { conv2d, type ConvGradMode } from '../../main/engine/nn/conv';
import { maxPool } from '../../main/engine/nn/ops';

/**
 * Forward + backward of the convolutions of ResNet-18 width 0.25 (the cpu-small preset) at
 * batch 32 and a 64x64 input: tfjs's own gradient ('native') against ours ('fast'), on cpu and
 * on wasm. tfjs has no Conv2DBackpropFilter on wasm, so there the baseline is native on cpu.
 * vitest prints each as ops/s (one op = one forward + backward) and the ratios between them.
 * Last, the stem's max pool (3x3, stride 2, padding 1), whose MaxPoolGrad is slow on wasm and cpu.
 *
 * Run: npx vitest bench --run test/bench/conv.bench.ts
 */

interface Layer {
  /** [n, h, w, ci] */
  x: [number, number, number, number];
  k: number;
  co: number;
  stride: number;
  pad: number;
  /** The first conv: its input is the image, so only the filter gradient is computed. */
  filterOnly?: boolean;
}

const batch = 32;
const conv1: Layer = { x: [batch, 64, 64, 3], k: 7, co: 16, stride: 2, pad: 3, filterOnly: true };
const layer1: Layer = { x: [batch, 16, 16, 16], k: 3, co: 16, stride: 1, pad: 1 };
const layer2Down: Layer = { x: [batch, 16, 16, 16], k: 3, co: 32, stride: 2, pad: 1 };
const layer2Shortcut: Layer = { x: [batch, 16, 16, 16], k: 1, co: 32, stride: 2, pad: 0 };

/** Every conv of ResNet-18 width 0.25 at 64x64 (conv1, then 16/32/64/128 channels at 16/8/4/2 px). */
function resnet18Convs(): Layer[] {
  const layers: Layer[] = [conv1];
  let size = 16;
  let channels = 16;
  for (const [stage, width] of [16, 32, 64, 128].entries()) {
    const stride = stage === 0 ? 1 : 2;
    const out = Math.floor((size - 1) / stride) + 1;
    layers.push({ x: [batch, size, size, channels], k: 3, co: width, stride, pad: 1 });
    if (stride !== 1) layers.push({ x: [batch, size, size, channels], k: 1, co: width, stride, pad: 0 });
    for (let i = 0; i < 3; i++)
      layers.push({ x: [batch, out, out, width], k: 3, co: width, stride: 1, pad: 1 });
    size = out;
    channels = width;
  }
  return layers;
}

async function useBackend(name: 'cpu' | 'wasm'): Promise<void> {
  if (name === 'wasm') setWasmPaths(wasmDirectory());
  if (!(await tf.setBackend(name))) throw new Error(`the ${name} backend did not initialise`);
  await tf.ready();
}

interface Prepared {
  x: tf.Tensor4D;
  w: tf.Tensor4D;
  dy: tf.Tensor4D;
  layer: Layer;
}

/** A bench of one forward + backward of every layer in `layers`, with `mode` on `backend`. */
function convBench(
  label: string,
  layers: Layer[],
  backend: 'cpu' | 'wasm',
  mode: ConvGradMode,
  iterations: number,
): void {
  let prepared: Prepared[] = [];
  bench(
    label,
    () => {
      tf.tidy(() => {
        for (const { x, w, dy, layer } of prepared) {
          // A fresh filter tensor, as after every optimizer step (wasm caches per filter tensor).
          const filter = tf.add(w, 0) as tf.Tensor4D;
          const f = (a: tf.Tensor, b: tf.Tensor) =>
            conv2d(a as tf.Tensor4D, b as tf.Tensor4D, layer.stride, layer.pad, mode);
          const grads = layer.filterOnly
            ? [tf.grad((b: tf.Tensor) => f(x, b))(filter, dy)]
            : tf.grads(f)([x, filter], dy);
          grads.forEach((g) => g.dataSync());
        }
      });
    },
    {
      iterations,
      time: 0,
      warmupIterations: mode === 'native' ? 0 : 1, // native runs take seconds
      warmupTime: 0,
      setup: async () => {
        await useBackend(backend);
        prepared.forEach(({ x, w, dy }) => tf.dispose([x, w, dy]));
        prepared = layers.map((layer, i) => {
          const [n, h, w, ci] = layer.x;
          const out = (size: number) => Math.floor((size + 2 * layer.pad - layer.k) / layer.stride) + 1;
          return {
            layer,
            x: tf.randomNormal(layer.x, 0, 1, 'float32', 3 * i + 1) as tf.Tensor4D,
            w: tf.randomNormal([layer.k, layer.k, ci, layer.co], 0, 0.1, 'float32', 3 * i + 2) as tf.Tensor4D,
            dy: tf.randomNormal([n, out(h), out(w), layer.co], 0, 1, 'float32', 3 * i + 3) as tf.Tensor4D,
          };
        });
      },
      teardown: () => {
        prepared.forEach(({ x, w, dy }) => tf.dispose([x, w, dy]));
        prepared = [];
      },
    },
  );
}

/** native on cpu (baseline; native cannot run backward on wasm), fast on cpu, fast on wasm. */
function compare(title: string, layers: Layer[], nativeIterations: number, fastIterations: number): void {
  describe(title, () => {
    convBench('native, cpu backend (baseline)', layers, 'cpu', 'native', nativeIterations);
    convBench('fast, cpu backend', layers, 'cpu', 'fast', fastIterations);
    convBench('fast, wasm backend', layers, 'wasm', 'fast', fastIterations * 4);
  });
}

compare('conv1 7x7 3->16 s2 p3, x [32,64,64,3], filter gradient only', [conv1], 1, 3);
compare('layer1 conv 3x3 16->16 s1 p1, x [32,16,16,16]', [layer1], 2, 5);
compare('layer2.0.conv1 3x3 16->32 s2 p1, x [32,16,16,16]', [layer2Down], 2, 5);
compare('layer2.0.downsample 1x1 16->32 s2 p0, x [32,16,16,16]', [layer2Shortcut], 2, 5);
compare('all 20 convs of ResNet-18 width 0.25, batch 32, 64x64', resnet18Convs(), 1, 3);

/** Max pool 3x3/2 pad 1 after conv1 (x [32,32,32,16]): forward + backward. */
function poolBench(label: string, backend: 'cpu' | 'wasm', mode: ConvGradMode, iterations: number): void {
  let x: tf.Tensor4D | undefined;
  let dy: tf.Tensor4D | undefined;
  bench(
    label,
    () => {
      tf.tidy(() => {
        tf.grad((a: tf.Tensor) => maxPool(a as tf.Tensor4D, 3, 2, 1, mode))(x!, dy!).dataSync();
      });
    },
    {
      iterations,
      time: 0,
      warmupIterations: 1,
      warmupTime: 0,
      setup: async () => {
        await useBackend(backend);
        tf.dispose([x!, dy!].filter(Boolean));
        x = tf.relu(tf.randomNormal([batch, 32, 32, 16], 0, 1, 'float32', 1)) as tf.Tensor4D;
        dy = tf.randomNormal([batch, 16, 16, 16], 0, 1, 'float32', 2) as tf.Tensor4D;
      },
      teardown: () => {
        tf.dispose([x!, dy!].filter(Boolean));
        x = dy = undefined;
      },
    },
  );
}

describe('stem max pool 3x3 s2 p1, x [32,32,32,16]', () => {
  poolBench('native, cpu backend (baseline)', 'cpu', 'native', 5);
  poolBench('fast, cpu backend', 'cpu', 'fast', 20);
  poolBench('native, wasm backend', 'wasm', 'native', 40);
  poolBench('fast, wasm backend', 'wasm', 'fast', 40);
});

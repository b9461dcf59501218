import * as tf from '../../../main/engine/backend/tfjs';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wasmDirectory } from '../../../main/engine/backend/backend';
import { conv2d, defaultConvGradMode, type ConvGradMode, type ConvPadding } from '../../../main/engine/nn/conv';
import { maxPool } from '../../../main/engine/nn/ops';
import { seeded } from '../../helpers/engine';

/**
 * The fast conv (and max-pool) gradients against tfjs's own (cpu backend, which has
 * Conv2DBackpropFilter) and against loop-by-loop references with PyTorch's padding, on cpu and
 * on wasm; and a whole ResNet-style step differentiated on wasm against the same on cpu.
 */

async function useBackend(name: 'cpu' | 'wasm'): Promise<void> {
  if (name === 'wasm') setWasmPaths(wasmDirectory());
  const ok = await tf.setBackend(name);
  await tf.ready();
  expect(ok, `backend ${name} initialised`).toBe(true);
  expect(tf.getBackend()).toBe(name);
}

afterAll(() => useBackend('cpu'));

interface Case {
  n: number;
  h: number;
  w: number;
  ci: number;
  co: number;
  k: number;
  stride: number;
  padding: ConvPadding;
  seed: number;
}

const paddings: ConvPadding[] = ['same', 'valid', 0, 1, 3];

/** Every kernel x stride x padding combination, with random batch, size and channels. */
function randomCases(seed: number): Case[] {
  const rand = seeded(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const cases: Case[] = [];
  for (const k of [1, 3, 7]) {
    for (const stride of [1, 2]) {
      for (const padding of paddings) {
        const pad = typeof padding === 'number' ? padding : 0;
        const size = () => Math.max(int(5, 17), k - 2 * pad);
        cases.push({
          n: int(1, 4),
          h: size(),
          w: size(),
          ci: int(1, 8),
          co: int(1, 8),
          k,
          stride,
          padding,
          seed: int(1, 1e6),
        });
      }
    }
  }
  return cases;
}

const name = (c: Case) =>
  `x[${c.n},${c.h},${c.w},${c.ci}] k${c.k} ${c.ci}->${c.co} s${c.stride} pad ${JSON.stringify(c.padding)}`;

/** The output spatial size: PyTorch's formula for numeric padding, TF's for 'same'/'valid'. */
function outSize(size: number, c: Case): number {
  if (c.padding === 'same') return Math.ceil(size / c.stride);
  if (c.padding === 'valid') return Math.ceil((size - c.k + 1) / c.stride);
  return Math.floor((size + 2 * c.padding - c.k) / c.stride) + 1;
}

interface Data {
  x: Float32Array;
  w: Float32Array;
  dy: Float32Array;
}

/** Seeded data, generated on the cpu backend so every backend sees identical numbers. */
function makeData(c: Case): Data {
  return tf.tidy(() => ({
    x: tf.randomNormal([c.n, c.h, c.w, c.ci], 0, 1, 'float32', c.seed).dataSync() as Float32Array,
    w: tf.randomNormal([c.k, c.k, c.ci, c.co], 0, 0.5, 'float32', c.seed + 1).dataSync() as Float32Array,
    dy: tf
      .randomNormal([c.n, outSize(c.h, c), outSize(c.w, c), c.co], 0, 1, 'float32', c.seed + 2)
      .dataSync() as Float32Array,
  }));
}

interface Result {
  y: Float32Array;
  yShape: number[];
  dx: Float32Array;
  dw: Float32Array;
}

/** Value and both gradients (for an upstream gradient dy) on the current backend. */
function run(c: Case, d: Data, mode: ConvGradMode): Result {
  return tf.tidy(() => {
    const x = tf.tensor4d(d.x, [c.n, c.h, c.w, c.ci]);
    const w = tf.tensor4d(d.w, [c.k, c.k, c.ci, c.co]);
    const f = (a: tf.Tensor, b: tf.Tensor) =>
      conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.padding, mode);
    const y = f(x, w);
    const dy = tf.tensor4d(d.dy, y.shape);
    const [dx, dw] = tf.grads(f)([x, w], dy);
    return {
      y: y.dataSync() as Float32Array,
      yShape: y.shape,
      dx: dx!.dataSync() as Float32Array,
      dw: dw!.dataSync() as Float32Array,
    };
  });
}

/** max |a - b| / max |b|. */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return diff / (scale || 1);
}

function expectClose(got: Result, want: Result, label: string, tol = 1e-4): void {
  expect(got.yShape, `${label}: shape`).toEqual(want.yShape);
  expect(relErr(got.y, want.y), `${label}: value`).toBeLessThan(tol);
  expect(relErr(got.dx, want.dx), `${label}: dx`).toBeLessThan(tol);
  expect(relErr(got.dw, want.dw), `${label}: dfilter`).toBeLessThan(tol);
}

/**
 * Loop-by-loop conv with PyTorch's symmetric padding and its gradients: value, dx, dfilter
 * for the upstream gradient dy. Small shapes only.
 */
function naiveConv(c: Case & { padding: number }, d: Data): Result {
  const { n, h, w, ci, co, k, stride: s, padding: p } = c;
  const oh = Math.floor((h + 2 * p - k) / s) + 1;
  const ow = Math.floor((w + 2 * p - k) / s) + 1;
  const y = new Float32Array(n * oh * ow * co);
  const dx = new Float64Array(n * h * w * ci);
  const dw = new Float64Array(k * k * ci * co);
  for (let b = 0; b < n; b++)
    for (let r = 0; r < oh; r++)
      for (let q = 0; q < ow; q++)
        for (let o = 0; o < co; o++) {
          const yi = ((b * oh + r) * ow + q) * co + o;
          let sum = 0;
          for (let i = 0; i < k; i++)
            for (let j = 0; j < k; j++) {
              const xr = r * s + i - p;
              const xc = q * s + j - p;
              if (xr < 0 || xr >= h || xc < 0 || xc >= w) continue;
              for (let a = 0; a < ci; a++) {
                const xi = ((b * h + xr) * w + xc) * ci + a;
                const wi = ((i * k + j) * ci + a) * co + o;
                sum += d.x[xi]! * d.w[wi]!;
                dx[xi] = dx[xi]! + d.dy[yi]! * d.w[wi]!;
                dw[wi] = dw[wi]! + d.dy[yi]! * d.x[xi]!;
              }
            }
          y[yi] = sum;
        }
  return { y, yShape: [n, oh, ow, co], dx: Float32Array.from(dx), dw: Float32Array.from(dw) };
}

describe('defaultConvGradMode', () => {
  it('is fast on wasm and cpu, native on tfjs-node and others', () => {
    expect(defaultConvGradMode('wasm')).toBe('fast');
    expect(defaultConvGradMode('cpu')).toBe('fast');
    expect(defaultConvGradMode('tensorflow')).toBe('native');
    expect(defaultConvGradMode('webgl')).toBe('native');
  });
});

describe('conv2d on the cpu backend', () => {
  beforeAll(() => useBackend('cpu'));

  it('gives the output shape of PyTorch for numeric padding', () => {
    for (const c of randomCases(7)) {
      if (typeof c.padding !== 'number') continue;
      const y = tf.tidy(() =>
        conv2d(
          tf.zeros([c.n, c.h, c.w, c.ci]) as tf.Tensor4D,
          tf.zeros([c.k, c.k, c.ci, c.co]) as tf.Tensor4D,
          c.stride,
          c.padding,
          'fast',
        ),
      );
      const torch = (size: number) => Math.floor((size + 2 * (c.padding as number) - c.k) / c.stride) + 1;
      expect(y.shape, name(c)).toEqual([c.n, torch(c.h), torch(c.w), c.co]);
      y.dispose();
    }
  });

  it('fast and native both equal a loop-by-loop conv with symmetric padding (value and gradients)', () => {
    const cases: (Case & { padding: number })[] = [
      { n: 2, h: 7, w: 6, ci: 3, co: 2, k: 3, stride: 2, padding: 1, seed: 11 },
      { n: 1, h: 9, w: 8, ci: 2, co: 3, k: 7, stride: 2, padding: 3, seed: 12 },
      { n: 2, h: 6, w: 7, ci: 3, co: 4, k: 1, stride: 2, padding: 0, seed: 13 },
      { n: 1, h: 5, w: 5, ci: 2, co: 2, k: 3, stride: 1, padding: 1, seed: 14 },
      { n: 1, h: 6, w: 6, ci: 2, co: 2, k: 3, stride: 2, padding: 3, seed: 15 },
    ];
    for (const c of cases) {
      const d = makeData(c);
      const want = naiveConv(c, d);
      expectClose(run(c, d, 'fast'), want, `fast ${name(c)}`);
      expectClose(run(c, d, 'native'), want, `native ${name(c)}`);
    }
  });

  it.each(randomCases(2024).map((c) => [name(c), c] as const))('fast equals native for %s', (_, c) => {
    const d = makeData(c);
    expectClose(run(c, d, 'fast'), run(c, d, 'native'), name(c));
  });

  it('tells a wrong gradient apart (the comparison can fail)', () => {
    const c: Case = { n: 2, h: 8, w: 8, ci: 3, co: 4, k: 3, stride: 2, padding: 1, seed: 5 };
    const d = makeData(c);
    const want = run(c, d, 'native');
    const other = run({ ...c, padding: 'same' }, d, 'fast'); // same shape, padding off by one
    expect(other.yShape).toEqual(want.yShape);
    expect(relErr(other.dw, want.dw)).toBeGreaterThan(1e-2);
  });

  it('leaks no tensors over 20 tidied gradient computations', () => {
    leakCheck('fast');
    leakCheck('native');
  });
});

describe('conv2d on the wasm backend', () => {
  const cases = randomCases(99);
  const expected = new Map<Case, { data: Data; want: Result }>();

  beforeAll(async () => {
    // The reference: tfjs's own gradient on cpu, for the same numbers.
    await useBackend('cpu');
    for (const c of cases) {
      const data = makeData(c);
      expected.set(c, { data, want: run(c, data, 'native') });
    }
    await useBackend('wasm');
  });

  it('has no Conv2DBackpropFilter kernel, so native mode cannot train there', () => {
    expect(tf.getBackend()).toBe('wasm');
    const c = cases[0]!;
    expect(() => run(c, expected.get(c)!.data, 'native')).toThrow(/Conv2DBackpropFilter/);
  });

  it.each(cases.map((c) => [name(c), c] as const))('fast on wasm equals native on cpu for %s', (_, c) => {
    expect(tf.getBackend()).toBe('wasm');
    const { data, want } = expected.get(c)!;
    expectClose(run(c, data, 'fast'), want, name(c));
  });

  it('computes the input gradient only when it is needed', async () => {
    const x = tf.randomNormal([2, 16, 16, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
    const w = tf.randomNormal([7, 7, 3, 4], 0, 1, 'float32', 2) as tf.Tensor4D;
    const loss = (a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 3, 'fast'));
    const convKernels = async (grads: () => tf.Tensor[]) => {
      const profile = await tf.profile(() => tf.tidy(() => grads().forEach((g) => g.dataSync())));
      return profile.kernels.filter((k) => k.name === 'Conv2D' || k.name === 'Conv2DBackpropInput').length;
    };
    // The filter gradient's conv only, as for the first layer, whose input is the image.
    expect(await convKernels(() => [tf.grad((b: tf.Tensor) => loss(x, b))(w)])).toBe(1);
    // Plus the input gradient's.
    expect(await convKernels(() => tf.grads(loss)([x, w]))).toBe(2);
    x.dispose();
    w.dispose();
  });

  it('leaks no tensors over 20 tidied gradient computations', () => {
    expect(tf.getBackend()).toBe('wasm');
    leakCheck('fast');
  });
});

function leakCheck(mode: ConvGradMode): void {
  const c: Case = { n: 2, h: 9, w: 10, ci: 3, co: 4, k: 3, stride: 2, padding: 1, seed: 3 };
  const x = tf.randomNormal([c.n, c.h, c.w, c.ci], 0, 1, 'float32', 1) as tf.Tensor4D;
  const w = tf.randomNormal([c.k, c.k, c.ci, c.co], 0, 1, 'float32', 2) as tf.Tensor4D;
  const f = (a: tf.Tensor, b: tf.Tensor) =>
    tf.sum(tf.relu(conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.padding, mode)));
  const before = tf.memory().numTensors;
  for (let i = 0; i < 20; i++) {
    tf.tidy(() => {
      const [dx, dw] = tf.grads(f)([x, w]);
      dx!.dataSync();
      dw!.dataSync();
    });
    tf.tidy(() =>
      tf
        .grad((b: tf.Tensor) => f(x, b))(w)
        .dataSync(),
    );
  }
  expect(tf.memory().numTensors, `${mode} on ${tf.getBackend()}`).toBe(before);
  x.dispose();
  w.dispose();
}

interface PoolCase {
  n: number;
  h: number;
  w: number;
  c: number;
  k: number;
  stride: number;
  padding: ConvPadding;
  seed: number;
}

/** Every window x stride x padding combination (numeric padding at most half the window). */
function poolCases(seed: number): PoolCase[] {
  const rand = seeded(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const cases: PoolCase[] = [];
  for (const k of [2, 3]) {
    for (const stride of [1, 2]) {
      for (const padding of ['same', 'valid', 0, 1] as ConvPadding[]) {
        cases.push({
          n: int(1, 4),
          h: int(5, 17),
          w: int(5, 17),
          c: int(1, 8),
          k,
          stride,
          padding,
          seed: int(1, 1e6),
        });
      }
    }
  }
  return cases;
}

const poolName = (c: PoolCase) =>
  `x[${c.n},${c.h},${c.w},${c.c}] k${c.k} s${c.stride} pad ${JSON.stringify(c.padding)}`;

interface PoolData {
  x: Float32Array;
  dy: Float32Array;
}

/** ReLU'd data, so that windows hold ties (zeros), as after conv1-bn1-relu. */
function makePoolData(c: PoolCase): PoolData {
  return tf.tidy(() => {
    const x = tf.relu(tf.randomNormal([c.n, c.h, c.w, c.c], 0, 1, 'float32', c.seed));
    const y = tf.maxPool(x as tf.Tensor4D, c.k, c.stride, c.padding);
    return {
      x: x.dataSync() as Float32Array,
      dy: tf.randomNormal(y.shape, 0, 1, 'float32', c.seed + 1).dataSync() as Float32Array,
    };
  });
}

interface PoolResult {
  y: Float32Array;
  yShape: number[];
  dx: Float32Array;
}

function runPool(c: PoolCase, d: PoolData, mode: ConvGradMode): PoolResult {
  return tf.tidy(() => {
    const x = tf.tensor4d(d.x, [c.n, c.h, c.w, c.c]);
    const f = (a: tf.Tensor) => maxPool(a as tf.Tensor4D, c.k, c.stride, c.padding, mode);
    const y = f(x);
    const dx = tf.grad(f)(x, tf.tensor4d(d.dy, y.shape));
    return { y: y.dataSync() as Float32Array, yShape: y.shape, dx: dx.dataSync() as Float32Array };
  });
}

function expectPoolClose(got: PoolResult, want: PoolResult, label: string): void {
  expect(got.yShape, `${label}: shape`).toEqual(want.yShape);
  expect(relErr(got.y, want.y), `${label}: value`).toBeLessThan(1e-6);
  expect(relErr(got.dx, want.dx), `${label}: dx`).toBeLessThan(1e-6);
}

/** Loop-by-loop max pool with PyTorch's padding: the gradient goes to each window's first maximum. */
function naivePool(c: PoolCase & { padding: number }, d: PoolData): PoolResult {
  const { n, h, w, c: ch, k, stride: s, padding: p } = c;
  const oh = Math.floor((h + 2 * p - k) / s) + 1;
  const ow = Math.floor((w + 2 * p - k) / s) + 1;
  const y = new Float32Array(n * oh * ow * ch);
  const dx = new Float32Array(d.x.length);
  for (let b = 0; b < n; b++)
    for (let r = 0; r < oh; r++)
      for (let q = 0; q < ow; q++)
        for (let a = 0; a < ch; a++) {
          let best = -Infinity;
          let at = -1;
          for (let i = 0; i < k; i++)
            for (let j = 0; j < k; j++) {
              const xr = r * s + i - p;
              const xc = q * s + j - p;
              if (xr < 0 || xr >= h || xc < 0 || xc >= w) continue;
              const xi = ((b * h + xr) * w + xc) * ch + a;
              if (d.x[xi]! > best) [best, at] = [d.x[xi]!, xi];
            }
          const yi = ((b * oh + r) * ow + q) * ch + a;
          y[yi] = best;
          dx[at] = dx[at]! + d.dy[yi]!;
        }
  return { y, yShape: [n, oh, ow, ch], dx };
}

describe('maxPool on the cpu backend', () => {
  beforeAll(() => useBackend('cpu'));

  it('fast and native both equal a loop-by-loop max pool with PyTorch padding (value, shape, gradient)', () => {
    const cases: (PoolCase & { padding: number })[] = [
      { n: 2, h: 8, w: 9, c: 3, k: 3, stride: 2, padding: 1, seed: 21 },
      { n: 1, h: 7, w: 6, c: 2, k: 2, stride: 2, padding: 0, seed: 22 },
      { n: 2, h: 6, w: 6, c: 4, k: 3, stride: 1, padding: 1, seed: 23 },
    ];
    for (const c of cases) {
      const d = makePoolData(c);
      const want = naivePool(c, d);
      expectPoolClose(runPool(c, d, 'fast'), want, `fast ${poolName(c)}`);
      expectPoolClose(runPool(c, d, 'native'), want, `native ${poolName(c)}`);
    }
  });

  it.each(poolCases(31).map((c) => [poolName(c), c] as const))('fast equals native for %s', (_, c) => {
    const d = makePoolData(c);
    expectPoolClose(runPool(c, d, 'fast'), runPool(c, d, 'native'), poolName(c));
  });

  it('refuses padding over half the window, as PyTorch does', () => {
    expect(() => maxPool(tf.zeros([1, 8, 8, 1]) as tf.Tensor4D, 3, 2, 2, 'fast')).toThrow(/padding/);
  });

  it('leaks no tensors over 20 tidied gradient computations', () => {
    const x = tf.randomNormal([2, 9, 9, 3], 0, 1, 'float32', 4) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    for (let i = 0; i < 20; i++)
      tf.tidy(() =>
        tf
          .grad((a: tf.Tensor) => tf.sum(maxPool(a as tf.Tensor4D, 3, 2, 1, 'fast')))(x)
          .dataSync(),
      );
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });
});

describe('maxPool on the wasm backend', () => {
  const cases = poolCases(77);
  const expected = new Map<PoolCase, { data: PoolData; want: PoolResult }>();

  beforeAll(async () => {
    await useBackend('cpu');
    for (const c of cases) {
      const data = makePoolData(c);
      expected.set(c, { data, want: runPool(c, data, 'native') });
    }
    await useBackend('wasm');
  });

  it.each(cases.map((c) => [poolName(c), c] as const))('fast on wasm equals native on cpu for %s', (_, c) => {
    expect(tf.getBackend()).toBe('wasm');
    const { data, want } = expected.get(c)!;
    expectPoolClose(runPool(c, data, 'fast'), want, poolName(c));
  });
});

/**
 * A small ResNet step: conv1 7x7/2 - batch norm (tf.moments) - relu - max pool 3x3/2 - a basic
 * block - a downsampling block with a 1x1/2 shortcut - global mean - linear - cross entropy
 * (logSoftmax) plus a logSumExp term. Every backward kernel it needs must exist on wasm, and
 * its gradients there must equal those of tfjs's own ops on cpu.
 */
function resnetStepGrads(mode: ConvGradMode): Float32Array[] {
  return tf.tidy(() => {
    const rand = (shape: number[], seed: number, std = 0.3) =>
      tf.randomNormal(shape, 0, std, 'float32', seed);
    const params: Record<string, tf.Tensor> = {
      conv1: rand([7, 7, 3, 4], 1),
      b1c1: rand([3, 3, 4, 4], 2),
      b1c2: rand([3, 3, 4, 4], 3),
      b2c1: rand([3, 3, 4, 8], 4),
      b2c2: rand([3, 3, 8, 8], 5),
      b2down: rand([1, 1, 4, 8], 6),
      gamma: tf.add(rand([4], 7, 0.1), 1),
      beta: rand([4], 8, 0.1),
      fc: rand([8, 5], 9),
    };
    const names = Object.keys(params);
    const images = rand([3, 16, 16, 3], 10, 1) as tf.Tensor4D;
    const labels = tf.oneHot(tf.tensor1d([0, 3, 4], 'int32'), 5);
    const loss = (...values: tf.Tensor[]) => {
      const p = Object.fromEntries(names.map((name, i) => [name, values[i]!])) as Record<string, tf.Tensor4D>;
      const conv = (x: tf.Tensor4D, w: tf.Tensor4D, stride: number, pad: number) =>
        conv2d(x, w, stride, pad, mode);
      const bn = (x: tf.Tensor4D, gamma?: tf.Tensor, beta?: tf.Tensor) => {
        const { mean, variance } = tf.moments(x, [0, 1, 2]);
        const y = tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-5)));
        return (gamma && beta ? tf.add(tf.mul(y, gamma), beta) : y) as tf.Tensor4D;
      };
      const pool = (x: tf.Tensor4D) =>
        mode === 'native' ? tf.maxPool(x, 3, 2, 1) : maxPool(x, 3, 2, 1, mode);
      let y = pool(tf.relu(bn(conv(images, p.conv1!, 2, 3), p.gamma, p.beta)));
      y = tf.relu(tf.add(y, bn(conv(tf.relu(bn(conv(y, p.b1c1!, 1, 1))), p.b1c2!, 1, 1)))) as tf.Tensor4D;
      const short = bn(conv(y, p.b2down!, 2, 0));
      y = tf.relu(tf.add(short, bn(conv(tf.relu(bn(conv(y, p.b2c1!, 2, 1))), p.b2c2!, 1, 1)))) as tf.Tensor4D;
      const logits = tf.matMul(tf.mean(y, [1, 2]), p.fc!);
      const crossEntropy = tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(logits), labels), 1)));
      return tf.add(crossEntropy, tf.mul(0.1, tf.mean(tf.logSumExp(logits, 1)))) as tf.Scalar;
    };
    return tf
      .grads(loss)(names.map((name) => params[name]!))
      .map((g) => g.dataSync() as Float32Array);
  });
}

describe('a ResNet-style training step', () => {
  it("differentiates on wasm with the fast ops and matches tfjs's own gradients on cpu", async () => {
    await useBackend('cpu');
    const want = resnetStepGrads('native');
    await useBackend('wasm');
    const got = resnetStepGrads('fast');
    expect(got.length).toBe(want.length);
    got.forEach((g, i) => expect(relErr(g, want[i]!), `parameter ${i}`).toBeLessThan(1e-4));
  });
});

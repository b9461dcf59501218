import path from 'node:path';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '../../../main/engine/backend/tfjs';
import { wasmDirectory } from '../../../main/engine/backend/backend';
import { decouple, decouplingAxis, interpolatedSide, type Decoupling } from '../../../main/engine/jigclu/decouple';
import { runTorchScript } from '../../helpers/torch-python';
import { seeded } from '../../helpers/engine';

/**
 * The decoupling against the reference's own code run in PyTorch 1.13 (Debian's python3-torch
 * under /usr/bin/python3): F.interpolate(size=(8, 8), mode='bilinear', align_corners=False)
 * then AdaptiveAvgPool2d((2, 2)) (9 x 9 and 3 x 3 for m = 3), forward and gradient, to 1e-5,
 * on tfjs's cpu and wasm backends. test/fixtures/decouple_reference.py computes the reference.
 */

interface Case {
  n: number;
  c: number;
  h: number;
  w: number;
  grid: 2 | 3;
  x: number[];
  g: number[];
}

interface Reference {
  out: number[];
  grad: number[];
  pool: number[];
  torch: string;
}

function makeCase(h: number, w: number, grid: 2 | 3, seed: number): Case {
  const random = seeded(seed);
  const n = 2;
  const c = 3;
  return {
    n,
    c,
    h,
    w,
    grid,
    x: Array.from({ length: n * h * w * c }, () => random() * 4 - 2),
    g: Array.from({ length: n * grid * grid * c }, () => random() * 2 - 1),
  };
}

const cases: Case[] = [makeCase(2, 2, 2, 1), makeCase(4, 4, 2, 2), makeCase(7, 7, 2, 3), makeCase(7, 7, 3, 4), makeCase(4, 4, 3, 5), makeCase(5, 3, 2, 6)];
const label = (c: Case) => `${c.h}x${c.w} map, m = ${c.grid}`;

function torchReference(): { results?: Reference[]; reason?: string } {
  const run = runTorchScript(path.resolve(__dirname, '../../fixtures/decouple_reference.py'), [], JSON.stringify(cases));
  return run.reason ? { reason: run.reason } : { results: JSON.parse(run.stdout!) as Reference[] };
}

function ours(c: Case, mode: Decoupling): { out: Float32Array; grad: Float32Array } {
  return tf.tidy(() => {
    const x = tf.tensor4d(c.x, [c.n, c.h, c.w, c.c]);
    const g = tf.tensor3d(c.g, [c.n, c.grid * c.grid, c.c]);
    const out = decouple(x, c.grid, mode).dataSync() as Float32Array;
    const grad = tf.grad((input: tf.Tensor) => tf.sum(tf.mul(decouple(input as tf.Tensor4D, c.grid, mode), g)))(x).dataSync() as Float32Array;
    return { out, grad };
  });
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i += 1) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

async function useBackend(name: 'cpu' | 'wasm'): Promise<void> {
  if (name === 'wasm') setWasmPaths(wasmDirectory());
  expect(await tf.setBackend(name), `backend ${name} initialised`).toBe(true);
  await tf.ready();
}

const reference = torchReference();
if (reference.reason) console.warn(`decouple.test.ts: skipping the PyTorch comparisons: ${reference.reason}`);

afterAll(() => useBackend('cpu'));

describe('the decoupling matrices', () => {
  it('enlarges to the smallest multiple of m that is at least 8: 8 for m = 2, 9 for m = 3', () => {
    expect(interpolatedSide(2)).toBe(8);
    expect(interpolatedSide(3)).toBe(9);
  });

  it("weights a 7 x 7 map's rows about .297 .281 .281 .141 for the first patch (the issue's numbers), each row of weights summing to 1", () => {
    const axis = decouplingAxis(7, 2, 'interpolate');
    expect(Array.from(axis.slice(0, 4)).map((v) => Number(v.toFixed(3)))).toEqual([0.297, 0.281, 0.281, 0.141]);
    expect(Array.from(axis.slice(4, 7))).toEqual([0, 0, 0]);
    for (let i = 0; i < 2; i += 1) expect(axis.slice(i * 7, i * 7 + 7).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
  });

  it('mixes in part of the neighbouring patch for a 2 x 2 and a 4 x 4 map (pooling alone mixes none)', () => {
    expect(decouplingAxis(2, 2, 'interpolate')[1]).toBeGreaterThan(0.05);
    expect(decouplingAxis(4, 2, 'interpolate')[2]).toBeGreaterThan(0.05);
    expect(Array.from(decouplingAxis(4, 2, 'pool'))).toEqual([0.5, 0.5, 0, 0, 0, 0, 0.5, 0.5]);
  });
});

describe.skipIf(!reference.results).each(['cpu', 'wasm'] as const)('the decoupling against PyTorch 1.13 on %s', (backend) => {
  beforeAll(() => useBackend(backend));

  it.each(cases.map((c, i) => [label(c), i] as const))('interpolate then pool equals the reference for a %s, forward and gradient (1e-5)', (_, i) => {
    const c = cases[i]!;
    const want = reference.results![i]!;
    expect(want.torch).toMatch(/^1\.13/);
    const got = ours(c, 'interpolate');
    expect(maxDiff(got.out, want.out)).toBeLessThan(1e-5);
    expect(maxDiff(got.grad, want.grad)).toBeLessThan(1e-5);
  });

  it.each(cases.map((c, i) => [label(c), i] as const))("the old 'pool' mode equals AdaptiveAvgPool2d alone for a %s (1e-5)", (_, i) => {
    expect(maxDiff(ours(cases[i]!, 'pool').out, reference.results![i]!.pool)).toBeLessThan(1e-5);
  });

  it('keeps no tensors', () => {
    const before = tf.memory().numTensors;
    for (let k = 0; k < 5; k += 1) ours(cases[2]!, 'interpolate');
    expect(tf.memory().numTensors).toBe(before);
  });
});

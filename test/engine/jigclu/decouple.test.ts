import fs from 'node:fs';
import path from 'node:path';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '../../../main/engine/backend/tfjs';
import { wasmDirectory } from '../../../main/engine/backend/backend';
import { adaptivePoolMatrix, bilinearMatrix, decouple, decouplingAxis, decouplingKernel, interpolatedSide, type Decoupling } from '../../../main/engine/jigclu/decouple';
import { describeFixtureCheck } from '../../helpers/torch-python';
import { seeded } from '../../helpers/engine';

/**
 * The decoupling against the reference's own code run in PyTorch 1.13 (Debian's python3-torch
 * under /usr/bin/python3): F.interpolate(size=(8, 8), mode='bilinear', align_corners=False)
 * then AdaptiveAvgPool2d((2, 2)) (9 x 9 and 3 x 3 for m = 3), forward and gradient, to 1e-5,
 * on tfjs's cpu and wasm backends, and the per-axis matrices (bilinear resize, adaptive pool,
 * their product) against what PyTorch applies, to 1e-6. The PyTorch values are the committed
 * test/fixtures/decouple-reference.json, written by `/usr/bin/python3
 * test/fixtures/decouple_reference.py`; the last test re-runs that script where torch is
 * installed and fails if the committed file differs. Reading a file (no Python per run) keeps
 * this a few seconds, so `npm run test:mutation -- decouple` can run it once per mutant.
 */

interface Case {
  n: number;
  c: number;
  h: number;
  w: number;
  grid: 2 | 3;
  x: number[];
  g: number[];
  /** PyTorch's interpolate-then-pool output, its gradient of sum(out * g), and pooling alone. */
  out: number[];
  grad: number[];
  pool: number[];
}

interface Matrix {
  input: number;
  output: number;
  weights: number[];
}

interface Fixture {
  torch: string;
  cases: Case[];
  bilinear: Matrix[];
  pool: Matrix[];
  axes: { size: number; grid: 2 | 3; weights: number[] }[];
}

const fixturePath = path.resolve(__dirname, '../../fixtures/decouple-reference.json');
const fixture = JSON.parse(fs.readFileSync(fixturePath, 'utf8')) as Fixture;
const { cases } = fixture;
const label = (c: Case) => `${c.h}x${c.w} map, m = ${c.grid}`;

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

afterAll(() => useBackend('cpu'));

describe('the decoupling matrices', () => {
  it('enlarges to the smallest multiple of m that is at least 8: 8 for m = 2, 9 for m = 3, 8 for m = 4', () => {
    expect(interpolatedSide(2)).toBe(8);
    expect(interpolatedSide(3)).toBe(9);
    expect(interpolatedSide(4)).toBe(8);
    expect(interpolatedSide(5)).toBe(10);
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

  it.each(fixture.bilinear.map((m) => [`${m.input} -> ${m.output}`, m] as const))("bilinearMatrix(%s) is PyTorch's bilinear resize (align_corners=False)", (_, m) => {
    expect(maxDiff(bilinearMatrix(m.input, m.output), m.weights)).toBeLessThan(1e-6);
  });

  it.each(fixture.pool.map((m) => [`${m.input} -> ${m.output}`, m] as const))("adaptivePoolMatrix(%s) is PyTorch's adaptive average pool", (_, m) => {
    expect(maxDiff(adaptivePoolMatrix(m.input, m.output), m.weights)).toBeLessThan(1e-6);
  });

  it.each(fixture.axes.map((a) => [`size ${a.size}, m = ${a.grid}`, a] as const))("decouplingAxis(%s) is PyTorch's pool after resize on one axis", (_, a) => {
    expect(maxDiff(decouplingAxis(a.size, a.grid, 'interpolate'), a.weights)).toBeLessThan(1e-6);
  });

  it('builds the kernel as kron(rows, columns), row i*m + j, column y*w + x, and caches it per shape and mode', () => {
    const [h, w, grid] = [5, 3, 2];
    const kernel = decouplingKernel(h, w, grid, 'interpolate');
    const rows = decouplingAxis(h, grid, 'interpolate');
    const cols = decouplingAxis(w, grid, 'interpolate');
    expect(kernel).toHaveLength(grid * grid * h * w);
    for (let i = 0; i < grid; i += 1) {
      for (let j = 0; j < grid; j += 1) {
        for (let y = 0; y < h; y += 1) {
          for (let x = 0; x < w; x += 1) expect(kernel[(i * grid + j) * h * w + y * w + x]).toBeCloseTo(rows[i * h + y]! * cols[j * w + x]!, 7);
        }
      }
    }
    expect(decouplingKernel(h, w, grid, 'interpolate')).toBe(kernel);
    expect(decouplingKernel(h, w, grid, 'pool')).not.toBe(kernel);
    expect(decouplingKernel(w, h, grid, 'interpolate')).not.toBe(kernel);
    expect(decouplingKernel(h, w, 3, 'interpolate')).toHaveLength(9 * h * w);
  });

  it("holds inputs drawn from test/helpers/engine.ts's generator (the script's port of it draws the same)", () => {
    cases.forEach((c, i) => {
      const random = seeded(i + 1);
      expect(c.x).toEqual(Array.from({ length: c.x.length }, () => Math.fround(random() * 4 - 2)));
      expect(c.g).toEqual(Array.from({ length: c.g.length }, () => Math.fround(random() * 2 - 1)));
    });
  });
});

describe.each(['cpu', 'wasm'] as const)('the decoupling against PyTorch 1.13 on %s', (backend) => {
  beforeAll(() => useBackend(backend));

  it.each(cases.map((c, i) => [label(c), i] as const))('interpolate then pool equals the reference for a %s, forward and gradient (1e-5)', (_, i) => {
    const c = cases[i]!;
    expect(fixture.torch).toMatch(/^1\.13/);
    const got = ours(c, 'interpolate');
    expect(maxDiff(got.out, c.out)).toBeLessThan(1e-5);
    expect(maxDiff(got.grad, c.grad)).toBeLessThan(1e-5);
  });

  it.each(cases.map((c, i) => [label(c), i] as const))("the old 'pool' mode equals AdaptiveAvgPool2d alone for a %s (1e-5)", (_, i) => {
    expect(maxDiff(ours(cases[i]!, 'pool').out, cases[i]!.pool)).toBeLessThan(1e-5);
  });

  it('keeps no tensors', () => {
    const before = tf.memory().numTensors;
    for (let k = 0; k < 5; k += 1) ours(cases[2]!, 'interpolate');
    expect(tf.memory().numTensors).toBe(before);
  });
});

describeFixtureCheck('decouple.test.ts', 'decouple_reference.py', 'the decoupling fixture');

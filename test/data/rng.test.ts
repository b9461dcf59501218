import { describe, expect, it } from 'vitest';
import { Rng, type RngState } from '../../main/data/rng';

/** An independent sfc32 in BigInt arithmetic (one output), to check the 32-bit bit-twiddling. */
function sfc32Reference(state: RngState): { out: number; next: RngState } {
  const mask = 0xffffffffn;
  let [a, b, c, d] = state.map(BigInt) as [bigint, bigint, bigint, bigint];
  const t = (a + b + d) & mask;
  d = (d + 1n) & mask;
  a = b ^ (b >> 9n);
  b = (c + (c << 3n)) & mask;
  c = ((c << 21n) | (c >> 11n)) & mask;
  c = (c + t) & mask;
  return { out: Number(t), next: [Number(a), Number(b), Number(c), Number(d)] };
}

describe('Rng', () => {
  it('is sfc32: outputs and state updates agree with a BigInt reference', () => {
    const rng = new Rng([0x9e3779b9, 0xdeadbeef, 0x01234567, 0xfffffffe]);
    let state = rng.state();
    for (let i = 0; i < 1000; i++) {
      const expected = sfc32Reference(state);
      expect(rng.nextUint32()).toBe(expected.out);
      expect(rng.state()).toEqual(expected.next);
      state = expected.next;
    }
  });

  it('gives the same stream for the same seed and different streams for different seeds', () => {
    const draw = (seed: number): number[] => {
      const rng = new Rng(seed);
      return Array.from({ length: 20 }, () => rng.next());
    };
    expect(draw(42)).toEqual(draw(42));
    expect(draw(42)).not.toEqual(draw(43));
    expect(draw(0)).not.toEqual(draw(2 ** 32)); // the high bits of a seed count
    expect(draw(1)).not.toEqual(draw(-1));
  });

  it('state round-trips through a checkpoint (JSON) and continues the exact stream', () => {
    const rng = new Rng(7);
    for (let i = 0; i < 37; i++) rng.normal();
    const saved = JSON.parse(JSON.stringify(rng.state())) as RngState;
    const expected = [rng.next(), rng.int(1000), rng.uniform(-3, 5), rng.normal(), ...rng.permutation(16)];
    const restored = new Rng(saved);
    const actual = [
      restored.next(),
      restored.int(1000),
      restored.uniform(-3, 5),
      restored.normal(),
      ...restored.permutation(16),
    ];
    expect(actual).toEqual(expected);
    expect(restored.state()).toEqual(rng.state());
    // state() is a copy: changing it does not touch the generator
    const copy = rng.state();
    copy[0] = 123;
    expect(rng.state()[0]).not.toBe(123);
  });

  it('rejects invalid seeds and states', () => {
    expect(() => new Rng(Number.NaN)).toThrow(RangeError);
    expect(() => new Rng([1, 2, 3] as unknown as RngState)).toThrow(RangeError);
    expect(() => new Rng([1, 2, 3, 2 ** 32])).toThrow(RangeError);
    expect(() => new Rng([1, 2, 3, -1])).toThrow(RangeError);
    expect(() => new Rng([1, 2, 3.5, 4])).toThrow(RangeError);
    expect(() => new Rng(1).int(0)).toThrow(RangeError);
    expect(() => new Rng(1).int(2.5)).toThrow(RangeError);
  });

  it('next() is uniform on [0, 1)', () => {
    const rng = new Rng(1);
    const bins = new Array<number>(10).fill(0);
    let min = 1;
    let max = 0;
    const draws = 100_000;
    for (let i = 0; i < draws; i++) {
      const x = rng.next();
      min = Math.min(min, x);
      max = Math.max(max, x);
      bins[Math.floor(x * 10)]!++;
    }
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThan(1);
    // chi-square with 9 degrees of freedom: 27.9 is the 0.1% critical value
    const chi2 = bins.reduce((sum, count) => sum + (count - draws / 10) ** 2 / (draws / 10), 0);
    expect(chi2).toBeLessThan(27.9);
  });

  it('int(n) covers 0..n-1 evenly, uniform(a, b) stays in [a, b)', () => {
    const rng = new Rng(2);
    const counts = new Array<number>(7).fill(0);
    const draws = 70_000;
    for (let i = 0; i < draws; i++) counts[rng.int(7)]!++;
    const chi2 = counts.reduce((sum, count) => sum + (count - draws / 7) ** 2 / (draws / 7), 0);
    expect(chi2).toBeLessThan(22.5); // 6 d.o.f., 0.1%
    expect(new Rng(3).int(1)).toBe(0);
    for (let i = 0; i < 1000; i++) {
      const u = rng.uniform(-2, 3);
      expect(u).toBeGreaterThanOrEqual(-2);
      expect(u).toBeLessThan(3);
    }
  });

  it('normal() has mean 0 and variance 1', () => {
    const rng = new Rng(4);
    let sum = 0;
    let sumSq = 0;
    const draws = 100_000;
    for (let i = 0; i < draws; i++) {
      const x = rng.normal();
      sum += x;
      sumSq += x * x;
    }
    const mean = sum / draws;
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(Math.abs(sumSq / draws - mean * mean - 1)).toBeLessThan(0.02);
  });

  it('permutation(n) and shuffle are permutations, uniform over positions', () => {
    const rng = new Rng(5);
    const perm = rng.permutation(100);
    expect(perm).toBeInstanceOf(Int32Array);
    expect([...perm].sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect([...perm]).not.toEqual(Array.from({ length: 100 }, (_, i) => i));

    const items = ['a', 'b', 'c', 'd', 'e'];
    const shuffled = rng.shuffle(items);
    expect(shuffled).toBe(items);
    expect([...items].sort()).toEqual(['a', 'b', 'c', 'd', 'e']);

    // Where element 0 lands after shuffling 4 items: each position 1/4 of the time.
    const where = [0, 0, 0, 0];
    for (let i = 0; i < 40_000; i++) where[rng.shuffle([0, 1, 2, 3]).indexOf(0)]!++;
    for (const count of where) expect(Math.abs(count - 10_000)).toBeLessThan(400);
  });
});

/**
 * A small, seeded, serializable pseudo-random number generator for the data pipeline.
 *
 * The generator is sfc32 (Chris Doty-Humphrey's "small fast counting" generator from
 * PractRand): 128 bits of state as four 32-bit words, period at least 2^32, passes PractRand
 * and BigCrush, and is a handful of integer ops per draw. Its whole state is the four words, so
 * `state()` is all a checkpoint needs to store to resume the exact same stream (no cached
 * Box-Muller spare or other hidden state is kept anywhere).
 *
 * The reference (PyTorch) draws its augmentation parameters from `torch` / `random`; those
 * streams cannot be reproduced in JavaScript, so we match the *distributions* and the *order of
 * draws* of each transform, not the exact numbers.
 */

/** The four 32-bit words of sfc32's state (a, b, c, counter), each an unsigned integer. */
export type RngState = [number, number, number, number];

const twoPow32 = 4294967296;

/** splitmix32: spreads a seed over 32-bit words so nearby seeds give unrelated streams. */
function splitmix32(x: number): [number, number] {
  let z = (x + 0x9e3779b9) | 0;
  const next = z;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z ^= z >>> 16;
  return [z >>> 0, next];
}

function isWord(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < twoPow32;
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /**
   * A number seeds a fresh stream (any finite number; the integers of magnitude up to 2^53 are all
   * distinct seeds, fractions are truncated); an `RngState` from `state()` resumes a stream exactly where it was.
   */
  constructor(seedOrState: number | RngState) {
    if (typeof seedOrState === 'number') {
      if (!Number.isFinite(seedOrState))
        throw new RangeError(`Rng seed must be a finite number, got ${seedOrState}`);
      // The low and high 32 bits (and the sign) seed separate splitmix32 chains, and splitmix32's
      // output is a bijection of its input, so distinct integer seeds give distinct states.
      const low = seedOrState >>> 0;
      const high = Math.floor(Math.abs(seedOrState) / twoPow32) >>> 0;
      const [a, nextLow] = splitmix32(low);
      const [b] = splitmix32(nextLow);
      const [c, nextHigh] = splitmix32(high ^ (seedOrState < 0 ? 0x5bd1e995 : 0x1b873593));
      const [d] = splitmix32(nextHigh);
      this.a = a;
      this.b = b;
      this.c = c;
      this.d = d;
      // Discard the first outputs, as sfc32's author recommends, to mix the seed in fully.
      for (let i = 0; i < 12; i++) this.nextUint32();
    } else {
      if (!Array.isArray(seedOrState) || seedOrState.length !== 4 || !seedOrState.every(isWord)) {
        throw new RangeError('Rng state must be four unsigned 32-bit integers');
      }
      [this.a, this.b, this.c, this.d] = seedOrState;
    }
  }

  /** The next raw 32-bit output, unsigned. */
  nextUint32(): number {
    let a = this.a | 0;
    let b = this.b | 0;
    let c = this.c | 0;
    let d = this.d | 0;
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    this.a = a >>> 0;
    this.b = b >>> 0;
    this.c = c >>> 0;
    this.d = d >>> 0;
    return t >>> 0;
  }

  /** Uniform on [0, 1) with 32 bits of resolution (never returns 1). */
  next(): number {
    return this.nextUint32() / twoPow32;
  }

  /** Uniform integer in 0..n-1 (n a positive integer up to 2^32), without modulo bias. */
  int(n: number): number {
    if (!(n >= 1) || !Number.isInteger(n) || n > twoPow32)
      throw new RangeError(`Rng.int needs an integer n in 1..2^32, got ${n}`);
    if (n === 1) return 0;
    // Rejection sampling over the largest multiple of n below 2^32 keeps every value equally likely.
    const limit = twoPow32 - (twoPow32 % n);
    let x = this.nextUint32();
    while (x >= limit) x = this.nextUint32();
    return x % n;
  }

  /** Uniform on [a, b), like `torch.empty(1).uniform_(a, b)`. */
  uniform(a: number, b: number): number {
    return a + (b - a) * this.next();
  }

  /** Standard normal by Box-Muller (one value per two uniforms, no cached spare: the state stays 4 words). */
  normal(): number {
    const u1 = 1 - this.next(); // (0, 1]: log never sees 0
    const u2 = this.next();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** Fisher-Yates shuffle in place; returns `items`. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i]!;
      items[i] = items[j]!;
      items[j] = tmp;
    }
    return items;
  }

  /** A uniformly random permutation of 0..n-1 (like `torch.randperm(n)`). */
  permutation(n: number): Int32Array {
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = out[i]!;
      out[i] = out[j]!;
      out[j] = tmp;
    }
    return out;
  }

  /** A copy of the state; `new Rng(rng.state())` continues the same stream. */
  state(): RngState {
    return [this.a, this.b, this.c, this.d];
  }
}

import { describe, expect, it } from 'vitest';
import { adjustedRandIndex, clusterPurity, clusterScores, nmi, purity } from '../../main/common/cluster-metrics';
import { seeded } from '../helpers/random';


describe('adjustedRandIndex', () => {
  it('matches hand-computed values', () => {
    // [0,0,1,1] vs [0,0,1,2]: contingency rows {0: [2,0,0], 1: [0,1,1]}.
    // Sum over cells of C(n_ij, 2) = 1; rows: C(2,2) + C(2,2) = 2; columns (2,1,1): 1; C(4,2) = 6.
    // Expected index = 2 * 1 / 6 = 1/3, max index = (2 + 1) / 2 = 3/2,
    // ARI = (1 - 1/3) / (3/2 - 1/3) = (2/3) / (7/6) = 4/7 = 0.571428... (scikit-learn's docs: 0.57...).
    // (4/7 in float64 is 0.5714285714285714; older scikit-learn printed ...715 from another operation order.)
    expect(adjustedRandIndex([0, 0, 1, 1], [0, 0, 1, 2])).toBeCloseTo(4 / 7, 14);
    expect(adjustedRandIndex([0, 0, 1, 2], [0, 0, 1, 1])).toBeCloseTo(4 / 7, 14);

    // [0,0,0,1,1,1] vs [0,0,1,1,2,2]: cells (2,1 / 1,2): sum C = 1 + 1 = 2; rows (3,3): 3 + 3 = 6;
    // columns (2,2,2): 3; C(6,2) = 15; expected = 6 * 3 / 15 = 1.2; max = (6 + 3) / 2 = 4.5;
    // ARI = (2 - 1.2) / (4.5 - 1.2) = 0.8 / 3.3 = 8/33.
    expect(adjustedRandIndex([0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 2, 2])).toBeCloseTo(8 / 33, 14);

    // [0,0,1,1] vs [0,1,0,1]: every cell 1, sum C = 0; rows 1 + 1 = 2; columns 2; expected = 4/6;
    // max = 2; ARI = (0 - 2/3) / (2 - 2/3) = -0.5 (scikit-learn's docs: -0.5).
    expect(adjustedRandIndex([0, 0, 1, 1], [0, 1, 0, 1])).toBeCloseTo(-0.5, 14);
  });

  it('handles the degenerate cases like scikit-learn', () => {
    expect(adjustedRandIndex([], [])).toBe(1);
    expect(adjustedRandIndex([3], [7])).toBe(1);
    expect(adjustedRandIndex([0, 0, 0], [1, 1, 1])).toBe(1); // one cluster on both sides
    expect(adjustedRandIndex([0, 1, 2, 3], [3, 2, 1, 0])).toBe(1); // all singletons on both sides
    expect(adjustedRandIndex([0, 0, 0, 0], [0, 1, 2, 3])).toBe(0); // scikit-learn's docs: 0.0
    expect(adjustedRandIndex([0, 0, 1, 1], [0, 0, 1, 1])).toBe(1);
  });

  it('stays exact for large counts (no overflow in the pair products)', () => {
    const n = 200_000;
    const a = Array.from({ length: n }, (_, i) => i % 2);
    expect(adjustedRandIndex(a, a)).toBe(1);
    const random = seeded(3);
    const b = Array.from({ length: n }, () => Math.floor(random() * 2));
    expect(Math.abs(adjustedRandIndex(a, b))).toBeLessThan(0.01);
  });
});

describe('nmi', () => {
  it('matches hand-computed values', () => {
    // [0,0,1,1] vs [0,0,1,2]: H(A) = ln 2; H(B) = -(1/2 ln 1/2 + 2 * 1/4 ln 1/4) = 1.5 ln 2;
    // H(B|A) = 1/2 * 0 + 1/2 * ln 2, so MI = 1.5 ln 2 - 0.5 ln 2 = ln 2;
    // NMI = ln 2 / ((ln 2 + 1.5 ln 2) / 2) = 1 / 1.25 = 0.8 (scikit-learn prints 0.8000000000000002).
    expect(nmi([0, 0, 1, 1], [0, 0, 1, 2])).toBeCloseTo(0.8, 14);

    // [0,0,0,1,1,1] vs [0,0,1,1,2,2]: MI = 1/3 ln((1/3) / (1/2 * 1/3)) * 2 cells + 0 = (2/3) ln 2;
    // H(A) = ln 2, H(B) = ln 3; NMI = (2/3) ln 2 / ((ln 2 + ln 3) / 2) = (4/3) ln 2 / ln 6 = 0.51580...
    expect(nmi([0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 2, 2])).toBeCloseTo(((4 / 3) * Math.LN2) / Math.log(6), 14);
    expect(nmi([0, 0, 1, 1], [1, 1, 0, 0])).toBeCloseTo(1, 14);
    expect(nmi([0, 0, 1, 1], [0, 1, 0, 1])).toBe(0); // independent: MI = 0
  });

  it('handles the degenerate cases like scikit-learn', () => {
    expect(nmi([], [])).toBe(1);
    expect(nmi([0, 0, 0], [4, 4, 4])).toBe(1); // one cluster on both sides: no split, perfect match
    expect(nmi([0, 0, 0, 0], [0, 1, 2, 3])).toBe(0); // scikit-learn's docs: 0.0
    expect(nmi([0, 0, 1, 1], [0, 0, 0, 0])).toBe(0);
  });
});

describe('invariances', () => {
  const random = seeded(11);
  const a = Array.from({ length: 500 }, () => Math.floor(random() * 6));
  // b agrees with a on about 70% of the items.
  const b = a.map((label) => (random() < 0.7 ? label : Math.floor(random() * 6)));

  it('are invariant to renaming labels and symmetric', () => {
    const renamed = b.map((label) => [40, 3, 17, 8, 100, 5][label]!);
    expect(nmi(a, renamed)).toBeCloseTo(nmi(a, b), 14);
    expect(adjustedRandIndex(a, renamed)).toBeCloseTo(adjustedRandIndex(a, b), 14);
    expect(nmi(b, a)).toBeCloseTo(nmi(a, b), 14);
    expect(adjustedRandIndex(b, a)).toBeCloseTo(adjustedRandIndex(a, b), 14);
    expect(purity(a, renamed)).toBe(purity(a, b));
    expect(nmi(a, b)).toBeGreaterThan(0.3);
    expect(nmi(a, b)).toBeLessThan(1);
    expect(adjustedRandIndex(Int32Array.from(a), Int32Array.from(b))).toBe(adjustedRandIndex(a, b));
  });

  it('score only the items labelled on both sides (null, undefined, -1 and NaN are missing)', () => {
    const missing = [null, undefined, -1, NaN] as const;
    const withMissing = b.map((label, i) => (i % 5 === 0 ? missing[(i / 5) % 4]! : label));
    const kept = b.map((_, i) => i).filter((i) => i % 5 !== 0);
    const aKept = kept.map((i) => a[i]!);
    const bKept = kept.map((i) => b[i]!);
    expect(nmi(a, withMissing)).toBe(nmi(aKept, bKept));
    expect(adjustedRandIndex(withMissing, a)).toBe(adjustedRandIndex(bKept, aKept));
    expect(purity(a, withMissing)).toBe(purity(aKept, bKept));
    expect(clusterScores(a, withMissing)).toEqual({
      labelled: kept.length,
      classes: new Set(bKept).size,
      nmi: nmi(aKept, bKept),
      adjustedRandIndex: adjustedRandIndex(aKept, bKept),
      purity: purity(aKept, bKept),
    });
  });

  it('refuse label lists of different lengths', () => {
    expect(() => nmi([0, 1], [0])).toThrow(/differ in length/);
    expect(() => adjustedRandIndex([0], [0, 1])).toThrow(/differ in length/);
    expect(() => clusterPurity([0], [0, 1])).toThrow(/differ in length/);
  });
});

describe('purity', () => {
  it('reports each cluster with its majority label, and overall', () => {
    // Cluster 0: labels 5, 5, 7 -> majority 5, purity 2/3. Cluster 1: 7, 7 -> 7, purity 1.
    // Cluster 2: one unlabelled member -> no majority. Overall: (2 + 2) / 5 labelled = 0.8.
    const report = clusterPurity([0, 0, 0, 1, 1, 2], [5, 5, 7, 7, 7, null]);
    expect(report.clusters).toEqual([
      { cluster: 0, size: 3, labelled: 3, majority: 5, majorityCount: 2, purity: 2 / 3 },
      { cluster: 1, size: 2, labelled: 2, majority: 7, majorityCount: 2, purity: 1 },
      { cluster: 2, size: 1, labelled: 0, majority: null, majorityCount: 0, purity: null },
    ]);
    expect(report.overall).toBeCloseTo(0.8, 14);
    expect(report.labelled).toBe(5);
    expect(purity([0, 0, 0, 1, 1, 2], [5, 5, 7, 7, 7, null])).toBeCloseTo(0.8, 14);
  });

  it('breaks majority ties towards the smaller label, lists empty clusters on request, skips unclustered items', () => {
    const report = clusterPurity(Int32Array.from([1, 1, -1, 1]), [3, 1, 0, null], { numClusters: 3 });
    expect(report.clusters.map((c) => [c.cluster, c.size, c.majority, c.purity])).toEqual([
      [0, 0, null, null],
      [1, 3, 1, 0.5],
      [2, 0, null, null],
    ]);
  });

  it('is NaN (and clusterScores null) when nothing is labelled', () => {
    expect(purity([0, 1], [null, null])).toBeNaN();
    expect(clusterScores([0, 1], [null, -1])).toEqual({ labelled: 0, classes: 0, nmi: null, adjustedRandIndex: null, purity: null });
  });

  it('clusterScores hides the scores under a minimum of items or with one class, but still counts them', () => {
    const clusters = [0, 0, 1, 1, 2, 2];
    const labels = [4, 4, 5, 5, 6, null];
    expect(clusterScores(clusters, labels, { minImages: 6 })).toEqual({ labelled: 5, classes: 3, nmi: null, adjustedRandIndex: null, purity: null });
    const shown = clusterScores(clusters, labels, { minImages: 5 });
    expect(shown).toMatchObject({ labelled: 5, classes: 3, nmi: nmi(clusters, labels), purity: 1 });
    expect(clusterScores(clusters, [4, 4, 4, 4, null, null])).toEqual({ labelled: 4, classes: 1, nmi: null, adjustedRandIndex: null, purity: null });
  });
});

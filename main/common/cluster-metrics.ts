/**
 * Scores of a clustering against labels (issue 6, "clusters and embedding map"): normalized
 * mutual information, adjusted Rand index and purity. Pure TypeScript, shared with the renderer.
 *
 * Labels may be missing for some items: `null`, `undefined`, a negative number (-1 is the usual
 * "no label") or a non-integer (NaN) marks an item as missing, and every score is computed over
 * the items present on both sides only. Label values need not be contiguous: they are only
 * compared for equality.
 *
 * NMI and ARI follow scikit-learn's `normalized_mutual_info_score` (arithmetic-mean
 * normalization, its default) and `adjusted_rand_score`, including their degenerate cases.
 */

/** One label per item; see the module comment for what counts as missing. */
export type LabelList = ArrayLike<number | null | undefined>;

function isPresent(value: number | null | undefined): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

/** The contingency table of the items labelled on both sides. */
interface Contingency {
  /** Items counted (present on both sides). */
  n: number;
  /** Row (labelsA) totals, one per distinct value of A. */
  rows: number[];
  /** Column (labelsB) totals, one per distinct value of B. */
  cols: number[];
  /** Non-zero cells: row index, column index, count. */
  cells: { row: number; col: number; count: number }[];
}

function contingency(labelsA: LabelList, labelsB: LabelList): Contingency {
  if (labelsA.length !== labelsB.length) {
    throw new RangeError(`The two label lists differ in length (${labelsA.length} and ${labelsB.length}).`);
  }
  const rowOf = new Map<number, number>();
  const colOf = new Map<number, number>();
  const rows: number[] = [];
  const cols: number[] = [];
  const cellOf = new Map<string, number>();
  const cells: Contingency['cells'] = [];
  let n = 0;
  for (let i = 0; i < labelsA.length; i += 1) {
    const a = labelsA[i];
    const b = labelsB[i];
    if (!isPresent(a) || !isPresent(b)) continue;
    n += 1;
    let row = rowOf.get(a);
    if (row === undefined) {
      row = rows.length;
      rowOf.set(a, row);
      rows.push(0);
    }
    let col = colOf.get(b);
    if (col === undefined) {
      col = cols.length;
      colOf.set(b, col);
      cols.push(0);
    }
    rows[row]! += 1;
    cols[col]! += 1;
    const key = `${row},${col}`;
    const cell = cellOf.get(key);
    if (cell === undefined) {
      cellOf.set(key, cells.length);
      cells.push({ row, col, count: 1 });
    } else {
      cells[cell]!.count += 1;
    }
  }
  return { n, rows, cols, cells };
}

/** Shannon entropy (natural log) of a partition given by its part sizes summing to n. */
function entropy(sizes: number[], n: number): number {
  let h = 0;
  for (const size of sizes) if (size > 0) h -= (size / n) * Math.log(size / n);
  return Math.max(h, 0);
}

/**
 * Normalized mutual information, MI / ((H(A) + H(B)) / 2), in [0, 1], symmetric and invariant
 * to renaming labels. Like scikit-learn: 1 when both sides put every item in one group (or
 * there are no items), 0 when the mutual information is 0.
 */
export function nmi(labelsA: LabelList, labelsB: LabelList): number {
  const { n, rows, cols, cells } = contingency(labelsA, labelsB);
  if (rows.length === cols.length && rows.length <= 1) return 1;
  let mi = 0;
  for (const { row, col, count } of cells) {
    mi += (count / n) * Math.log((n * count) / (rows[row]! * cols[col]!));
  }
  mi = Math.max(mi, 0);
  if (mi === 0) return 0;
  const normalizer = (entropy(rows, n) + entropy(cols, n)) / 2;
  return Math.min(mi / normalizer, 1);
}

/**
 * Adjusted Rand index: the Rand index corrected for chance, 1 for identical partitions, about 0
 * for independent ones, and negative when agreement is worse than chance. Computed as
 * scikit-learn does, from the pair confusion matrix, with exact integer arithmetic (BigInt) for
 * the products so large item counts lose nothing; 1 when no pair is split differently (this
 * covers no items, one item, and identical partitions).
 */
export function adjustedRandIndex(labelsA: LabelList, labelsB: LabelList): number {
  const { n, rows, cols, cells } = contingency(labelsA, labelsB);
  const count = BigInt(n);
  let sumSquares = 0n;
  let cellsDotCols = 0n;
  let cellsDotRows = 0n;
  for (const cell of cells) {
    const c = BigInt(cell.count);
    sumSquares += c * c;
    cellsDotCols += c * BigInt(cols[cell.col]!);
    cellsDotRows += c * BigInt(rows[cell.row]!);
  }
  // Ordered pairs (i, j), i != j: together in both (tp), together in B only (fp), in A only (fn).
  const tp = sumSquares - count;
  const fp = cellsDotCols - sumSquares;
  const fn = cellsDotRows - sumSquares;
  const tn = count * count - fp - fn - sumSquares;
  if (fn === 0n && fp === 0n) return 1;
  const numerator = 2n * (tp * tn - fn * fp);
  const denominator = (tp + fn) * (fn + tn) + (tp + fp) * (fp + tn);
  return Number(numerator) / Number(denominator);
}

/** Purity of one cluster over its labelled members. */
export interface ClusterPurity {
  /** The cluster id. */
  cluster: number;
  /** Members of the cluster (labelled or not). */
  size: number;
  /** Members with a label. */
  labelled: number;
  /** The most frequent label among the labelled members (the smallest on a tie); null when none is labelled. */
  majority: number | null;
  /** Members carrying the majority label. */
  majorityCount: number;
  /** majorityCount / labelled; null when no member is labelled. */
  purity: number | null;
}

/** Purity of a clustering: overall and per cluster. */
export interface PurityReport {
  /** Share of labelled items carrying their cluster's majority label; NaN when none is labelled. */
  overall: number;
  /** Items with both a cluster and a label. */
  labelled: number;
  /** One entry per cluster, sorted by cluster id. */
  clusters: ClusterPurity[];
}

/**
 * Purity of each cluster (its size, how many members are labelled, the majority label and the
 * share of labelled members that carry it) and overall (see `purity`). Items with a missing
 * cluster (negative or null) are skipped. With `numClusters`, every cluster 0..numClusters-1
 * appears, empty ones included.
 */
export function clusterPurity(
  clusters: LabelList,
  labels: LabelList,
  options: { numClusters?: number } = {},
): PurityReport {
  if (clusters.length !== labels.length) {
    throw new RangeError(`clusters and labels differ in length (${clusters.length} and ${labels.length}).`);
  }
  const stats = new Map<number, { size: number; labelled: number; counts: Map<number, number> }>();
  const statsOf = (cluster: number) => {
    let entry = stats.get(cluster);
    if (!entry) {
      entry = { size: 0, labelled: 0, counts: new Map() };
      stats.set(cluster, entry);
    }
    return entry;
  };
  for (let c = 0; c < (options.numClusters ?? 0); c += 1) statsOf(c);
  for (let i = 0; i < clusters.length; i += 1) {
    const cluster = clusters[i];
    if (!isPresent(cluster)) continue;
    const entry = statsOf(cluster);
    entry.size += 1;
    const label = labels[i];
    if (!isPresent(label)) continue;
    entry.labelled += 1;
    entry.counts.set(label, (entry.counts.get(label) ?? 0) + 1);
  }
  let labelledTotal = 0;
  let majorityTotal = 0;
  const perCluster = [...stats.entries()]
    .sort(([a], [b]) => a - b)
    .map(([cluster, { size, labelled, counts }]) => {
      let majority: number | null = null;
      let majorityCount = 0;
      for (const [label, count] of counts) {
        if (count > majorityCount || (count === majorityCount && majority !== null && label < majority)) {
          majority = label;
          majorityCount = count;
        }
      }
      labelledTotal += labelled;
      majorityTotal += majorityCount;
      return { cluster, size, labelled, majority, majorityCount, purity: labelled ? majorityCount / labelled : null };
    });
  return { overall: labelledTotal ? majorityTotal / labelledTotal : NaN, labelled: labelledTotal, clusters: perCluster };
}

/**
 * Overall purity: the share of labelled items that carry their cluster's majority label
 * (sum of majority counts / labelled items), in (0, 1]; NaN when no item has both a cluster
 * and a label. It rewards many small clusters (k = items gives 1), so read it with NMI or ARI.
 */
export function purity(clusters: LabelList, labels: LabelList): number {
  return clusterPurity(clusters, labels).overall;
}

/**
 * The fewest images with a class that a clustering's NMI, ARI and purity may rest on in the
 * app: below it they are hidden (shown as "too few"), never shown as if they meant something.
 */
export const minScoredImages = 30;

/** The fewest images with a class inside one cluster for it to be named after its majority class. */
export const minNamedClusterImages = 5;

/** NMI, ARI and purity of a clustering against labels, over the items that have both. */
export interface ClusterScores {
  /** Items with both a cluster and a label: the scores are over these. */
  labelled: number;
  /** Distinct labels among them. */
  classes: number;
  /** Null when there are fewer than `minImages` such items or fewer than 2 labels. */
  nmi: number | null;
  adjustedRandIndex: number | null;
  purity: number | null;
}

/**
 * All three scores at once, the one way the app computes them (Clusters screen, first run, CLI).
 * They are null when fewer than `minImages` items (default 1) have both a cluster and a label, or
 * the labels name fewer than 2 classes (the scores would say nothing).
 */
export function clusterScores(clusters: LabelList, labels: LabelList, options: { minImages?: number } = {}): ClusterScores {
  let labelled = 0;
  const seen = new Set<number>();
  for (let i = 0; i < clusters.length; i += 1) {
    const label = labels[i];
    if (isPresent(clusters[i]) && isPresent(label)) {
      labelled += 1;
      seen.add(label);
    }
  }
  const classes = seen.size;
  if (!labelled || labelled < (options.minImages ?? 1) || classes < 2) {
    return { labelled, classes, nmi: null, adjustedRandIndex: null, purity: null };
  }
  return {
    labelled,
    classes,
    nmi: nmi(clusters, labels),
    adjustedRandIndex: adjustedRandIndex(clusters, labels),
    purity: purity(clusters, labels),
  };
}

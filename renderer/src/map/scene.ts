import { categoryCss, noneCss, paletteIndex, paletteRgb } from './palette';

/** Points of one colour. */
export interface Group {
  /** CSS colour. */
  color: string;
  /** Point indices of this colour. */
  ids: Int32Array;
}

/** What the Canvas 2D map draws, in draw order. */
export interface Scene {
  /** Base points: 'none' first, so categorised points are drawn over the grey ones. */
  base: Group[];
  /** Highlighted points, on top. */
  top: Group[];
}

/**
 * The points of `indices` (all `count` points when undefined) grouped by palette colour, 'none' first;
 * `colors[i]` is point i's category value (-1 none). Indices out of range are left out.
 */
export function groupsOf(count: number, colors: Int32Array, indices: Int32Array | undefined): Group[] {
  const n = count;
  const all = indices === undefined;
  const slots = new Int32Array(paletteRgb.length / 3 + 1);
  const slotOf = (i: number): number => paletteIndex(i < colors.length ? colors[i]! : -1) + 1;
  const m = all ? n : indices.length;
  const at = (j: number): number => (all ? j : indices[j]!);
  for (let j = 0; j < m; j++) {
    const i = at(j);
    if (i >= 0 && i < n) slots[slotOf(i)]! += 1;
  }
  const lists = Array.from(slots, (c) => new Int32Array(c));
  const fill = new Int32Array(slots.length);
  for (let j = 0; j < m; j++) {
    const i = at(j);
    if (i < 0 || i >= n) continue;
    const s = slotOf(i);
    lists[s]![fill[s]!++] = i;
  }
  return lists.flatMap((ids, s) =>
    ids.length ? [{ color: s === 0 ? noneCss : categoryCss(s - 1), ids }] : [],
  );
}

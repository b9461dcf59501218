import { categoryCss, noneCss, paletteIndex, paletteRgb } from './palette';

/** Points of one colour, drawn together. */
export interface ColorGroup {
  /** CSS colour. */
  color: string;
  /** Point indices of this colour. */
  ids: Int32Array;
}

/**
 * The points to draw grouped by colour, 'none' (grey) first so coloured points are drawn over
 * it: one group per palette colour, or one per category when the categories bring their own
 * colours (`own`, e.g. the classes' colours). `indices` picks some points; all of the first
 * `count` points when left out.
 */
export function colorGroups(
  colors: Int32Array,
  count: number,
  own: readonly string[] | undefined,
  indices?: Int32Array,
): ColorGroup[] {
  const slots = new Int32Array(own ? own.length + 1 : paletteRgb.length / 3 + 1);
  const slotOf = (i: number): number => {
    const k = i < colors.length ? colors[i]! : -1;
    if (own) return Number.isInteger(k) && k >= 0 && k < own.length ? k + 1 : 0;
    return paletteIndex(k) + 1;
  };
  const m = indices ? indices.length : count;
  const at = (j: number): number => (indices ? indices[j]! : j);
  for (let j = 0; j < m; j++) {
    const i = at(j);
    if (i >= 0 && i < count) slots[slotOf(i)]! += 1;
  }
  const lists = Array.from(slots, (c) => new Int32Array(c));
  const fill = new Int32Array(slots.length);
  for (let j = 0; j < m; j++) {
    const i = at(j);
    if (i < 0 || i >= count) continue;
    const s = slotOf(i);
    lists[s]![fill[s]!++] = i;
  }
  return lists.flatMap((ids, s) =>
    ids.length ? [{ color: s === 0 ? noneCss : (own?.[s - 1] ?? categoryCss(s - 1)), ids }] : [],
  );
}

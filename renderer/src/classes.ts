import type { ClassInfo } from '../../main/common/library';
import { categoryCss } from './map/palette';

/**
 * How a label class looks and is reached, the same on every screen (Label, Fine-tune, the map):
 * its colour and its number key.
 */

/** The colour of a class everywhere: its own, or the automatic palette colour of its id. */
export function classColor(entry: Pick<ClassInfo, 'id' | 'color'> | undefined): string {
  if (!entry) return categoryCss(-1);
  return entry.color ?? categoryCss(entry.id - 1);
}

/** The class that a number key (1-9) labels with, if any: the key is stored with the class. */
export function classOfKey<T extends Pick<ClassInfo, 'key'>>(classes: readonly T[], key: number): T | undefined {
  return classes.find((entry) => entry.key === key);
}

/** The classes that have a number key, in key order. */
export function keyedClasses<T extends Pick<ClassInfo, 'key'>>(classes: readonly T[]): T[] {
  return classes.filter((entry) => entry.key !== null).sort((a, b) => a.key! - b.key!);
}

import type { MonitorSet } from '../engine/jigclu/monitor';

/**
 * The kNN monitor's labelled subset of a run's images: images with a class (`labelOf`: the
 * pretraining service passes reference classes, class subfolders before labels) in classes with at least 2 images, at least 2 classes; per
 * class 20% (at least 1) held out as queries, the rest the bank; at most `limit` images, drawn
 * evenly per class with a PRNG seeded by the run's seed.
 */
export function monitorSet(files: { id: number; path: string }[], labelOf: Map<number, number>, seed: number, limit = 1000): MonitorSet | undefined {
  const byClass = new Map<number, { id: number; path: string }[]>();
  for (const file of files) {
    const classId = labelOf.get(file.id);
    if (classId === undefined) continue;
    const list = byClass.get(classId) ?? [];
    list.push(file);
    byClass.set(classId, list);
  }
  const classes = [...byClass.entries()].filter(([, list]) => list.length >= 2).sort(([a], [b]) => a - b);
  if (classes.length < 2) return undefined;
  const perClass = Math.max(2, Math.floor(limit / classes.length));
  const set: MonitorSet = { files: [], labels: [], query: [], classes: classes.length };
  let state = (seed ^ 0x9e3779b9) >>> 0;
  const random = () => {
    state = (Math.imul(state ^ (state >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return state / 2 ** 32;
  };
  classes.forEach(([, list], label) => {
    const shuffled = [...list];
    for (let i = shuffled.length - 1; i > 0; i -= 1) {
      const j = Math.floor(random() * (i + 1));
      [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
    }
    const chosen = shuffled.slice(0, perClass);
    const queries = Math.max(1, Math.round(chosen.length * 0.2));
    chosen.forEach((file, index) => {
      set.files.push(file.path);
      set.labels.push(label);
      set.query.push(index < queries);
    });
  });
  return set;
}
